"""The workbench's HTML pages: log in, the queue, the unit dashboard, the audit log.

Server-rendered (Jinja2) from the same case store functions as the review
API (:mod:`service.cases.queue`), with a little vanilla JavaScript (the
evidence graph, the verdict form's type list). Every page needs a session
(else it redirects to ``/login``); roles are enforced here, not only by
hiding buttons: a viewer's POST is refused with 403 whatever the page showed.
Every form carries the session's CSRF token (the login form a token of its
own, in a cookie, since there is no session yet). Case views, reveals,
verdicts, assignments and logins are audited in the same transaction as what
they record. Personal fields are masked unless a reviewer or admin reveals
one; the page that shows it is never cached. The case page and its forms
live in :mod:`service.web.case_pages`, included in :data:`router`.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from features.contract import PROXY_TYPES
from service.cases import audit
from service.cases import queue as q
from service.cases.models import CASE_STATUSES, Case
from service.cases.security import (
    csrf_ok,
    end_session,
)
from service.deps import (
    SESSION_COOKIE,
    clear_session_cookie,
    client_ip,
    get_cases,
    set_session_cookie,
)
from service.routes.session import log_in
from service.web import actor_pages, case_pages, charts
from service.web._render import (
    LANG_COOKIE,
    STATIC_DIR,
    assignees,
    case_number,
    csrf_refused,
    error_page,
    lang_of,
    login_redirect,
    query,
    redirect,
    render,
    safe_next,
    secure_cookie,
    unit_ids,
    user_of,
)
from service.web.i18n import LANGS, translate
from service.web.unit_facts import unit_facts

__all__ = ["STATIC_DIR", "router"]

router = APIRouter(include_in_schema=False)
router.include_router(case_pages.router)
router.include_router(actor_pages.router)

#: the login form's own CSRF token (no session exists yet): a cookie echoed by a hidden field
LOGIN_CSRF_COOKIE = "detector_login_csrf"
#: audit entries per page
AUDIT_PAGE = 100


# ----------------------------------------------------------------- language
@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str = "/cases") -> Response:
    """Set the ``lang`` cookie (a preference, not a secret) and go back."""
    response = redirect(safe_next(next))
    if code in LANGS:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 86400,
            path="/",
            samesite="lax",
            secure=secure_cookie(request),
        )
    return response


# ----------------------------------------------------------------- log in / out
def _login_page(
    request: Request, *, next_url: str, error: str = "", username: str = "", status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"csrf": token, "next": next_url, "error": error, "username": username},
        who=None,
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/cases", bye: int = 0) -> Response:
    """The login form; a user already logged in goes straight on."""
    with get_cases(request).session() as s:
        if user_of(request, s) is not None:
            return redirect(safe_next(next))
    return _login_page(request, next_url=safe_next(next), error="logged_out" if bye else "")


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/cases",
) -> Response:
    """Check the password; on success start a session and go on, else say so (401).

    The message is the same for an unknown user and a wrong password, and
    failed logins count towards the same throttle as the API's (per client and
    per username from it; :class:`service.routes.session.LoginThrottle`).
    """
    next_url = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(
            request, next_url=next_url, error="login_expired", username=username, status=403
        )
    try:
        token, _who = log_in(
            request, get_cases(request), username, password, request.cookies.get(SESSION_COOKIE)
        )
    except HTTPException as exc:  # 401 wrong password or unknown user, 429 throttled
        return _login_page(
            request,
            next_url=next_url,
            error="login_failed",
            username=username,
            status=exc.status_code,
        )
    response = redirect(next_url)
    set_session_cookie(request, response, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:
    """End the session (with its CSRF token: a forged post must not log people out)."""
    token = request.cookies.get(SESSION_COOKIE)
    with get_cases(request).session() as s:
        who = user_of(request, s)
        if who is not None:
            if not csrf_ok(who, csrf_token):
                return csrf_refused(request, who)
            end_session(s, token)
            audit.record(s, who, "logout", ip=client_ip(request))
    response = redirect("/login?bye=1")
    clear_session_cookie(request, response)
    return response


# ----------------------------------------------------------------- the queue
_FILTER_FIELDS = ("unit_id", "month", "proxy_type", "status", "min_score", "max_score", "assignee")


def _queue_filter(params: dict[str, str]) -> q.QueueFilter:
    """A :class:`QueueFilter` from the query string; empty fields mean "any".

    Raises
    ------
    CaseInputError
        A score or page that is not a number, or any field ``validate`` refuses.
    """
    f = q.QueueFilter()
    for name in ("unit_id", "month", "proxy_type", "status", "assignee"):
        if params.get(name):
            setattr(f, name, params[name])
    for name in ("min_score", "max_score"):
        if params.get(name):
            try:
                setattr(f, name, float(params[name].replace(",", ".")))
            except ValueError:
                raise q.CaseInputError(
                    name, f"expected a number between 0 and 1, found {params[name]!r}"
                ) from None
    for name in ("page", "per_page"):
        if params.get(name):
            try:
                setattr(f, name, int(params[name]))
            except ValueError:
                raise q.CaseInputError(
                    name, f"expected a whole number, found {params[name]!r}"
                ) from None
    if params.get("sort"):
        f.sort = params["sort"]
    f.validate()
    return f


@router.get("/")
def home() -> Response:
    """The queue is the workbench's front page."""
    return redirect("/cases")


