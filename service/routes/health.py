"""Liveness, readiness and metrics (no key needed: they carry no personal data)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from service import metrics
from service.deps import EngineDep
from service.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    summary="The model and the history are loaded",
    responses={503: {"model": Ready, "description": "still loading"}},
)
async def readyz(engine: EngineDep, response: Response) -> dict[str, object]:
    state = engine.readiness()
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
