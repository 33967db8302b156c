"""``/v1/audit``: the append-only audit log, newest first (admins only).

Who viewed, revealed, decided, assigned, exported, logged in or failed to,
when and from where. ``detail`` names fields and filters, never a personal
value. Reading the log is not itself audited (only admins can).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from service.cases import audit as audit_log
from service.deps import AdminUser, CasesDep
from service.review_schemas import AuditPageOut
from service.schemas import ErrorOut, ValidationErrorOut

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "",
    response_model=AuditPageOut,
    summary="The audit log, newest first, filtered (admins)",
    responses={
        401: {"model": ErrorOut, "description": "not logged in"},
        403: {"model": ErrorOut, "description": "only admins read the audit log"},
        422: {"model": ValidationErrorOut, "description": "a parameter is unusable"},
    },
)
def read_audit(
    who: AdminUser,
    store: CasesDep,
    action: Annotated[
        str | None, Query(max_length=32, description=", ".join(audit_log.ACTIONS))
    ] = None,
    case_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    username: Annotated[str | None, Query(max_length=64)] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="older than this entry")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """One page of entries; ``next_before_id`` continues with older ones (null: no more)."""
    if action and action not in audit_log.ACTIONS:
        problem = {
            "loc": ["query", "action"],
            "msg": f"expected one of {', '.join(audit_log.ACTIONS)}, found {action!r}",
            "type": "value_error",
        }
        raise HTTPException(status_code=422, detail=[problem])
    with store.session() as s:
        rows = audit_log.entries(
            s,
            action=action or None,
            case_id=case_id,
            username=username or None,
            limit=limit,
            before_id=before_id,
        )
        items = [audit_log.as_json(e) for e in rows]
    return {"items": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}
