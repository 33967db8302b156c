"""The case page and what is done from it: reveal, verdict, assignment.

The page shows the dossier's fields (personal ones masked), the reasons in
plain words with their evidence values, the data gaps as "could not check"
(never as evidence), the interactive evidence graph, the related dossiers
with links to their cases, and, for reviewers and admins, the verdict and
assignment forms. Every view is audited; a reveal is a POST with the CSRF
token, audited per field, and its answer is never cached. A viewer's POST is
refused with 403 whatever the page showed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from features import NODE_TYPES
from service.cases import audit
from service.cases import queue as q
from service.cases.models import DECISION_TYPES
from service.cases.security import Who, csrf_ok
from service.deps import client_ip, get_cases
from service.web._render import (
    assignees,
    bad_input,
    case_number,
    csrf_refused,
    embed_json,
    forbidden,
    lang_of,
    login_redirect,
    not_found,
    redirect,
    render,
    secure_cookie,
    user_of,
)
from service.web.i18n import labels, translate
from service.web.unit_facts import unit_facts

router = APIRouter(include_in_schema=False)

#: personal fields shown on the case page, in this order, each with its own reveal button
PERSONAL = ("owner_id", "owner_name", "holder_id", "contact_phone", "contact_email", "payer_token")
#: the other dossier fields, in the order an inspector reads them
PLAIN = (
    "dossier_id", "procedure_code", "unit_id", "channel", "submitted_at", "synced_at",
    "accepted_at", "received_by", "account_id", "declared_relation", "authorization_id",
    "device_id", "ip", "attachment_kind",
)  # fmt: skip
#: graph attributes whose values are codes, and the kind of label that reads them
_CODED_ATTRS = {
    "channel": "channel",
    "declared_relation": "declared_relation",
    "attachment_kind": "attachment_kind",
    "account_type": "account_type",
    "level": "unit_level",
    "role": "staff_role",
    "kind": "relation_kind",
}
_TIMES = frozenset({"submitted_at", "synced_at", "accepted_at"})
_CODED = frozenset({"channel", "declared_relation", "attachment_kind"})


def _case_page(
    request: Request,
    s: Session,
    who: Who,
    case_id: int,
    *,
    reveal: tuple[str, ...] = (),
    form: dict[str, str] | None = None,
    error: q.CaseInputError | None = None,
    notice: str = "",
    status: int = 200,
) -> HTMLResponse:
    """Render one case (the caller has checked the role for ``reveal`` and audits)."""
    case = q.case_detail(s, case_id, reveal=reveal, viewer=not who.may("reveal"))
    related = case["evidence"].get("related") or []
    graph = case["evidence"].get("graph")
    links = {f"dossier:{r['dossier_id']}": r["case_id"] for r in related if r.get("case_id")}
    dossier = case["dossier"]
    return render(
        request,
        "case.html",
        {
            "case": case,
            "graph_json": embed_json(graph) if graph else "",
            "graph_meta": embed_json(_graph_words(request, links)),
            "plain_fields": [f for f in PLAIN if f in dossier],
            "personal_fields": [f for f in PERSONAL if f in dossier],
            "times": _TIMES,
            "coded": _CODED,
            "revealed": set(reveal),
            "decisions": DECISION_TYPES,
            "decision_types_json": embed_json(DECISION_TYPES),
            "people": assignees(s),
            "form": form or {},
            "error": error,
            "notice": notice,
            "node_types": _present_types(graph),
            "unit_facts": unit_facts(request, s),
            # the language links and the login's way back: the case itself, not a POST path
            "here": f"/cases/{case_id}",
        },
        who=who,
        status=status,
    )


def _present_types(graph: dict[str, Any] | None) -> list[str]:
    """The node types the graph draws, in :data:`features.NODE_TYPES` order (for the legend)."""
    if not graph:
        return []
    present = {n.get("type") for n in graph.get("nodes", [])}
    return [t for t in NODE_TYPES if t in present]


def _graph_words(request: Request, links: dict[str, int]) -> dict[str, Any]:
    """What the graph script needs besides the graph: words in the reader's language, links."""
    lang = lang_of(request)
    return {
        "lang": lang,
        "nodes": labels(lang, "node"),
        "edges": labels(lang, "edge"),
        "attrs": labels(lang, "attr"),
        # coded attribute values of nodes and edges, read in words (never "citizen" in Vietnamese)
        "values": {attr: labels(lang, kind) for attr, kind in _CODED_ATTRS.items()},
        "suspicious": translate(lang, "legend_suspicious"),
        "short": {
            key: translate(lang, f"graph_{key}")
            for key in ("focus", "owner", "holder", "owner_holder", "person")
        },
        "cases": links,
    }


