"""Where things go in the run folder (the output contract), written atomically so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel


def episode_dir(run_dir: Path, episode: int) -> Path:
    return run_dir / "episodes" / f"{episode:02d}"


def write_json(path: Path, value: BaseModel | dict | list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = value.model_dump_json(indent=2) if isinstance(value, BaseModel) else json.dumps(value, indent=2)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
