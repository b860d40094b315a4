"""Tiny, randomly initialised diffusers pipelines, built entirely offline, for tests that drive the real backends.

Each `build_tiny_*` constructs every component in code (no Hugging Face hub access: the tokenizers are built with the
`tokenizers` library from a small in-file vocabulary, the text encoders from tiny `transformers` configs), saves the
pipeline with `save_pretrained(folder)` and returns the folder, which `DiffusionPipeline.from_pretrained(folder)` loads
back with HF_HUB_OFFLINE=1. Weights are random but deterministic (`torch.manual_seed`); a call at the sizes in
`TINY_SETTINGS` takes about 0.1-0.5 s on a CPU (2 steps).

    reference_image          Flux2KleinPipeline       text-to-image, takes reference images (`image=[PIL, ...]`)
    plain_image              ZImagePipeline           text-to-image, no reference images
    image_to_video           WanImageToVideoPipeline  Wan2.2-TI2V-5B style (expand_timesteps, 48-channel VAE), 4k+1 frames
    ltx_image_to_video       LTXImageToVideoPipeline  8k+1 frames

`tiny_pipeline_dir(kind, root)` builds one once per root (for session-scoped fixtures).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, Unigram

# What a product preset needs to drive each tiny pipeline (tools/presets.py GenerationOptions fields). Sizes are the
# smallest ~9:16 ones each model accepts: width and height are multiples of `multiple` (VAE factor x patch size).
TINY_SETTINGS: dict[str, dict] = {
    "reference_image": {"width": 32, "height": 64, "multiple": 16, "steps": 2, "guidance": 1.0, "dtype": "float32",
                        "max_batch": 4},
    "plain_image": {"width": 32, "height": 64, "multiple": 16, "steps": 2, "guidance": 0.0, "dtype": "float32",
                    "max_batch": 4},
    "image_to_video": {"width": 32, "height": 64, "multiple": 32, "steps": 2, "guidance": 1.0, "dtype": "float32",
                       "max_batch": 1, "num_frames": 9, "fps": 8, "frame_step": 4, "max_frames": 9},
    "ltx_image_to_video": {"width": 32, "height": 64, "multiple": 32, "steps": 2, "guidance": 1.0,
                           "dtype": "float32", "max_batch": 1, "num_frames": 9, "fps": 8, "frame_step": 8,
                           "max_frames": 9},
}

# A few hundred words a drama prompt is made of: the Qwen-style BPE merges are trained on them, and they are the
# T5-style vocabulary's whole-word pieces.
_WORDS = """
a an the and or but of in on at to from with without by for as is are was were be been being it its this that these
those there here he she they we you i me him her them his hers their our your my who whom whose which what when where
why how not no yes all some any each every one two three first last next new old young little big small tall short
long wide close far near up down left right inside outside over under behind front back side top bottom middle
man woman girl boy child mother father son daughter sister brother wife husband family friend stranger nurse doctor
patient billionaire boss secretary driver police detective lawyer judge chef waiter maid guard villain hero heir
face eyes hair hand hands arm shoulder smile tears frown mouth lips head body dress suit coat shirt jacket tie ring
phone letter photo knife gun glass wine cup table chair bed door window car street road city night day morning
evening rain snow light dark shadow sun moon sky hospital office room kitchen hall stairs garden party wedding
funeral restaurant hotel bar club airport station rooftop bridge river sea beach forest house mansion apartment
looks stares walks runs stands sits turns holds opens closes cries laughs shouts whispers kisses hugs slaps falls
waits leaves enters reveals discovers hides finds loses wins signs reads writes calls answers drinks eats sleeps
angry sad happy shocked scared calm cold warm bright soft hard quiet loud rich poor beautiful handsome elegant
shot close-up medium wide angle camera lens cinematic lighting vertical portrait frame scene background foreground
realistic detailed sharp blurry film still photo style color red blue green black white gold silver grey pink
"""
_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()/&%$#@*+=_"

# The Qwen chat template the Flux2-Klein and Z-Image pipelines apply (they pass enable_thinking=False / True).
_QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
# transformers' Qwen2 pre-tokenizer split (so a reload that rebuilds the backend from vocab/merges matches it)
_QWEN_SPLIT = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
               r"""\s*[\r\n]+|\s+(?!\S)|\s+""")


def _qwen_tokenizer():
    """A byte-level BPE tokenizer shaped like Qwen2's (same split and byte-level steps), its merges trained on the word
    list above (deterministic), plus the chat special tokens."""
    from transformers import Qwen2TokenizerFast

    backend = Tokenizer(BPE(vocab={}, merges=[], dropout=None, unk_token=None, continuing_subword_prefix="",
                            end_of_word_suffix="", fuse_unk=False, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1024, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator([" ".join(_WORDS.split())], trainer)
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in _QWEN_SPECIALS])
    tokenizer = Qwen2TokenizerFast(tokenizer_object=backend, unk_token=None, bos_token=None,
                                   eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=512)
    tokenizer.chat_template = _QWEN_CHAT_TEMPLATE
    return tokenizer


def _t5_tokenizer(model_max_length: int = 512):
    """A SentencePiece-style (Unigram + Metaspace) tokenizer shaped like T5's, from the words and characters above."""
    from transformers import T5TokenizerFast

    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    seen = {p for p, _ in pieces}
    for word in dict.fromkeys(_WORDS.split()):
        if f"\u2581{word}" not in seen:
            pieces.append((f"\u2581{word}", -5.0 - 0.01 * len(pieces)))
            seen.add(f"\u2581{word}")
    for char in _CHARS:
        for piece in (char, f"\u2581{char}"):
            if piece not in seen:
                pieces.append((piece, -10.0 - 0.01 * len(pieces)))
                seen.add(piece)
    backend = Tokenizer(Unigram(pieces, unk_id=2, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)])
    backend.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    backend.post_processor = processors.TemplateProcessing(single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"],
                                                           special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=backend, eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
                           extra_ids=0, additional_special_tokens=[], model_max_length=model_max_length)