#: the one-shot cookie that carries a reveal from its POST to the page it redirects to
REVEAL_COOKIE = "reveal"
_REVEAL_SECONDS = 60


def _reveal_mac(who: Who, body: str) -> str:
    # keyed by the session's CSRF token: only this session can make or use the cookie
    return hmac.new(who.csrf_token.encode(), body.encode(), hashlib.sha256).hexdigest()


def _reveal_cookie(who: Who, number: int, fields: tuple[str, ...]) -> str:
    """``case|fields|expiry|mac``: field names only, never a personal value."""
    body = f"{number}|{','.join(fields)}|{int(time.time()) + _REVEAL_SECONDS}"
    return f"{body}|{_reveal_mac(who, body)}"


def _revealed(request: Request, who: Who, number: int) -> tuple[str, ...]:
    """The fields a reveal of this session asked for this case a moment ago, else nothing."""
    raw = request.cookies.get(REVEAL_COOKIE, "")
    body, _, mac = raw.rpartition("|")
    parts = body.split("|")
    if len(parts) != 3 or not who.may("reveal"):
        return ()
    case, fields, expiry = parts
    if not hmac.compare_digest(mac, _reveal_mac(who, body)):
        return ()
    if case != str(number) or not expiry.isdigit() or int(expiry) < time.time():
        return ()
    return tuple(f for f in fields.split(",") if f in PERSONAL)


@router.get("/cases/{case_id}")
def case_page(case_id: str, request: Request, done: str = "") -> Response:
    """One case: dossier (masked), reasons, data gaps, graph, related, verdict form (audited).

    Right after a reveal (its POST redirects here) the revealed fields are
    shown once: the reveal's cookie is dropped with this answer, so a reload
    masks them again and resubmits nothing.
    """
    with get_cases(request).session() as s:
        who = user_of(request, s)
        if who is None:
            return login_redirect(request)
        number = case_number(case_id)
        if number is None:
            return not_found(request, who, case_id)
        reveal = _revealed(request, who, number)
        try:
            notice = {"verdict": "verdict_saved", "assign": "assigned"}.get(done, "")
            response = _case_page(request, s, who, number, reveal=reveal, notice=notice)
        except q.CaseNotFound:
            return not_found(request, who, case_id)
        audit.record(s, who, "case_view", case_id=number, ip=client_ip(request))
    if REVEAL_COOKIE in request.cookies:
        response.delete_cookie(REVEAL_COOKIE, path=f"/cases/{number}", httponly=True)
    return response


def _may_change(
    request: Request, s: Session, case_id: str, number: int | None, csrf_token: str, action: str
) -> tuple[Who, int] | Response:
    """Who may do ``action`` on the case and its number, or the page that says why not.

    In this order: a login for no session, 403 for a wrong CSRF token or a role
    that may not, 404 for a case number that cannot exist.
    """
    who = user_of(request, s)
    if who is None:
        return login_redirect(request, back=f"/cases/{quote(case_id)}")
    if not csrf_ok(who, csrf_token):
        return csrf_refused(request, who)
    if not who.may(action):
        return forbidden(request, who)
    if number is None:
        return not_found(request, who, case_id)
    return who, number


