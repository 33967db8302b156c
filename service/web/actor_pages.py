"""Cases by actor in the workbench (issue #13): the actor queue, one actor, its verdict.

The actor page shows on one screen who the actor is (its kind and masked
value in words), what it did (dossiers, distinct owners, months, units, the
main predicted type), the dossiers involved with why each was flagged
(sentences, codes as small tags), the actor's evidence graph (the union of
its riskiest dossiers' graphs, drawn by ``graph.js``) and, for reviewers and
admins, one verdict form with an exception box per dossier. Views and
verdicts are audited as through the API (:mod:`service.routes.actors`).
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from service.cases import audit
from service.cases.actors import (
    ActorFilter,
    actor_detail,
    actor_queue,
    assign_actor,
    record_actor_verdict,
)
from service.cases.models import ACTOR_KINDS, CASE_STATUSES, DECISION_TYPES, Case
from service.cases.queue import CaseInputError, CaseNotFound
from service.cases.security import csrf_ok
from service.deps import client_ip, get_cases
from service.routes.actors import actor_audit
from service.web._render import (
    assignees,
    bad_input,
    case_number,
    csrf_refused,
    embed_json,
    error_page,
    forbidden,
    lang_of,
    login_redirect,
    query,
    redirect,
    render,
    user_of,
)
from service.web.case_pages import _graph_words, _present_types
from service.web.i18n import translate
from service.web.unit_facts import unit_facts

router = APIRouter(include_in_schema=False)

_FILTERS = ("status", "kind", "unit_id")
#: the choices of an exception's own decision: "<decision>:<type>" ("needs_info:" has no type)
EXCEPTION_CHOICES = tuple(
    f"{d}:{t}" for d, types in DECISION_TYPES.items() for t in (types or ("",))
)


def _not_found(request: Request, who: Any, raw: str) -> Response:
    message = translate(lang_of(request), "case_not_found", id=raw[:40])
    return error_page(request, who, 404, message, back="/actors")


@router.get("/actors")
def actors_page(request: Request) -> Response:
    """The actor queue: cases by actor, highest expected misuse per review first."""
    params = {k: v.strip() for k, v in request.query_params.items() if k in (*_FILTERS, "page")}
    with get_cases(request).session() as s:
        who = user_of(request, s)
        if who is None:
            return login_redirect(request)
        error, status = None, 200
        try:
            f = ActorFilter(
                status=params.get("status") or None,
                kind=params.get("kind") or None,
                unit_id=params.get("unit_id") or None,
            )
            if params.get("page"):
                f.page = case_number(params["page"]) or 0
            page = actor_queue(s, f)
        except CaseInputError as exc:
            error, status = exc, 422
            page = {"total": 0, "page": 1, "per_page": 50, "items": []}
        units = sorted(set(s.scalars(sa.select(Case.unit_id).distinct())) - {""})
        facts = unit_facts(request, s)
    pages = max(1, -(-page["total"] // page["per_page"]))
    filters = {k: params.get(k, "") for k in _FILTERS}
    return render(
        request,
        "actors.html",
        {
            "page": page,
            "pages": pages,
            "filters": filters,
            "keep": filters,
            "kinds": ACTOR_KINDS,
            "statuses": CASE_STATUSES,
            "units": units,
            "unit_facts": facts,
            "error": error,
        },
        who=who,
        status=status,
    )


def _actor_page(
    request: Request,
    s: Any,
    who: Any,
    number: int,
    *,
    notice: str = "",
    error: CaseInputError | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    actor = actor_detail(s, number, viewer=not who.may("reveal"))
    graph = actor["graph"]
    links = {f"dossier:{d['dossier_id']}": d["case_id"] for d in actor["dossiers"]}
    words = _graph_words(request, links)
    words["short"]["focus"] = translate(lang_of(request), "graph_actor")
    if graph is not None:  # one dossier's owner and holder are not the actor's
        graph["graph"] = {**graph.get("graph", {}), "owner": None, "holder": None}
    return render(
        request,
        "actor.html",
        {
            "actor": actor,
            "graph": graph,
            "graph_json": embed_json(graph) if graph else "",
            "graph_meta": embed_json(words),
            "node_types": _present_types(graph),
            "decisions": DECISION_TYPES,
            "decision_types_json": embed_json(DECISION_TYPES),
            "exception_choices": EXCEPTION_CHOICES,
            "people": assignees(s),
            "unit_facts": unit_facts(request, s),
            "notice": notice,
            "error": error,
            "form": form or {},
            "here": f"/actors/{number}",
        },
        who=who,
        status=status,
    )


@router.get("/actors/{actor_id}")
def actor_page(
    actor_id: str, request: Request, applied: str = "", exceptions: str = ""
) -> Response:
    """One actor case on one screen (audited as ``actor_view``)."""
    with get_cases(request).session() as s:
        who = user_of(request, s)
        if who is None:
            return login_redirect(request)
        number = case_number(actor_id)
        if number is None:
            return _not_found(request, who, actor_id)
        notice = ""
        if applied.isdigit() and exceptions.isdigit():
            notice = translate(lang_of(request), "actor_verdict_saved", applied=applied,
                               exceptions=exceptions)  # fmt: skip
        try:
            response = _actor_page(request, s, who, number, notice=notice)
        except CaseNotFound:
            return _not_found(request, who, actor_id)
        audit.record(s, who, "actor_view", detail={"actor_id": number}, ip=client_ip(request))
    return response


def _exceptions(ticked: list[str], choices: list[str]) -> dict[int, tuple[str, str | None]]:
    """Ticked case ids -> their own (decision, type); ``choices`` hold ``<id>:<decision>:<type>``.

    Raises
    ------
    CaseInputError
        A choice that is not one of :data:`EXCEPTION_CHOICES`.
    """
    chosen: dict[int, tuple[str, str | None]] = {}
    for raw in choices:
        case, _, choice = raw.partition(":")
        if choice not in EXCEPTION_CHOICES or not case.isdigit():
            raise CaseInputError("exceptions", f"expected <case>:<decision>:<type>, found {raw!r}")
        decision, _, kind = choice.partition(":")
        chosen[int(case)] = (decision, kind or None)
    out = {}
    for raw in ticked:
        if not raw.isdigit():
            raise CaseInputError("exceptions", f"expected a case number, found {raw!r}")
        out[int(raw)] = chosen.get(int(raw), ("needs_info", None))
    return out


def _may_write(
    request: Request, s: Any, actor_id: str, number: int | None, csrf_token: str
) -> tuple[Any, int] | Response:
    """Who may write on the actor case and its number, or the page that says why not.

    In this order, as for a dossier case: a login for no session, 403 for a wrong
    CSRF token or a role that may not write, 404 for a number that cannot exist.
    """
    who = user_of(request, s)
    if who is None:
        return login_redirect(request, back=f"/actors/{actor_id}")
    if not csrf_ok(who, csrf_token):
        return csrf_refused(request, who)
    if not who.may("write"):
        return forbidden(request, who)
    if number is None:
        return _not_found(request, who, actor_id)
    return who, number


@router.post("/actors/{actor_id}/verdict")
def actor_verdict(
    actor_id: str,
    request: Request,
    decision: Annotated[str, Form(max_length=32)] = "",
    proxy_type: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    exception: Annotated[list[str] | None, Form()] = None,
    exception_verdict: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """One decision on the actor's open dossiers, the ticked exceptions getting their own."""
    store = get_cases(request)
    number = case_number(actor_id)
    who = None
    try:
        with store.session() as s:
            allowed = _may_write(request, s, actor_id, number, csrf_token)
            if isinstance(allowed, Response):
                return allowed
            who, number = allowed
            exceptions = _exceptions(exception or [], exception_verdict or [])
            done = record_actor_verdict(
                s, number, who, decision, proxy_type or None, note, exceptions
            )
            audit.record(s, who, "actor_verdict", detail=actor_audit(done), ip=client_ip(request))
    except CaseNotFound:
        return _not_found(request, who, actor_id)
    except CaseInputError as exc:
        assert who is not None and number is not None  # input is checked after the user
        form = {"decision": decision, "proxy_type": proxy_type, "note": note,
                "exception": set(exception or [])}  # fmt: skip
        with store.session() as s:
            return _actor_page(request, s, who, number, error=exc, form=form, status=422)
    counts = query({"applied": done.applied, "exceptions": done.exceptions})
    return redirect(f"/actors/{number}?{counts}#verdict")


@router.post("/actors/{actor_id}/assign")
def actor_assignment(
    actor_id: str,
    request: Request,
    assignee: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Give the actor case and its open dossiers to a reviewer or admin, or take them back."""
    number = case_number(actor_id)
    who = None
    try:
        with get_cases(request).session() as s:
            allowed = _may_write(request, s, actor_id, number, csrf_token)
            if isinstance(allowed, Response):
                return allowed
            who, number = allowed
            done = assign_actor(s, number, who, assignee or None)
            audit.record(s, who, "assign", detail={"actor_id": number, "assignee": assignee or None,
                                                  "cases": done["cases"]}, ip=client_ip(request))  # fmt: skip
    except CaseNotFound:
        return _not_found(request, who, actor_id)
    except CaseInputError as exc:
        return bad_input(request, who, exc, back=f"/actors/{number}")
    return redirect(f"/actors/{number}#assignment")
