"""``/v1/actors``: cases by actor (issue #13): the ranked actor queue, one actor, its verdict.

An actor case gathers the flagged dossiers one actor explains (an account, a
device, a phone, a payment token, an officer, a unit in a month); a dossier
no actor explains is an actor case of its own (kind ``dossier``). Every role
reads; reviewers and admins record verdicts. A view and a verdict are audited
in the same transaction as what they record; an actor verdict once, with its
counts (its dossiers' verdicts are the labels).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from service.cases import audit
from service.cases.actors import (
    MAX_PAGE,
    MAX_PER_PAGE,
    ActorFilter,
    actor_detail,
    actor_queue,
    assign_actor,
    record_actor_verdict,
)
from service.cases.models import ACTOR_KINDS, CASE_STATUSES
from service.cases.queue import CaseError
from service.deps import CasesDep, Reader, Writer, case_error, client_ip
from service.review_schemas import (
    ActorAssignmentOut,
    ActorOut,
    ActorPageOut,
    ActorVerdictIn,
    ActorVerdictOut,
    AssignIn,
)
from service.routes.cases import _READ_ERRORS, _WRITE_ERRORS, _blank_is_none
from service.schemas import ErrorOut

router = APIRouter(prefix="/v1/actors", tags=["actors"])
ActorId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the actor case's id")]


def actor_filter(
    status: Annotated[
        str | None, Query(max_length=16, description=", ".join(CASE_STATUSES))
    ] = None,
    kind: Annotated[str | None, Query(max_length=16, description=", ".join(ACTOR_KINDS))] = None,
    unit_id: Annotated[
        str | None, Query(max_length=64, description="actors with a dossier at this unit")
    ] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> ActorFilter:
    """The actor queue's filter from the query string; 422 naming the parameter when unusable."""
    f = ActorFilter(
        status=_blank_is_none(status),
        kind=_blank_is_none(kind),
        unit_id=_blank_is_none(unit_id),
        page=page,
        per_page=per_page,
    )
    try:
        f.validate()
    except CaseError as exc:
        raise case_error(exc, "query") from exc
    return f


@router.get(
    "",
    response_model=ActorPageOut,
    summary="The actor queue: cases by actor, by expected misuse found per review",
    responses=_READ_ERRORS,
)
def list_actors(who: Reader, f: Annotated[ActorFilter, Depends(actor_filter)],
                store: CasesDep) -> dict[str, Any]:  # fmt: skip
    """Highest priority first: the misuse probabilities of the dossiers not yet reviewed,
    summed, plus a quarter of the sum of p(1-p) (what a verdict would teach)."""
    with store.session() as s:
        return actor_queue(s, f)


@router.get(
    "/{actor_id}",
    response_model=ActorOut,
    summary="One actor case: the actor, its dossiers and why each was flagged, the graph",
    responses={**_READ_ERRORS, 404: {"model": ErrorOut, "description": "no such actor case"}},
)
def get_actor(
    who: Reader, actor_id: ActorId, request: Request, response: Response, store: CasesDep
) -> dict[str, Any]:
    """Audited as ``actor_view``. Personal values stay masked: the label, the graph's
    pseudonyms; a viewer also sees the accounts, devices and officers numbered."""
    with store.session() as s:
        try:
            detail = actor_detail(s, actor_id, viewer=not who.may("reveal"))
        except CaseError as exc:
            raise case_error(exc, "query") from exc
        audit.record(s, who, "actor_view", detail={"actor_id": actor_id}, ip=client_ip(request))
    response.headers["Cache-Control"] = "no-store"
    return detail


@router.post(
    "/{actor_id}/verdicts",
    status_code=201,
    response_model=ActorVerdictOut,
    summary="Record a verdict on an actor: on each open dossier, exceptions apart",
    responses={**_WRITE_ERRORS, 404: {"model": ErrorOut, "description": "no such actor case"}},
)
def add_actor_verdict(
    who: Writer, actor_id: ActorId, body: ActorVerdictIn, request: Request, store: CasesDep
) -> dict[str, Any]:
    """Each open dossier case gets the decision and type; each exception its own. One
    ``actor_verdict`` audit entry holds the decision, type and counts (not the note)."""
    exceptions = {e.case_id: (e.decision, e.proxy_type) for e in body.exceptions}
    with store.session() as s:
        try:
            done = record_actor_verdict(
                s, actor_id, who, body.decision, body.proxy_type, body.note, exceptions
            )
        except CaseError as exc:
            raise case_error(exc, "body") from exc
        audit.record(s, who, "actor_verdict", detail=actor_audit(done), ip=client_ip(request))
    return asdict(done)


@router.post(
    "/{actor_id}/assignment",
    response_model=ActorAssignmentOut,
    summary="Assign an actor case (and its open dossiers) to a reviewer or admin, or unassign",
    responses={**_WRITE_ERRORS, 404: {"model": ErrorOut, "description": "no such actor case"}},
)
def set_actor_assignment(
    who: Writer, actor_id: ActorId, body: AssignIn, request: Request, store: CasesDep
) -> dict[str, Any]:
    """Audited once as ``assign``, with the actor and how many dossier cases it carried."""
    with store.session() as s:
        try:
            done = assign_actor(s, actor_id, who, body.assignee)
        except CaseError as exc:
            raise case_error(exc, "body") from exc
        audit.record(s, who, "assign", detail={"actor_id": actor_id, "assignee": body.assignee,
                                              "cases": done["cases"]}, ip=client_ip(request))  # fmt: skip
    return done


def actor_audit(done: Any) -> dict[str, Any]:
    """An actor verdict's audit detail: what was decided and on how many dossiers."""
    return {
        "actor_id": done.actor_id,
        "decision": done.decision,
        "proxy_type": done.proxy_type,
        "applied": done.applied,
        "exceptions": done.exceptions,
        "verdict_ids": [v["id"] for v in done.verdicts],
    }
