"""Liveness, readiness and metrics (no key needed: they carry no personal data)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response

from service import metrics
from service.engine import Engine
from service.review_schemas import ReadyOut
from service.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="The model and the history are loaded (or: the workbench only, no scoring)",
    responses={503: {"model": ReadyOut, "description": "still loading"}},
)
async def readyz(request: Request, response: Response) -> dict[str, object]:
    """Ready when the engine has loaded; a workbench-only app is ready at once (``scoring: false``)."""
    engine: Engine | None = request.app.state.engine
    cases = request.app.state.cases.engine.dialect.name
    if not request.app.state.scoring:
        return {"status": "ready", "scoring": False, "cases": cases, "worker": os.getpid()}
    if engine is None:  # not yet built (the lifespan handler builds it before serving)
        state: dict[str, object] = {"status": "loading", "worker": os.getpid()}
    else:
        state = engine.readiness()
    state = {**state, "scoring": True, "cases": cases}
    if state["status"] != "ready":
        response.status_code = 503
    return state


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
