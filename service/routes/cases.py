"""``/v1/cases``: the review queue, its CSV export, one case, verdicts and assignments.

Every role reads; reviewers and admins write (verdicts, assignments) and may
reveal personal fields. A case view, each reveal, a verdict, an assignment
and an export are audited in the same transaction as what they record, so
neither commits without the other. The routes are plain ``def``: FastAPI
runs them in its thread pool, off the event loop the scoring API answers on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from features.contract import PROXY_TYPES
from service.cases import audit
from service.cases.db import CaseStore
from service.cases.models import CASE_STATUSES
from service.cases.queue import (
    MAX_PAGE,
    MAX_PER_PAGE,
    PERSONAL_FIELDS,
    SORT_KEYS,
    CaseError,
    QueueFilter,
    assign,
    case_detail,
    export_rows,
    queue,
    record_verdict,
)
from service.deps import CasesDep, Reader, Writer, case_error, client_ip, refuse
from service.review_schemas import (
    AssignIn,
    AssignmentOut,
    CaseOut,
    QueuePageOut,
    VerdictIn,
    VerdictOut,
)
from service.schemas import ErrorOut, ValidationErrorOut

router = APIRouter(prefix="/v1/cases", tags=["cases"])
# every route names its user first: FastAPI resolves dependencies in order, so a caller
# without a session gets 401 before any parameter of theirs is looked at

_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not logged in"},
    422: {"model": ValidationErrorOut, "description": "a parameter is unusable (loc names it)"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_READ_ERRORS,
    403: {"model": ErrorOut, "description": "a viewer may not write; or the CSRF token is wrong"},
    404: {"model": ErrorOut, "description": "no such case"},
    413: {"model": ErrorOut, "description": "request body too large"},
}
CaseId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the case's id")]
#: the export's columns, in order: a queue item's, none of them personal
EXPORT_COLUMNS = (
    "id",
    "dossier_id",
    "unit_id",
    "month",
    "submitted_at",
    "channel",
    "risk_score",
    "proxy_type",
    "status",
    "verdict_type",
    "assignee",
    "reasons",
    "data_gaps",
    "chosen_by",
)
_SORTS = ", ".join(SORT_KEYS)


def _blank_is_none(value: str | None) -> str | None:
    """An empty parameter (``?unit_id=``, as an HTML form sends it) means no filter."""
    return value if value is None or value.strip() else None


def queue_filter(
    unit_id: Annotated[str | None, Query(max_length=64)] = None,
    month: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None,
    proxy_type: Annotated[
        str | None, Query(max_length=32, description=f"predicted type: {', '.join(PROXY_TYPES)}")
    ] = None,
    status: Annotated[
        str | None, Query(max_length=16, description=", ".join(CASE_STATUSES))
    ] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    assignee: Annotated[
        str | None, Query(max_length=64, description="a username, or 'none' for unassigned")
    ] = None,
    sort: Annotated[
        str, Query(max_length=32, description=f"{_SORTS}; prefix '-' for descending")
    ] = "-priority",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> QueueFilter:
    """The queue's filter from the query string; 422 naming the parameter when unusable."""
    f = QueueFilter(
        unit_id=_blank_is_none(unit_id),
        month=_blank_is_none(month),
        proxy_type=_blank_is_none(proxy_type),
        status=_blank_is_none(status),
        min_score=min_score,
        max_score=max_score,
        assignee=_blank_is_none(assignee),
        sort=sort,
        page=page,
        per_page=per_page,
    )
    try:
        f.validate()
    except CaseError as exc:
        raise case_error(exc, "query") from exc
    return f


Filter = Annotated[QueueFilter, Depends(queue_filter)]


@router.get(
    "",
    response_model=QueuePageOut,
    summary="The review queue: filtered, sorted, one page",
    responses=_READ_ERRORS,
)
def list_cases(who: Reader, f: Filter, store: CasesDep) -> dict[str, Any]:
    """Cases matching the filters in the queue's order unless ``sort`` says otherwise.

    The queue's order (``-priority``) is by risk, with the cases drawn to
    teach the model (``chosen_by: exploration``) spread evenly through it.
    """
    with store.session() as s:
        page = queue(s, f)
    return asdict(page)


