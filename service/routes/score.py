"""``POST /v1/score`` and ``POST /v1/score/batch``: scores at submission time.

Both answer through :mod:`service.scoring_route`, as its fast path does: one
key check, one body limit, one error mapping.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.deps import EngineDep, Scorer
from service.schemas import BatchIn, BatchOut, ScoreOut
from service.scoring_route import RESPONSES, answer_score, batch_item

router = APIRouter(prefix="/v1", tags=["scoring"])


@router.post(
    "/score",
    response_model=ScoreOut,
    response_model_exclude_none=False,
    summary="Score one dossier at submission time",
    responses=RESPONSES,
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
    # the body is read and validated by answer_score rather than by FastAPI's body dependency
    # (pydantic's JSON parser in one call costs a fraction of it; the schema is documented, see
    # app.py); the answer is built to ScoreOut's shape (the schemathesis test holds it to it),
    # so it is written as is: validating it again would cost as much as scoring
    status, body, headers = await answer_score(request.scope, request.receive, request.app.state)
    extra = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
    return Response(orjson.dumps(body), status, extra, media_type="application/json")


@router.post(
    "/score/batch",
    response_model=BatchOut,
    summary="Score up to 1,000 dossiers, answered in order",
    # an unexpected error here is Starlette's plain-text 500, and 503 is /v1/score's alone
    responses={k: v for k, v in RESPONSES.items() if k not in (500, 503)},
)
async def score_batch(batch: BatchIn, engine: EngineDep, _: Scorer) -> dict[str, Any]:
    """Each dossier is answered in its place; an unusable one is ``invalid`` with field errors."""
    results: list[dict[str, Any]] = []
    for i, item in enumerate(batch.dossiers):
        if i and i % 50 == 0:
            await asyncio.sleep(0)  # let single-dossier requests through a long batch
        results.append(batch_item(engine, i, item))
    return {"results": results}
