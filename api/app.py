"""The FastAPI service: `dramafactory serve`. Series runs execute in the background on the same graph as the CLI;
their state lives in one database (SQLite by default, PostgreSQL when configured), so a restarted service picks up
its runs and waiting reviews again. Health, the OpenAPI document and the web pages are public; everything else
takes an API key (DRAMAFACTORY_API_KEYS) and sees only its tenant's runs."""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException, status
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dramafactory.config import Settings

from . import metrics
from .deps import parse_api_keys
from .models import problem
from .routes import artifacts, plan, reviews, series
from .service import ContextFactory, RunService, default_context
from .store import open_store

# Errors any operation may answer before its own code runs (the event stream declares them as JSON itself).
AUTH_ERRORS = {401: problem("No API key (Authorization: Bearer KEY)."),
               403: problem("The API key is not valid."),
               400: problem("The body is not JSON."),
               413: problem("The body is larger than the service accepts.")}
MAX_BODY = 1_000_000  # a bible edit is ~20 kB; anything far larger is refused with 413 before it is parsed
TOO_LARGE = f"the body is larger than {MAX_BODY} bytes"


def operation_id(route: APIRoute) -> str:
    """The route function's name (create_series, get_artifact, ...): what a generated client calls its methods.
    FastAPI's default appends the path and method (create_series_series_post)."""
    return route.name


class BodyLimit:
    """Refuses a body over `limit` bytes with a Problem (413): declared too large by Content-Length before the app
    runs, or found too large while a route reads it. FastAPI's own max_body_size answers the first case in plain
    text whatever the app's handlers say, so the limit is kept here instead."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"detail": TOO_LARGE}, status.HTTP_413_CONTENT_TOO_LARGE)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:  # raised inside the route, so the app's handler answers the Problem
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, TOO_LARGE)
            return message

        await self.app(scope, limited, send)


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

    app = FastAPI(title="dramafactory", version="0.1.0", lifespan=lifespan, generate_unique_id_function=operation_id,
                  description="Produce vertical micro-drama series from a concept; watch progress; review the "
                              "bible, scripts and flagged shots at checkpoints. Authenticate with "
                              "`Authorization: Bearer KEY`.")
    app.state.api_keys = api_keys
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    for router in (series.router, artifacts.router, reviews.router, plan.router, metrics.router):
        app.include_router(router, responses=AUTH_ERRORS)
    metrics.install_metrics(app)  # GET /metrics (Prometheus) on the app's own registry

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