@router.get("/cases")
def queue_page(request: Request) -> Response:
    """The ranked queue with its filters, sort, pagination and the CSV export link."""
    params = {
        k: v.strip()
        for k, v in request.query_params.items()
        if k in (*_FILTER_FIELDS, "sort", "page", "per_page")
    }
    with get_cases(request).session() as s:
        who = user_of(request, s)
        if who is None:
            return login_redirect(request)
        error, status = None, 200
        try:
            f = _queue_filter(params)
            page = q.queue(s, f)
        except q.CaseInputError as exc:
            error, status = exc, 422
            f, page = q.QueueFilter(), q.QueuePage(0, 1, 50, [])
        details = _reason_details(s, [c["id"] for c in page.items])
        facts = unit_facts(request, s)
        units = unit_ids(s)
        people = assignees(s)
        # DISTINCT over an indexed column walks the index: cheap at 100,000 cases
        months = list(s.scalars(sa.select(Case.month).distinct().order_by(Case.month.desc())))
    pages = max(1, -(-page.total // page.per_page))
    filters = {k: params.get(k, "") for k in _FILTER_FIELDS}
    keep = {**filters, "sort": params.get("sort", ""), "per_page": params.get("per_page", "")}
    export = {k: v for k, v in keep.items() if k != "per_page"}
    return render(
        request,
        "queue.html",
        {
            "page": page,
            "details": details,
            "unit_facts": facts,
            "pages": pages,
            "filters": filters,
            "sort": f.sort,
            "keep": keep,
            "export_query": query(export),
            "units": units,
            "months": months,
            "people": people,
            "proxy_types": PROXY_TYPES,
            "statuses": CASE_STATUSES,
            "sort_keys": tuple(q.SORT_KEYS),
            "error": error,
        },
        who=who,
        status=status,
    )


def _reason_details(s: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The page's reasons (sentences, not only codes) and probabilities, by case id.

    Read here rather than in the queue's items: only the page's rows (at most
    one page, by primary key), and only the pages need them.
    """
    if not ids:
        return {}
    rows = s.execute(sa.select(Case.id, Case.reasons, Case.probabilities).where(Case.id.in_(ids)))
    return {r.id: {"reasons": r.reasons, "probabilities": r.probabilities} for r in rows}


# ----------------------------------------------------------------- units
@router.get("/units")
def province_dashboard(request: Request, unit: str = "") -> Response:
    """The province's figures by month and its most suspected officers (``?unit=`` picks one)."""
    if unit.strip():
        return redirect("/units/" + quote(unit.strip()[:64], safe=""))
    return _dashboard(request, None)


@router.get("/units/{unit_id}")
def unit_dashboard(unit_id: str, request: Request) -> Response:
    """One unit's claimed vs genuine online share by month and its officers."""
    return _dashboard(request, unit_id)


def _dashboard(request: Request, unit_id: str | None) -> Response:
    with get_cases(request).session() as s:
        who = user_of(request, s)
        if who is None:
            return login_redirect(request)
        try:
            board = q.unit_dashboard(s, unit_id)
        except q.CaseNotFound:
            message = translate(lang_of(request), "unit_not_found", unit=(unit_id or "")[:64])
            return error_page(request, who, 404, message, back="/units")
        units = board["units"]
        facts = unit_facts(request, s)
    shares = ("claimed_online_share", "estimated_genuine_online_share")
    months = charts.known_span(board["months"], shares)  # no empty month at the axis' ends
    target = facts[unit_id].online_target if unit_id in facts else None
    share = charts.line_chart(
        [str(m["month"]) for m in months],
        {
            "claimed": [m["claimed_online_share"] for m in months],  # type: ignore[misc]
            "genuine": [m["estimated_genuine_online_share"] for m in months],  # type: ignore[misc]
        },
        target=target,
    )
    per_officer: dict[tuple[str, str], dict[str, Any]] = {}
    for o in board["officers"]:
        row = per_officer.setdefault(
            (o["staff_id"], o["unit_id"]),
            {"suspected": 0.0, "flagged": 0, "accepted": 0, "unit_id": o["unit_id"]},
        )
        row["suspected"] += float(o["suspected_officer_proxy"] or 0.0)
        row["flagged"] += int(o["flagged_officer_proxy"] or 0)
        row["accepted"] += int(o["dossiers_accepted"] or 0)
    bars = charts.bar_chart(
        [
            (staff, r["suspected"], r["flagged"], r)
            for (staff, _unit), r in per_officer.items()
            if r["suspected"] > 0 or r["flagged"] > 0
        ]
    )
    return render(
        request,
        "units.html",
        {
            "board": board,
            "share": share,
            "bars": bars,
            "units": units,
            "unit_id": unit_id,
            "unit_facts": facts,
        },
        who=who,
    )


# ----------------------------------------------------------------- audit log
@router.get("/audit")
def audit_page(
    request: Request,
    action: str = "",
    username: str = "",
    case_id: str = "",
    before_id: str = "",
) -> Response:
    """The audit log, newest first, for admins; any other role gets a 403 page."""
    with get_cases(request).session() as s:
        who = user_of(request, s)
        if who is None:
            return login_redirect(request)
        if not who.may("admin"):
            return error_page(request, who, 403, translate(lang_of(request), "forbidden_audit"))
        rows = audit.entries(
            s,
            action=action if action in audit.ACTIONS else None,
            case_id=case_number(case_id),
            username=username.strip()[:64] or None,
            before_id=case_number(before_id),
            limit=AUDIT_PAGE,
        )
        entries = [
            {
                "id": e.id,
                "at": e.at,
                "username": e.username,
                "role": e.role,
                "action": e.action,
                "case_id": e.case_id,
                "detail": e.detail or {},
                "ip": e.ip,
            }
            for e in rows
        ]
    filters = {"action": action, "username": username, "case_id": case_id}
    older = query(filters, before_id=entries[-1]["id"]) if len(entries) == AUDIT_PAGE else None
    return render(
        request,
        "audit.html",
        {"entries": entries, "filters": filters, "older": older, "actions": audit.ACTIONS},
        who=who,
    )
