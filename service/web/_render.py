"""Rendering helpers of the pages (not part of the public API).

The Jinja2 environment, the words bound to the reader's language, the
security headers every page carries, the error pages, the session lookup,
and the small conversions the routes share (safe redirect targets, query
strings, the graph as embedded JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from service.cases.models import Case, UnitMonth, User
from service.cases.queue import CaseInputError
from service.cases.security import Who, session_user
from service.deps import SESSION_COOKIE, came_over_https
from service.web import explain, i18n
from service.web.i18n import label, translate

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
TEMPLATES.env.undefined = jinja2.StrictUndefined  # a typo in a template fails, never blanks
STATIC_DIR = HERE / "static"

LANG_COOKIE = "lang"
#: no inline script or style: the graph's data travels in a JSON block, charts use SVG attributes
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Words:
    """Everything a template needs to speak the reader's language.

    Templates call ``_("key")`` for UI strings and ``w.label(kind, code)``,
    ``w.date(...)``, ``w.percent(...)`` for data.
    """

    def __init__(self, lang: i18n.Lang) -> None:
        self.lang = lang

    def t(self, key: str, **values: object) -> str:
        return i18n.translate(self.lang, key, **values)

    def label(self, kind: str, code: object) -> str:
        return i18n.label(self.lang, kind, code)

    def labels(self, kind: str) -> dict[str, str]:
        return i18n.labels(self.lang, kind)

    def detail(self, key: str, value: object) -> str:
        return i18n.detail_value(self.lang, key, value)

    def feature(self, name: str) -> str:
        return i18n.feature_name(self.lang, name)

    def value(self, feature: str, value: object) -> str:
        return i18n.feature_value(self.lang, feature, value)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        return i18n.number(self.lang, value, digits)

    def percent(self, share: float | None, digits: int = 1) -> str:
        return i18n.percent(self.lang, share, digits)

    def score(self, value: float | None) -> str:
        return i18n.number(self.lang, value, 2)

    def date(self, value: Any) -> str:
        return i18n.date(self.lang, value)

    def datetime(self, value: Any) -> str:
        return i18n.datetime_text(self.lang, value)

    def month(self, value: str | None) -> str:
        return i18n.month(self.lang, value)

    def badge(self, proxy_type: str, probabilities: Any) -> explain.TypeBadge:
        return explain.type_badge(proxy_type, probabilities)

    def reasons(self, reasons: Any) -> list[explain.ReasonLine]:
        return explain.reason_lines(reasons, self.lang)


def lang_of(request: Request) -> i18n.Lang:
    """The reader's language: the ``lang`` cookie when it names one we have, else Vietnamese."""
    wanted = request.cookies.get(LANG_COOKIE, "")
    for lang in i18n.LANGS:
        if wanted == lang:
            return lang
    return i18n.DEFAULT_LANG


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    who: Who | None,
    status: int = 200,
) -> HTMLResponse:
    """A page in the reader's language, with the security headers."""
    words = Words(lang_of(request))
    ctx: dict[str, Any] = {
        "lang": words.lang,
        "w": words,
        "_": words.t,
        "who": who,
        "here": here(request),
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, template, ctx, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def here(request: Request) -> str:
    """This page's path and query, for ``next=`` links back to it."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(target: str | None, default: str = "/cases") -> str:
    """A local path to go back to; anything else (another site, ``//host``) gives ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(c in target for c in "\r\n\t"):
        return default
    return target


def redirect(target: str) -> RedirectResponse:
    """A 303 (See Other): after a form, the browser GETs the target."""
    response = RedirectResponse(target, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def login_redirect(request: Request, back: str | None = None) -> RedirectResponse:
    """To the login page, coming back here afterwards (or to ``back``: a form's page)."""
    return redirect("/login?" + urlencode({"next": back or here(request)}))


def query(params: Mapping[str, object], **changes: object) -> str:
    """A query string from ``params`` with ``changes`` applied; empty values are left out."""
    merged = {**params, **changes}
    return urlencode({k: str(v) for k, v in merged.items() if v not in (None, "")})


TEMPLATES.env.globals["query"] = query


def embed_json(value: object) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` can end it)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ----------------------------------------------------------------- shared by the routes
def secure_cookie(request: Request) -> bool:
    """Whether cookies must be Secure: configured so, or the browser came over https."""
    return bool(request.app.state.settings.cookie_secure) or came_over_https(request)


def user_of(request: Request, s: Session) -> Who | None:
    """The logged-in user of a page request, looked up in the caller's transaction."""
    return session_user(s, request.cookies.get(SESSION_COOKIE))


def error_page(
    request: Request, who: Who | None, status: int, message: str, *, back: str = "/cases"
) -> HTMLResponse:
    """A page that says what went wrong and links back (never a traceback)."""
    return render(request, "error.html", {"message": message, "back": back}, who=who, status=status)


def forbidden(request: Request, who: Who) -> HTMLResponse:
    """403: the user's role may not do this (the page names the role)."""
    lang = lang_of(request)
    return error_page(
        request, who, 403, translate(lang, "forbidden", role=label(lang, "role", who.role))
    )


def csrf_refused(request: Request, who: Who) -> HTMLResponse:
    """403: a form without this session's CSRF token (stale, or forged elsewhere)."""
    return error_page(request, who, 403, translate(lang_of(request), "csrf_failed"))


def case_number(raw: str) -> int | None:
    """A case id from the path, or None for anything that is not one (a 404, not a 422)."""
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def not_found(request: Request, who: Who | None, raw: str) -> HTMLResponse:
    """404 for a case, in words a clerk can act on, with the way back to the queue."""
    return error_page(request, who, 404, translate(lang_of(request), "case_not_found", id=raw[:40]))


def bad_input(request: Request, who: Who | None, exc: CaseInputError, *, back: str) -> HTMLResponse:
    """422 naming the field and what was expected."""
    message = translate(lang_of(request), "bad_input", field=exc.field, message=exc.message)
    return error_page(request, who, 422, message, back=back)


def assignees(s: Session) -> list[tuple[str, str]]:
    """Active users who may be given cases: (username, display name)."""
    rows = s.execute(
        sa.select(User.username, User.display_name)
        .where(User.active, User.role.in_(("reviewer", "admin")))
        .order_by(User.username)
    )
    return [(u, d or u) for u, d in rows]


def unit_ids(s: Session) -> list[str]:
    """Every unit with cases or dashboard figures, for the filters' lists.

    Notes
    -----
    Two DISTINCTs over indexed columns, not :func:`service.cases.queue.units`
    (which also counts open cases per unit: a pass over every case, half a
    second at 100,000 of them, too slow for the queue's front page).
    """
    with_cases = s.scalars(sa.select(Case.unit_id).distinct())
    with_figures = s.scalars(sa.select(UnitMonth.unit_id).distinct())
    return sorted(set(with_cases) | set(with_figures))
