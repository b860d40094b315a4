"""The prompt-adherence scorer, on a tiny randomly initialised CLIP built in a temp folder (nothing downloaded)."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from dramafactory.agents.qc.scorers.clip_adherence import ClipAdherence  # noqa: E402

PROMPT = "a nurse at night in a hospital corridor, close up, rain on the window behind her"


def _write_tokenizer_files(folder: Path) -> None:
    # CLIP's BPE vocabulary: every letter alone and as a word end ("a</w>"), two merges, and the special tokens
    # (ids 0 and 1, matching bos/eos in the text config below).
    tokens = ["<|startoftext|>", "<|endoftext|>", *string.ascii_lowercase,
              *(f"{c}</w>" for c in string.ascii_lowercase), ",", ",</w>", "th", "the</w>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\nt h\nth e</w>\n")


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_clip")
    tiny = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
    config = transformers.CLIPConfig(
        # eos_token_id: CLIP pools the text at the first eos; the default (49407) is not in this vocabulary, and
        # the text embedding would then ignore the prompt.
        text_config=dict(tiny, vocab_size=1000, max_position_embeddings=24, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(tiny, image_size=30, patch_size=2), projection_dim=16)
    torch.manual_seed(0)
    transformers.CLIPModel(config).save_pretrained(folder)
    tokenizer_dir = tmp_path_factory.mktemp("tiny_clip_tokenizer")
    _write_tokenizer_files(tokenizer_dir)
    # from_pretrained, not CLIPTokenizer(vocab_file=...): transformers 5 ignores those keywords and builds an empty
    # vocabulary in which every word is <|endoftext|>.
    tokenizer = transformers.CLIPTokenizer.from_pretrained(tokenizer_dir)
    assert tokenizer.convert_ids_to_tokens(tokenizer("the nurse")["input_ids"])[1] == "the</w>"
    image_processor = transformers.CLIPImageProcessor(size={"shortest_edge": 30},
                                                      crop_size={"height": 30, "width": 30})
    transformers.CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def _noise(seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(64, 36, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_score_is_a_deterministic_cosine_and_follows_the_threshold(tiny_clip: Path) -> None:
    lenient = ClipAdherence(tiny_clip, threshold=-1.0)
    first = lenient.score(_noise(1), PROMPT)
    assert isinstance(first.score, float) and -1.0 <= first.score <= 1.0
    assert first.scorer == "clip_adherence" and first.judged
    assert first.passed and first.reason == ""
    assert lenient.score(_noise(1), PROMPT).score == first.score

    strict = ClipAdherence(tiny_clip, threshold=1.01).score(_noise(1), PROMPT)
    assert strict.score == first.score and strict.judged
    assert not strict.passed
    assert PROMPT[:80] in strict.reason and "does not match its prompt" in strict.reason


def test_a_long_prompt_is_truncated_to_the_model_text_length(tiny_clip: Path) -> None:
    result = ClipAdherence(tiny_clip, threshold=-1.0).score(_noise(1), " ".join([PROMPT] * 20))
    assert result.judged and result.passed


def test_different_images_score_differently(tiny_clip: Path) -> None:
    scorer = ClipAdherence(tiny_clip, threshold=0.0)
    scores = {scorer.score(image, PROMPT).score for image in (_noise(1), _noise(2), Image.new("RGB", (36, 64)))}
    assert len(scores) == 3


def test_different_prompts_score_differently(tiny_clip: Path) -> None:
    scorer = ClipAdherence(tiny_clip, threshold=0.0)
    assert scorer.score(_noise(1), PROMPT).score != scorer.score(_noise(1), "the empty street at dawn").score


def test_a_missing_model_folder_cannot_judge(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-clip"
    result = ClipAdherence(missing, threshold=-1.0).score(_noise(1), PROMPT)
    assert result.judged is False and result.passed is False
    assert str(missing) in result.reason and "DRAMAFACTORY_QC_CLIP_MODEL_PATH" in result.reason


def test_a_corrupt_model_folder_cannot_judge_and_is_not_reloaded(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_text("{ not json")
    scorer = ClipAdherence(tmp_path, threshold=-1.0)
    first = scorer.score(_noise(1), PROMPT)
    assert first.judged is False and first.passed is False

    loads: list[int] = []
    monkeypatch.setattr(scorer, "_load", lambda: loads.append(1))
    second = scorer.score(_noise(2), PROMPT)
    assert second.judged is False and second.reason == first.reason and not loads
