"""The FastAPI application: scoring API (issue #4), later the inspection workbench.

``create_app(settings)`` builds the app; the model, reference tables and
history load once in the lifespan handler (``GET /readyz`` says when), and
reach the routes through :mod:`service.deps`. Request bodies are bounded
before they are read (413), every request is counted and timed for
``GET /metrics``, and errors answer JSON that says what was expected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import metrics
from service.auth import KeyRing
from service.engine import Engine
from service.routes import admin, health, score
from service.schemas import DossierIn
from service.settings import Settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse request bodies over a limit with 413, before reading them whole (pure ASGI).

    The batch endpoint gets its own, larger limit. A declared Content-Length
    over the limit is refused at once; a chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, limit: int, batch_limit: int) -> None:
        self.app, self.limit, self.batch_limit = app, limit, batch_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.batch_limit if scope["path"].endswith("/batch") else self.limit
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _too_large(send, limit, int(value))
                return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(seen)
            return message

        try:
            await self.app(scope, bounded, send)
        except _TooLarge as exc:
            await _too_large(send, limit, exc.size)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


async def _too_large(send: Send, limit: int, size: int) -> None:
    body = (
        f'{{"detail":"request body too large: at most {limit} bytes, found {size} or more"}}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Measure:
    """Count and time every request for ``GET /metrics`` (pure ASGI: cheap on the hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            metrics.LATENCY.labels(endpoint).observe(time.perf_counter() - started)
            metrics.REQUESTS.labels(endpoint, scope["method"], str(status)).inc()


async def _follow_reloads(engine: Engine, every: float = 2.0) -> None:
    """With a shared (Redis) history, reload when another worker announced a reload."""
    if engine.settings.store != "redis":
        return
    while True:
        await asyncio.sleep(every)
        try:
            model = await asyncio.to_thread(engine.reload_wanted)
            if model is None:
                continue
            log.info("reload announced by another worker (model: %s)", model)
            scorer, last, started = await asyncio.to_thread(engine.prepare_reload, model)
            engine.finish_reload(scorer, last, started)
        except Exception as exc:  # keep serving with what is loaded; try again next time
            log.error("following a reload failed (%s); still serving the loaded state", exc)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The application. ``engine`` may be given ready (tests); else it loads at start-up.

    Raises
    ------
    ValueError
        When no API key is configured or a key entry is malformed (the message says which).
    """
    settings = settings or Settings()
    keys = KeyRing.from_settings(settings.api_keys, settings.api_keys_file)
    if not len(keys):
        raise ValueError(
            "no API key configured: set DETECTOR_API_KEYS=key:portal,key2:admin "
            "(or DETECTOR_API_KEYS_FILE); `detector api-key` makes one"
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.engine is None:
            eng = Engine(settings)
            app.state.engine = eng
            await asyncio.to_thread(eng.start)
        watcher = asyncio.create_task(_follow_reloads(app.state.engine))
        yield
        watcher.cancel()

    app = FastAPI(
        title="Detector scoring API",
        version="1",
        summary="Scores e-government dossiers for account misuse and officer proxy filings at submission time.",
        description="Advisory only: the score never blocks a submission. "
        "Every call needs an API key in `X-API-Key`.",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.keys = keys

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, plus the dossier body that /v1/score validates itself."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["DossierIn"] = DossierIn.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.settings = settings
    app.include_router(score.router)
    app.include_router(admin.router)
    app.include_router(health.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not decode the body: not JSON text at all
            problem = {
                "loc": ["body"],
                "msg": "expected a JSON object in UTF-8",
                "type": "json_invalid",
            }
            return JSONResponse(status_code=422, content={"detail": [problem]})
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, batch_limit=settings.max_batch_body_bytes
    )
    app.add_middleware(Measure)
    return app