def _vocab_size(tokenizer) -> int:
    """The embedding rows a text encoder needs for this tokenizer, rounded up to a multiple of 64."""
    return (len(tokenizer) + 63) // 64 * 64


def _qwen3_config(vocab_size: int, layers: int):
    from transformers import Qwen3Config

    return Qwen3Config(vocab_size=vocab_size, hidden_size=16, intermediate_size=32, num_hidden_layers=layers,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=1024,
                       tie_word_embeddings=True, rope_theta=10000.0)


def _save(pipe, folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder)
    return folder


def build_tiny_reference_image(folder: Path) -> Path:
    """Flux2KleinPipeline (text-to-image with reference images), Qwen3 text encoder, 16-pixel multiple."""
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3ForCausalLM

    tokenizer = _qwen_tokenizer()
    torch.manual_seed(0)
    # the pipeline stacks hidden states 9, 18 and 27 by default: the encoder needs at least 27 layers
    text_encoder = Qwen3ForCausalLM(_qwen3_config(_vocab_size(tokenizer), layers=27)).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLFlux2(in_channels=3, out_channels=3, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
                             latent_channels=4, norm_num_groups=4, sample_size=64, use_quant_conv=False,
                             use_post_quant_conv=False, mid_block_add_attention=False)
    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
                                          attention_head_dim=16, num_attention_heads=2, joint_attention_dim=3 * 16,
                                          timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4),
                                          guidance_embeds=False)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True)
    pipe = Flux2KleinPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                              transformer=transformer, is_distilled=True)
    return _save(pipe, folder)


