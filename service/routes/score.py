"""``POST /v1/score`` and ``POST /v1/score/batch``: scores at submission time."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from service.deps import EngineDep, Scorer, authorize
from service.engine import Engine, Unscorable
from service.schemas import BatchIn, BatchOut, DossierIn, ErrorOut, ScoreOut, ValidationErrorOut

router = APIRouter(prefix="/v1", tags=["scoring"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or unknown API key"},
    403: {"model": ErrorOut, "description": "the key's role may not score"},
    413: {"model": ErrorOut, "description": "request body too large"},
}


def unscorable_error(exc: Unscorable, prefix: tuple[str | int, ...] = ("body",)) -> dict[str, Any]:
    return {"loc": [*prefix, exc.field], "msg": str(exc), "type": "value_error"}


def _score(engine: Engine, body: dict[str, Any]) -> dict[str, Any]:
    return engine.score(body)


@router.post(
    "/score",
    response_model=ScoreOut,
    response_model_exclude_none=False,
    summary="Score one dossier at submission time",
    responses={
        **_ERRORS,
        422: {"model": ValidationErrorOut, "description": "unscorable: field-level errors"},
    },
    openapi_extra={
        "security": [{"APIKeyHeader": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DossierIn"}}},
        },
    },
)
async def score(request: Request) -> Any:
    """Risk, predicted proxy_type, flag and reasons for one dossier.

    The dossier joins the history. Sent again (same ``dossier_id``), it gets the
    same answer and is not counted twice. If scoring fails inside, the answer
    is ``status: unscored`` with a reason, so the portal proceeds.
    """
    # the hot path resolves no dependency: each costs tens of microseconds per request
    authorize(request, request.headers.get("x-api-key"), "score")
    engine: Engine = request.app.state.engine
    # the body is validated here rather than by FastAPI's body dependency: pydantic's JSON
    # parser in one call costs a fraction of it (the schema is still documented, see app.py)
    try:
        dossier = DossierIn.model_validate_json(await request.body())
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return JSONResponse(status_code=422, content={"detail": errors})
    try:
        answer = _score(engine, dossier.model_dump())
    except Unscorable as exc:
        return JSONResponse(status_code=422, content={"detail": [unscorable_error(exc)]})
    # the answer is built to ScoreOut's shape (the schemathesis test holds it to it), so it is
    # written as is: validating it again would cost as much as scoring
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post(
    "/score/batch",
    response_model=BatchOut,
    summary="Score up to 1,000 dossiers, answered in order",
    responses=_ERRORS,
)
async def score_batch(batch: BatchIn, engine: EngineDep, _: Scorer) -> dict[str, Any]:
    """Each dossier is answered in its place; an unusable one is ``invalid`` with field errors."""
    results: list[dict[str, Any]] = []
    for i, item in enumerate(batch.dossiers):
        if i and i % 50 == 0:
            await asyncio.sleep(0)  # let single-dossier requests through a long batch
        try:
            dossier = DossierIn.model_validate(item)
            answer = _score(engine, dossier.model_dump())
        except ValidationError as exc:
            errors = [
                {"loc": ["dossiers", i, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
            results.append({"index": i, "status": "invalid", "errors": errors})
            continue
        except Unscorable as exc:
            errors = [unscorable_error(exc, ("dossiers", i))]
            results.append({"index": i, "status": "invalid", "errors": errors})
            continue
        results.append({"index": i, "status": answer["status"], "answer": answer})
    return {"results": results}
