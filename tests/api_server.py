"""A test-only API server with fake backends, run as a child process so a test can kill it mid-run (kill -9):
python -m tests.api_server DATA_DIR PORT [DATABASE_URL]."""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from dramafactory.api.app import create_app

from .api_support import api_settings, fake_factory

if __name__ == "__main__":
    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    extra = {"database_url": sys.argv[3]} if len(sys.argv) > 3 else {}
    app = create_app(api_settings(data_dir, **extra), context_factory=fake_factory(delay=0.5))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
