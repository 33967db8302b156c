"""``POST /v1/admin/reload``: new reference tables (and model) without dropping requests."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, HTTPException

from detector.artifacts import ModelError
from features.errors import DetectorError
from service.deps import Admin, EngineDep
from service.schemas import ErrorOut, ReloadIn, ReloadOut, ValidationErrorOut

router = APIRouter(prefix="/v1/admin", tags=["admin"])
log = logging.getLogger(__name__)
_lock = asyncio.Lock()


@router.post(
    "/reload",
    response_model=ReloadOut,
    summary="Reload the data folder and, if asked, a new model",
    responses={
        401: {"model": ErrorOut, "description": "no or unknown API key"},
        403: {"model": ErrorOut, "description": "only an admin key may reload"},
        409: {
            "model": ErrorOut,
            "description": "a reload is already running, or the new model or data cannot be "
            "used (the loaded state keeps answering)",
        },
        413: {"model": ErrorOut, "description": "request body too large"},
        422: {"model": ValidationErrorOut, "description": "the body is not a ReloadIn"},
    },
)
async def reload(body: ReloadIn, engine: EngineDep, caller: Admin) -> dict[str, Any]:
    """Builds the new state aside while the old one answers, then swaps it in."""
    if _lock.locked():
        raise HTTPException(status_code=409, detail="a reload is already running; try again later")
    async with _lock:
        log.info("reload asked by key %s (model: %s)", caller.key_id, body.model)
        try:
            scorer, last, started = await asyncio.to_thread(engine.prepare_reload, body.model)
        except (ModelError, DetectorError, OSError) as exc:
            raise HTTPException(
                status_code=409,
                detail=f"reload refused, the loaded state keeps answering: {exc}",
            ) from exc
        answer = engine.finish_reload(scorer, last, started)
        engine.announce_reload(body.model)  # the other workers follow within seconds
        return answer