def build_tiny_plain_image(folder: Path) -> Path:
    """ZImagePipeline (text-to-image, no reference images), Qwen3 text encoder, 16-pixel multiple."""
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImagePipeline, ZImageTransformer2DModel
    from transformers import Qwen3Model

    tokenizer = _qwen_tokenizer()
    torch.manual_seed(0)
    text_encoder = Qwen3Model(_qwen3_config(_vocab_size(tokenizer), layers=2)).eval()
    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
                        latent_channels=4, norm_num_groups=4, sample_size=64, scaling_factor=0.3611,
                        shift_factor=0.1159, mid_block_add_attention=False)
    torch.manual_seed(0)
    transformer = ZImageTransformer2DModel(all_patch_size=(2,), all_f_patch_size=(1,), in_channels=4, dim=32,
                                           n_layers=1, n_refiner_layers=1, n_heads=2, n_kv_heads=2, norm_eps=1e-5,
                                           qk_norm=True, cap_feat_dim=16, rope_theta=256.0, t_scale=1000.0,
                                           axes_dims=[8, 4, 4], axes_lens=[1024, 64, 64])
    with torch.no_grad():  # these two are created with torch.empty: give them defined values
        transformer.x_pad_token.fill_(1.0)
        transformer.cap_pad_token.fill_(1.0)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    pipe = ZImagePipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                          transformer=transformer)
    return _save(pipe, folder)


def build_tiny_image_to_video(folder: Path) -> Path:
    """WanImageToVideoPipeline in the Wan2.2-TI2V-5B layout: 48-channel VAE (16x spatial, 4x temporal), no image
    encoder, expand_timesteps=True, UMT5 text encoder. Frames 4k+1, width/height multiples of 32."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = _t5_tokenizer()
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=_vocab_size(tokenizer), d_model=32, d_kv=8, d_ff=32,
                                               num_layers=2, num_heads=4, relative_attention_num_buckets=8,
                                               relative_attention_max_distance=32, feed_forward_proj="gated-gelu",
                                               tie_word_embeddings=False)).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=4, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
                           dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True],
                           latents_mean=[0.0] * 48, latents_std=[1.0] * 48, scale_factor_spatial=16,
                           scale_factor_temporal=4)
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=48, out_channels=48, text_dim=32, freq_dim=32, ffn_dim=32,
                                        num_layers=1, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                                        rope_max_seq_len=64)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0)
    pipe = WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                                   transformer=transformer, image_encoder=None, image_processor=None,
                                   transformer_2=None, boundary_ratio=None, expand_timesteps=True)
    return _save(pipe, folder)


def build_tiny_ltx_image_to_video(folder: Path) -> Path:
    """LTXImageToVideoPipeline: T5 text encoder, VAE with 32x spatial (4x4 patches, three 2x scalings) and 8x
    temporal compression. Frames 8k+1, width/height multiples of 32."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer = _t5_tokenizer(model_max_length=128)
    torch.manual_seed(0)
    text_encoder = T5EncoderModel(T5Config(vocab_size=_vocab_size(tokenizer), d_model=32, d_kv=8, d_ff=32,
                                           num_layers=2, num_heads=4, relative_attention_num_buckets=8,
                                           relative_attention_max_distance=32, feed_forward_proj="gated-gelu",
                                           tie_word_embeddings=False)).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
                                decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
                                decoder_layers_per_block=(1, 1, 1, 1, 1),
                                spatio_temporal_scaling=(True, True, True, False),
                                decoder_spatio_temporal_scaling=(True, True, True, False),
                                decoder_inject_noise=(False, False, False, False, False),
                                upsample_residual=(False, False, False, False), upsample_factor=(1, 1, 1, 1),
                                timestep_conditioning=False, patch_size=4, patch_size_t=1, encoder_causal=True,
                                decoder_causal=False)
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(in_channels=8, out_channels=8, patch_size=1, patch_size_t=1,
                                             num_attention_heads=2, attention_head_dim=8, cross_attention_dim=16,
                                             num_layers=1, caption_channels=32)
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True)
    pipe = LTXImageToVideoPipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   transformer=transformer)
    return _save(pipe, folder)


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "reference_image": build_tiny_reference_image,
    "plain_image": build_tiny_plain_image,
    "image_to_video": build_tiny_image_to_video,
    "ltx_image_to_video": build_tiny_ltx_image_to_video,
}


def tiny_pipeline_dir(kind: str, root: Path) -> Path:
    """root/kind holding the tiny pipeline of that kind, built on first use (a saved folder is reused as is)."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown tiny pipeline {kind!r}; known: {', '.join(BUILDERS)}")
    folder = Path(root) / kind
    if (folder / "model_index.json").is_file():
        return folder
    return BUILDERS[kind](folder)
