"""/series/{id}/artifacts: a run's files (bible, scripts, shot lists, takes, QC reports, MP4/SRT, contact sheets).

Only files inside the run's own folder are served: the path is resolved (symlinks included) and must stay inside
it, and the service's internals (checkpoints, memory, lock) are never listed or served. Videos are served with
range requests (Starlette's FileResponse answers Range with 206), so a browser can seek."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from ..deps import StoreDep, Tenant
from ..models import Artifact
from .series import NOT_FOUND, owned_run

router = APIRouter(prefix="/series", tags=["artifacts"])
HIDDEN_DIRS = {"memory"}
HIDDEN_FILES = {".lock", "state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "state.sqlite-journal",
                "coordination.sqlite", "coordination.sqlite-wal", "coordination.sqlite-shm", "coordination.sqlite-journal"}
TYPES = {".srt": "application/x-subrip", ".jsonl": "application/x-ndjson", ".json": "application/json",
         ".mp4": "video/mp4", ".wav": "audio/wav", ".png": "image/png", ".jpg": "image/jpeg", ".html": "text/html",
         ".yaml": "application/yaml", ".txt": "text/plain"}


def content_type(path: Path) -> str:
    return TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def locate(root: Path, path: str) -> Path | None:
    """The served file at `path` inside `root`, or None: outside the run's folder (.., an absolute path, a symlink
    out), hidden, not a file, or a path the filesystem refuses. Every step that touches the filesystem is inside the
    guard: a name too long (ENAMETOOLONG), a symlink loop (ELOOP, a RuntimeError from pathlib), a NUL (ValueError)
    are each 'no such artifact', never a 500."""
    try:
        target = (root / path).resolve()
        relative = target.relative_to(root)
        if target.is_file() and _visible(relative):
            return target
    except (ValueError, OSError, RuntimeError):
        pass
    return None


def _visible(relative: Path) -> bool:
    parts = relative.parts
    return bool(parts) and parts[0] not in HIDDEN_DIRS and relative.name not in HIDDEN_FILES and \
        not any(p.startswith(".") for p in parts)


@router.get("/{run_id}/artifacts", response_model=list[Artifact], responses=NOT_FOUND,
            summary="The run's files so far")
def list_artifacts(run_id: str, tenant: Tenant, store: StoreDep) -> list[Artifact]:
    root = Path(owned_run(store, run_id, tenant)["run_dir"])
    out = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and not path.is_symlink() and _visible(relative):
            out.append(Artifact(path=relative.as_posix(), bytes=path.stat().st_size, content_type=content_type(path)))
    return out


@router.get("/{run_id}/artifacts/{path:path}", response_class=FileResponse,
            responses={**NOT_FOUND, 206: {"description": "Partial content (Range requests)."}},
            summary="One file of the run (Range requests supported)")
def get_artifact(run_id: str, path: str, tenant: Tenant, store: StoreDep) -> FileResponse:
    root = Path(owned_run(store, run_id, tenant)["run_dir"]).resolve()
    target = locate(root, path)
    if target is None:  # the detail quotes a bounded part of the path: it may be thousands of characters
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no artifact {path[:200]!r}")
    return FileResponse(target, media_type=content_type(target), filename=None)