@router.post("/cases/{case_id}/reveal")
def reveal(
    case_id: str,
    request: Request,
    field: Annotated[list[str], Form()],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Show personal fields in clear to a reviewer or admin; each field shown is audited.

    A POST (with CSRF) rather than a link, so a reveal is always a deliberate
    act of the logged-in user. It answers 303 to the case page (POST, redirect,
    GET: a reload never resubmits it) with a short-lived cookie naming the
    fields, bound to this session and this case; the values themselves never
    sit in a URL, a cookie or the browser's history.
    """
    with get_cases(request).session() as s:
        number = case_number(case_id)
        allowed = _may_change(request, s, case_id, number, csrf_token, "reveal")
        if isinstance(allowed, Response):
            return allowed
        who, number = allowed
        fields = tuple(dict.fromkeys(field))[: len(PERSONAL)]
        try:  # checks the case and the fields before anything is recorded
            q.case_detail(s, number, reveal=fields, viewer=False)
        except q.CaseNotFound:
            return not_found(request, who, case_id)
        except q.CaseInputError as exc:
            return bad_input(request, who, exc, back=f"/cases/{number}")
        ip = client_ip(request)
        for name in fields:
            audit.record(s, who, "reveal", case_id=number, detail={"field": name}, ip=ip)
    response = redirect(f"/cases/{number}#dossier")
    response.set_cookie(
        REVEAL_COOKIE,
        _reveal_cookie(who, number, fields),
        max_age=_REVEAL_SECONDS,
        path=f"/cases/{number}",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )
    return response


@router.post("/cases/{case_id}/verdict")
def verdict(
    case_id: str,
    request: Request,
    decision: Annotated[str, Form(max_length=32)] = "",
    proxy_type: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Record a verdict (reviewers, admins); a viewer gets 403 whatever the page showed.

    A refused verdict leaves the transaction by its exception (so nothing of
    it is kept) and the page is drawn again, in a new one, with what was typed.
    """
    store = get_cases(request)
    number = case_number(case_id)
    who: Who | None = None
    try:
        with store.session() as s:
            allowed = _may_change(request, s, case_id, number, csrf_token, "write")
            if isinstance(allowed, Response):
                return allowed
            who, number = allowed
            saved = q.record_verdict(s, number, who, decision, proxy_type or None, note)
            audit.record(
                s,
                who,
                "verdict",
                case_id=number,
                detail={
                    "verdict_id": saved["id"],
                    "decision": saved["decision"],
                    "proxy_type": saved["proxy_type"],
                },
                ip=client_ip(request),
            )
    except q.CaseNotFound:
        return not_found(request, who, case_id)
    except q.CaseInputError as exc:
        form = {"decision": decision, "proxy_type": proxy_type, "note": note}
        assert who is not None and number is not None  # input is checked after the user
        with store.session() as s:
            return _case_page(request, s, who, number, form=form, error=exc, status=422)
    return redirect(f"/cases/{number}?done=verdict#verdict")


@router.post("/cases/{case_id}/assign")
def assignment(
    case_id: str,
    request: Request,
    assignee: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Give the case to a reviewer or admin, or take it back (empty ``assignee``)."""
    number = case_number(case_id)
    who: Who | None = None
    try:
        with get_cases(request).session() as s:
            allowed = _may_change(request, s, case_id, number, csrf_token, "write")
            if isinstance(allowed, Response):
                return allowed
            who, number = allowed
            q.assign(s, number, who, assignee or None)
            audit.record(
                s,
                who,
                "assign",
                case_id=number,
                detail={"assignee": assignee or None},
                ip=client_ip(request),
            )
    except q.CaseNotFound:
        return not_found(request, who, case_id)
    except q.CaseInputError as exc:
        return bad_input(request, who, exc, back=f"/cases/{number}")
    return redirect(f"/cases/{number}?done=assign#assignment")