def _cell(value: Any) -> str:
    """One CSV cell: lists joined with ';', and text that a spreadsheet would run as a
    formula (starting with =, +, -, @, tab or CR) prefixed with a quote (OWASP advice)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _csv(store: CaseStore, f: QueueFilter, chunk: int = 500) -> Iterator[str]:
    """The export's text, a header and then rows, in chunks of ``chunk`` rows.

    A plain generator: Starlette iterates it in its thread pool, so the
    database is read off the event loop, one chunk at a time.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    with store.session() as s:
        for n, row in enumerate(export_rows(s, f), 1):
            writer.writerow([_cell(row[c]) for c in EXPORT_COLUMNS])
            if n % chunk == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue()


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    summary="Every case matching the filters, as CSV (no personal data)",
    responses={
        **_READ_ERRORS,
        200: {"content": {"text/csv": {}}, "description": "the columns of a queue item"},
    },
)
def export_cases(who: Reader, f: Filter, request: Request, store: CasesDep) -> StreamingResponse:
    """The filtered queue, all pages, streamed; the export is audited with its filter.

    The CSV holds a queue item's columns only (ids, unit, month, score, type,
    status, assignee, reason codes), so it carries no citizen's data.
    """
    wanted = {k: v for k, v in asdict(f).items() if k not in ("page", "per_page")}
    with store.session() as s:
        rows = queue(s, replace(f, page=1, per_page=1)).total
        audit.record(
            s, who, "export", detail={"filter": wanted, "rows": rows}, ip=client_ip(request)
        )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        _csv(store, f),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="cases-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/{case_id}",
    response_model=CaseOut,
    summary="One case: scores, reasons, the dossier (masked), evidence, verdicts",
    responses={
        **_READ_ERRORS,
        403: {"model": ErrorOut, "description": "a viewer may not reveal personal fields"},
        404: {"model": ErrorOut, "description": "no such case"},
    },
)
def get_case(
    who: Reader,
    case_id: CaseId,
    request: Request,
    response: Response,
    store: CasesDep,
    reveal: Annotated[
        str | None,
        Query(
            max_length=256,
            description="personal fields to show in clear, comma-separated "
            f"({', '.join(PERSONAL_FIELDS)}); reviewers and admins only, each one audited",
        ),
    ] = None,
) -> dict[str, Any]:
    """The case page's data; audited as ``case_view``, plus one ``reveal`` entry per field."""
    fields = list(dict.fromkeys(f.strip() for f in (reveal or "").split(",") if f.strip()))
    if fields and not who.may("reveal"):
        raise refuse(who, "reveal")
    ip = client_ip(request)
    with store.session() as s:
        try:
            detail = case_detail(s, case_id, reveal=fields, viewer=not who.may("reveal"))
        except CaseError as exc:
            raise case_error(exc, "query") from exc
        audit.record(s, who, "case_view", case_id=case_id, ip=ip)
        for field in fields:
            audit.record(s, who, "reveal", case_id=case_id, detail={"field": field}, ip=ip)
    response.headers["Cache-Control"] = "no-store"
    return detail


@router.post(
    "/{case_id}/verdicts",
    status_code=201,
    response_model=VerdictOut,
    summary="Record a verdict (reviewers and admins)",
    responses=_WRITE_ERRORS,
)
def add_verdict(
    who: Writer, case_id: CaseId, body: VerdictIn, request: Request, store: CasesDep
) -> dict[str, Any]:
    """The case's status and verdict type become this verdict's; earlier ones stay listed.

    The audit entry holds the decision and type, not the note (a note may
    name people).
    """
    with store.session() as s:
        try:
            verdict = record_verdict(s, case_id, who, body.decision, body.proxy_type, body.note)
        except CaseError as exc:
            raise case_error(exc, "body") from exc
        audit.record(
            s,
            who,
            "verdict",
            case_id=case_id,
            detail={
                "verdict_id": verdict["id"],
                "decision": verdict["decision"],
                "proxy_type": verdict["proxy_type"],
            },
            ip=client_ip(request),
        )
    return verdict


@router.post(
    "/{case_id}/assignment",
    response_model=AssignmentOut,
    summary="Assign a case to a reviewer or admin, or unassign it (null)",
    responses=_WRITE_ERRORS,
)
def set_assignment(
    who: Writer, case_id: CaseId, body: AssignIn, request: Request, store: CasesDep
) -> dict[str, Any]:
    """The assignee must be an active reviewer or admin; every change stays in the history."""
    with store.session() as s:
        try:
            done = assign(s, case_id, who, body.assignee)
        except CaseError as exc:
            raise case_error(exc, "body") from exc
        audit.record(
            s,
            who,
            "assign",
            case_id=case_id,
            detail={"assignee": body.assignee},
            ip=client_ip(request),
        )
    return done
