"""The FastAPI application: the scoring API (issue #4) and the inspection workbench (#5).

``create_app(settings)`` builds the app. With a data and a model folder, the
model, reference tables and history load once in the lifespan handler
(``GET /readyz`` says when) and reach the scoring routes through
:mod:`service.deps`; a background task turns the flagged answers into cases.
Without them the app serves the workbench only, and the scoring endpoints
answer 503. The case store (users, cases, verdicts, audit log) is opened and
migrated when the app is built. Request bodies are bounded before they are
read (413), every request is counted and timed for ``GET /metrics``, and
errors answer JSON that says what was expected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import metrics
from service.auth import KEY_ROUTES, ASGIApp, KeyRing, Message, Receive, Scope, Send
from service.cases.db import CaseStore
from service.cases.feeder import CaseFeeder, feed_round
from service.engine import Engine
from service.routes import actors as actor_routes
from service.routes import admin, audit, health, score, session, units
from service.routes import cases as case_routes
from service.schemas import DossierIn, ErrorOut
from service.scoring_route import BodyLimit, FastScore, KeyGate, error_entries
from service.settings import Settings
from service.web import pages

log = logging.getLogger(__name__)


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
            # a request the key gate refused never reached the router: its path is the route
            endpoint = getattr(route, "path", None) or (
                scope["path"] if scope["path"] in KEY_ROUTES else "unmatched"
            )
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


async def _feed_cases(feeder: CaseFeeder, every: float) -> None:
    """Turn flagged API answers into cases now, then every ``every`` seconds (in a thread)."""
    while True:
        await asyncio.to_thread(feed_round, feeder)
        await asyncio.sleep(every)


#: the answer of the scoring endpoints when the app serves the workbench only
SCORING_OFF = "scoring is not configured: start with --data and --model"


def _scoring_unconfigured() -> APIRouter:
    """The scoring endpoints of a workbench-only app: each answers 503, saying why.

    Mounted instead of the real ones, so the scoring hot path carries no check.
    """
    router = APIRouter(tags=["scoring"])

    async def unconfigured() -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": SCORING_OFF})

    for path, summary in (
        ("/v1/score", "Score one dossier at submission time"),
        ("/v1/score/batch", "Score up to 1,000 dossiers, answered in order"),
        ("/v1/admin/reload", "Reload the data folder and, if asked, a new model"),
    ):
        router.add_api_route(
            path,
            unconfigured,
            methods=["POST"],
            summary=f"{summary} (not configured here)",
            description="This server runs the workbench only: started without --data and --model.",
            responses={503: {"model": ErrorOut, "description": SCORING_OFF}},
        )
    return router


_TAGS = [
    {"name": "scoring", "description": "Scores at submission time (API key)."},
    {"name": "admin", "description": "Operations (admin API key)."},
    {"name": "session", "description": "Workbench log in and out (session cookie)."},
    {"name": "cases", "description": "The review queue, cases, verdicts, assignments, export."},
    {"name": "units", "description": "Units and their dashboards."},
    {"name": "audit", "description": "The append-only audit log (admins)."},
    {"name": "health", "description": "Liveness, readiness, metrics."},
]


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    cases: CaseStore | None = None,
    *,
    fast_path: bool = True,
) -> FastAPI:
    """The application.

    Parameters
    ----------
    settings
        The configuration; read from the environment when None.
    engine
        A scoring engine already loaded (tests); else it loads at start-up when
        the settings name a data and a model folder.
    cases
        A case store to use (tests); else one is opened on ``settings.database()``
        and migrated here, before any worker serves.
    fast_path
        Answer ``POST /v1/score`` before FastAPI's layers (:class:`FastScore`);
        False leaves it to the documented route, which answers the same
        (tests compare the two).

    Raises
    ------
    ValueError
        When scoring is configured but no API key is, a key entry is
        malformed, or (in production) the state secret is missing (the
        message says which).
    """
    settings = settings or Settings()
    scoring = engine is not None or settings.scoring_enabled
    keys = KeyRing.from_settings(settings.api_keys, settings.api_keys_file)
    if scoring and not len(keys):
        raise ValueError(
            "no API key configured: set DETECTOR_API_KEYS=key:portal,key2:admin "
            "(or DETECTOR_API_KEYS_FILE); `detector api-key` makes one"
        )
    # the feeder pseudonymises evidence with it: refuse a placeholder now, not in a worker
    secret = settings.secret() if scoring else b""
    own_store = cases is None
    store = cases if cases is not None else CaseStore(settings.database())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if scoring:
            if app.state.engine is None:
                eng = Engine(settings)
                app.state.engine = eng
                await asyncio.to_thread(eng.start)
            tasks.append(asyncio.create_task(_follow_reloads(app.state.engine)))
            if settings.feed_in_app:
                feeder = CaseFeeder(store, app.state.engine.log_store, secret)
                tasks.append(asyncio.create_task(_feed_cases(feeder, settings.feed_seconds)))
        yield
        for task in tasks:
            task.cancel()
        if own_store:
            store.dispose()

    app = FastAPI(
        title="Detector scoring API and workbench",
        version="1",
        summary="Scores e-government dossiers for account misuse and officer proxy filings "
        "at submission time; the inspection team reviews the flagged ones.",
        description="Advisory only: the score never blocks a submission. Scoring calls need "
        "an API key in `X-API-Key`; workbench calls a session (`POST /v1/session`) and, "
        "for every change, its CSRF token in `X-CSRF-Token`.",
        openapi_tags=_TAGS,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.scoring = scoring
    app.state.keys = keys
    app.state.cases = store
    app.state.login_throttle = session.LoginThrottle()

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, plus the dossier body that /v1/score validates itself."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["DossierIn"] = DossierIn.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.settings = settings
    if scoring:
        app.include_router(score.router)
        app.include_router(admin.router)
    else:
        app.include_router(_scoring_unconfigured())
    app.include_router(health.router)
    app.include_router(session.router)
    app.include_router(case_routes.router)
    app.include_router(actor_routes.router)
    app.include_router(units.router)
    app.include_router(audit.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")

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
        return JSONResponse(status_code=422, content={"detail": error_entries(exc.errors())})

    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, batch_limit=settings.max_batch_body_bytes
    )
    app.add_middleware(KeyGate, state=app.state)  # before the body limit: no key, no reading
    app.add_middleware(Measure)
    if scoring and fast_path:  # POST /v1/score before FastAPI's own layers (service.scoring_route)
        build = app.build_middleware_stack
        app.build_middleware_stack = lambda: FastScore(build(), app.state)  # type: ignore[method-assign]
    return app
