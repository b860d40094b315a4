"""The factory's concepts: read from a folder or one file, each validated as `produce --concept` validates it, each
with a stable slug that names its run folder. A bad concept becomes an entry with its source (file and line) and
the reason, so the others still run.

Accepted input:
- a folder: every *.yaml / *.yml file (one concept mapping, as `produce --concept` reads, or a list as below) and
  every *.txt file (one logline per line), in name order;
- a YAML file: a concept mapping; a list of concept mappings or loglines; or a mapping whose `concepts` key holds
  that list (the golden set's layout, evals/golden/concepts.yaml). A list item may carry `id`: its slug;
- any other file: one logline per line (blank lines and lines starting with `#` are skipped).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dramafactory.config import Settings
from dramafactory.errors import DramaError
from dramafactory.schemas import SeriesConcept, validated_concept

# A single concept file is held to produce's limit; a list of thousands of loglines may be larger.
MAX_CONCEPT_FILE_BYTES = 64_000
MAX_LIST_FILE_BYTES = 8_000_000
YAML_SUFFIXES = (".yaml", ".yml")
SLUG_WORDS = 5


@dataclass
class ConceptEntry:
    source: str  # where it came from: "concepts.yaml:3", "loglines.txt:12", "revenge.yaml"
    slug: str  # its run folder under the factory's --out
    concept: SeriesConcept | None = None
    error: str | None = None  # why it cannot run (then concept is None)

    @property
    def ok(self) -> bool:
        return self.concept is not None


def slugify(text: str, limit: int = 48) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:limit].strip("-") or "series"


def concept_slug(logline: str) -> str:
    """The first words of the logline (readable) and a hash of all of it (two loglines that start alike differ;
    the same logline gets the same folder however the list is reordered)."""
    digest = hashlib.sha1(" ".join(logline.split()).encode()).hexdigest()[:6]
    return f"{slugify(' '.join(logline.split()[:SLUG_WORDS]), 40)}-{digest}"


def validate_concept(data: Any, overrides: dict, settings: Settings) -> SeriesConcept:
    """The checks `dramafactory produce` makes (schema, then the language the text backend can write), with the
    same wording; raises DramaError."""
    from dramafactory.graphs.backends import check_language

    if isinstance(data, str):
        data = {"logline": data}
    if not isinstance(data, dict):
        raise DramaError(f"a concept must be a mapping or a logline, not {type(data).__name__}",
                         "write fields like `logline: ...`, or the logline as a string")
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    if "logline" not in data:
        raise DramaError("the concept has no logline", "add `logline: ...` (one or two sentences)")
    concept = validated_concept(data)
    check_language(concept.language, settings)
    return concept


def _entry(source: str, data: Any, slug: str | None, overrides: dict, settings: Settings) -> ConceptEntry:
    try:
        concept = validate_concept(data, overrides, settings)
    except DramaError as exc:
        return ConceptEntry(source, slug or "", error=f"{exc.cause} (fix: {exc.fix})")
    return ConceptEntry(source, slug or concept_slug(concept.logline), concept=concept)


def _read(path: Path, limit: int) -> str:
    size = path.stat().st_size
    if size > limit:
        raise DramaError(f"{path} is {size} bytes; the limit is {limit}", "split the concepts over several files")
    return path.read_text(encoding="utf-8", errors="replace")


def _text_entries(path: Path, overrides: dict, settings: Settings) -> list[ConceptEntry]:
    out = []
    for number, line in enumerate(_read(path, MAX_LIST_FILE_BYTES).splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(_entry(f"{path}:{number}", line.strip(), None, overrides, settings))
    return out


def _yaml_entries(path: Path, overrides: dict, settings: Settings, single_slug: str | None) -> list[ConceptEntry]:
    """`single_slug`: the slug a file holding one concept mapping gets (its file name, in a folder)."""
    text = _read(path, MAX_LIST_FILE_BYTES)
    loader = yaml.SafeLoader(text)
    try:  # compose first: the nodes keep their line numbers, which the loaded values do not
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        return [ConceptEntry(where, "", error=f"not valid YAML: {getattr(exc, 'problem', None) or exc} "
                                              "(fix: correct the YAML syntax there)")]
    finally:
        loader.dispose()
    if isinstance(data, dict) and isinstance(data.get("concepts"), list):
        root = next(v for k, v in root.value if getattr(k, "value", None) == "concepts")
        data = data["concepts"]
    if isinstance(data, dict):
        if path.stat().st_size > MAX_CONCEPT_FILE_BYTES:  # one concept: produce's own limit
            return [ConceptEntry(str(path), "", error=f"concept file is {path.stat().st_size} bytes; the limit is "
                                                      f"{MAX_CONCEPT_FILE_BYTES} (fix: keep the concept to a "
                                                      "logline and a few fields)")]
        slug = data.pop("id", None) or single_slug
        data.pop("labels", None)  # the golden set's hand labels (evals/golden.py): for evals, not a concept field
        return [_entry(str(path), data, slugify(str(slug)) if slug else None, overrides, settings)]
    if not isinstance(data, list):
        return [ConceptEntry(str(path), "", error="not a concept mapping nor a list of concepts (fix: write "
                                                  "`logline: ...`, or a list of loglines or mappings)")]
    out = []
    for item, node in zip(data, root.value, strict=True):
        slug = item.pop("id", None) if isinstance(item, dict) else None
        if isinstance(item, dict):
            item.pop("labels", None)  # the golden set's hand labels (evals/golden.py): for evals, not a concept field
        out.append(_entry(f"{path}:{node.start_mark.line + 1}", item, slugify(str(slug)) if slug else None,
                          overrides, settings))
    return out


def _file_entries(path: Path, overrides: dict, settings: Settings, in_folder: bool) -> list[ConceptEntry]:
    try:
        if path.suffix.lower() in YAML_SUFFIXES:
            return _yaml_entries(path, overrides, settings, slugify(path.stem) if in_folder else None)
        return _text_entries(path, overrides, settings)
    except (OSError, DramaError) as exc:
        reason = f"{exc.cause} (fix: {exc.fix})" if isinstance(exc, DramaError) else f"cannot read it: {exc}"
        return [ConceptEntry(str(path), "", error=reason)]


def load_concepts(path: Path, settings: Settings, overrides: dict | None = None) -> list[ConceptEntry]:
    """Every concept under `path` (a folder or a file), good and bad, in a stable order. `overrides` (episodes,
    seconds_per_episode, ...) replace the concepts' own fields, as produce's options do. Raises DramaError only
    when `path` itself is unusable (missing, or a folder with no concept files)."""
    overrides = overrides or {}
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (*YAML_SUFFIXES, ".txt"))
        if not files:
            raise DramaError(f"{path} holds no concept files", "put *.yaml concept files or *.txt files of "
                                                               "loglines (one per line) in it")
        entries = [e for f in files for e in _file_entries(f, overrides, settings, in_folder=True)]
    elif path.is_file():
        entries = _file_entries(path, overrides, settings, in_folder=False)
    else:
        raise DramaError(f"{path} not found", "give a folder of concept files or one concepts file")
    return _unique(entries)


def _unique(entries: list[ConceptEntry]) -> list[ConceptEntry]:
    """One run folder per slug. The same concept twice would make the same series twice (same seed): the second
    is reported instead of run. Two different concepts sharing a slug (two files both with `id: x`) are kept apart
    with a numbered suffix, in input order."""
    seen: dict[str, ConceptEntry] = {}
    by_concept: dict[str, ConceptEntry] = {}
    for entry in entries:
        if not entry.ok:
            continue
        key = json.dumps(entry.concept.model_dump(mode="json"), sort_keys=True)
        if key in by_concept:
            entry.error = (f"the same concept as {by_concept[key].source} (fix: remove one; the same concept and "
                           "seed make the same series)")
            entry.concept = None
            continue
        by_concept[key] = entry
        base, n = entry.slug, 2
        while entry.slug in seen:
            entry.slug = f"{base}-{n}"
            n += 1
        seen[entry.slug] = entry
    return entries
