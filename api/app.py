"""The FastAPI service: `dramafactory serve`. Series runs execute in the background on the same graph as the CLI;
their state lives in one database (SQLite by default, PostgreSQL when configured), so a restarted service picks up
its runs and waiting reviews again. Health, the OpenAPI document and the web pages are public; everything else
takes an API key (DRAMAFACTORY_API_KEYS) and sees only its tenant's runs."""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from dramafactory.config import Settings

from .deps import parse_api_keys
from .models import Problem
from .routes import artifacts, reviews, series
from .service import ContextFactory, RunService, default_context
from .store import open_store

# Errors any operation may answer before its own code runs. The JSON body is spelled out (not `model=`), because
# FastAPI would declare a model's body in the route's own media type, text/event-stream for the event stream.
_PROBLEM = {"content": {"application/json": {"schema": Problem.model_json_schema()}}}
AUTH_ERRORS = {401: {**_PROBLEM, "description": "No API key (Authorization: Bearer KEY)."},
               403: {**_PROBLEM, "description": "The API key is not valid."},
               400: {**_PROBLEM, "description": "The body is not JSON."},
               413: {**_PROBLEM, "description": "The body is larger than the service accepts."}}
MAX_BODY = 1_000_000  # a bible edit is ~20 kB; anything far larger is refused with 413 before it is parsed


def create_app(settings: Settings | None = None, *, context_factory: ContextFactory = default_context,
               recover: bool = True) -> FastAPI:
    settings = settings or Settings()
    api_keys = parse_api_keys(settings.api_keys)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        data_dir = Path(settings.data_dir).resolve()  # run folders are stored by absolute path
        store = open_store(settings.database_url, data_dir, workers=settings.api_workers)
        service = RunService(store, settings, data_dir, workers=settings.api_workers,
                             context_factory=context_factory)
        app.state.service = service
        if recover:
            service.recover()
        try:
            yield
        finally:
            service.close(wait=True)
            store.close()

    app = FastAPI(title="dramafactory", version="0.1.0", lifespan=lifespan, max_body_size=MAX_BODY,
                  description="Produce vertical micro-drama series from a concept; watch progress; review the "
                              "bible, scripts and flagged shots at checkpoints. Authenticate with "
                              "`Authorization: Bearer KEY`.")
    app.state.api_keys = api_keys
    for router in (series.router, artifacts.router, reviews.router):
        app.include_router(router, responses=AUTH_ERRORS)

    @app.get("/health", tags=["service"], summary="Liveness and the database in use (public)")
    def health() -> dict:
        service: RunService | None = getattr(app.state, "service", None)
        return {"status": "ok" if service else "starting",
                "database": "postgresql" if (settings.database_url or "").startswith("postgres") else "sqlite",
                "auth": bool(api_keys)}

    app.mount("/ui", StaticFiles(directory=str(files("dramafactory.api") / "static"), html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/ui/")

    return app
