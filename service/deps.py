"""Dependencies shared by the routes (``Annotated`` aliases); tests swap them with overrides.

Two kinds of callers. Machines (the portal, operators) send an API key to the
scoring endpoints: kept flat (one dependency per request besides the key
header), since on the scoring path every resolved dependency costs tens of
microseconds. People (the inspection team) log in to the workbench and send
the ``detector_session`` cookie; every unsafe request (POST, PUT, PATCH,
DELETE) of a session must also echo its CSRF token, in the ``X-CSRF-Token``
header (API) or a ``csrf_token`` form field (pages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, Security
from fastapi.security import APIKeyCookie, APIKeyHeader

from service.auth import Caller
from service.cases.db import CaseStore
from service.cases.queue import CaseError, CaseForbidden, CaseInputError, CaseNotFound
from service.cases.security import SESSION_HOURS, Who, csrf_ok, session_user
from service.engine import Engine
from service.scoring_route import Refusal, caller_of

_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key (roles: portal, admin)"
)
#: the workbench's session cookie (HttpOnly, SameSite=Lax; Secure over https)
SESSION_COOKIE = "detector_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="workbench session (POST /v1/session); unsafe methods also need X-CSRF-Token",
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def get_engine(request: Request) -> Engine:
    """The scoring engine (only mounted on routes that exist when scoring is configured)."""
    engine: Engine = request.app.state.engine
    return engine


def authorize(request: Request, key: str | None, action: str) -> Caller:
    """The caller of a request if its key's role may do ``action``; else 401 or 403.

    :class:`service.scoring_route.KeyGate` has already checked the key of every
    API-key route before its body was read; this finds the caller it left, or
    checks (with the same :func:`service.scoring_route.caller_of`, so the same
    answer) when the gate is not in front.
    """
    caller = getattr(request.state, "caller", None)
    if isinstance(caller, Caller) and caller.may(action):
        return caller
    try:
        caller = caller_of(request.app.state.keys, key, action)
    except Refusal as exc:
        headers = {k.decode(): v.decode() for k, v in exc.headers}
        detail = exc.body["detail"]
        raise HTTPException(status_code=exc.status, detail=detail, headers=headers) from None
    request.state.caller = caller
    return caller


def allowed(action: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that admits callers whose key's role may do ``action``.

    401 without a known key, 403 when the role may not (the key's digest
    prefix is kept on the request for the access log, never the key).
    """

    async def check(
        request: Request, key: Annotated[str | None, Security(_api_key)] = None
    ) -> Caller:
        return authorize(request, key, action)

    return check


EngineDep = Annotated[Engine, Depends(get_engine)]
Scorer = Annotated[Caller, Depends(allowed("score"))]
Admin = Annotated[Caller, Depends(allowed("reload"))]


# ----------------------------------------------------------------- workbench users
def get_cases(request: Request) -> CaseStore:
    """The case store the app opened at start-up."""
    store: CaseStore = request.app.state.cases
    return store


CasesDep = Annotated[CaseStore, Depends(get_cases)]


def came_over_https(request: Request) -> bool:
    """Whether the browser reached us over TLS (so the session cookie may be Secure).

    ``X-Forwarded-Proto`` is believed only with ``DETECTOR_TRUST_PROXY=1``: a
    client talking to us directly could send it to make us think anything.
    """
    if request.url.scheme == "https":
        return True
    if request.app.state.settings.trust_proxy:
        proto = request.headers.get("x-forwarded-proto", "")
        return proto.split(",")[0].strip().lower() == "https"
    return False


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """Send the session cookie: HttpOnly, SameSite=Lax, Path=/, for the session's lifetime;
    Secure when the request came over https or ``DETECTOR_COOKIE_SECURE=1``."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure or came_over_https(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    """Tell the browser to drop the session cookie (same attributes, so it matches)."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure or came_over_https(request),
    )


def client_ip(request: Request) -> str:
    """The caller's address for the audit log.

    Behind a trusted proxy (``DETECTOR_TRUST_PROXY=1``) it is the last entry of
    ``X-Forwarded-For``, the one our proxy added: the earlier entries are
    whatever the client chose to send.
    """
    if request.app.state.settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return request.client.host if request.client else ""


def session_token(
    token: Annotated[str | None, Security(_session_cookie)] = None,
) -> str | None:
    """The session cookie's value, as sent (not yet checked)."""
    return token


def optional_user(
    store: CasesDep, token: Annotated[str | None, Depends(session_token)]
) -> Who | None:
    """The logged-in user, or None (no cookie, an unknown or expired session, a disabled user).

    A plain ``def``: FastAPI runs it in its thread pool, so the database
    lookup does not hold up the event loop.
    """
    if not token:
        return None
    with store.session() as s:
        return session_user(s, token)


async def check_csrf(request: Request, who: Who) -> None:
    """Refuse (403) an unsafe request that does not echo its session's CSRF token.

    The token may come in the ``X-CSRF-Token`` header or, for a form post,
    in the ``csrf_token`` field. Starlette keeps the parsed form, so the
    route can read the same form again.

    Raises
    ------
    HTTPException
        403 when the token is missing or is not this session's.
    """
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(_FORMS):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not csrf_ok(who, sent):
        raise HTTPException(
            status_code=403,
            detail=f"CSRF token missing or wrong: send this session's token in the {CSRF_HEADER} "
            f"header or a {CSRF_FIELD} form field (GET /v1/session gives it)",
        )


async def current_user(request: Request, who: Annotated[Who | None, Depends(optional_user)]) -> Who:
    """The logged-in user; 401 without a valid session, 403 on an unsafe request without CSRF.

    Every route that acts for a user depends on this, so no unsafe route can
    forget the CSRF check.
    """
    if who is None:
        raise HTTPException(
            status_code=401,
            detail="not logged in: the session cookie is missing, unknown or expired; "
            "log in with POST /v1/session",
        )
    if request.method not in _SAFE_METHODS:
        await check_csrf(request, who)
    request.state.who = who
    return who


#: what each workbench action means, for the 403 sentence
_ACTIONS = {
    "read": "read cases",
    "write": "record verdicts or assign cases",
    "reveal": "reveal personal fields (citizen IDs, names, phones)",
    "admin": "read the audit log or manage users",
}
_WHO_MAY = {
    "read": "any role",
    "write": "a reviewer or an admin",
    "reveal": "a reviewer or an admin",
}


def refuse(who: Who, action: str) -> HTTPException:
    """The 403 for a user whose role may not do ``action`` (a sentence naming both)."""
    return HTTPException(
        status_code=403,
        detail=f"the {who.role} role may not {_ACTIONS[action]}; "
        f"{_WHO_MAY.get(action, 'an admin')} may",
    )


def require(action: str) -> Callable[..., Awaitable[Who]]:
    """A dependency admitting logged-in users whose role may do ``action`` (``Who.may``).

    Parameters
    ----------
    action
        ``read``, ``write``, ``reveal`` or ``admin``.

    Raises
    ------
    ValueError
        On an unknown action (a programming error, caught at import).
    """
    if action not in _ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(_ACTIONS)}")

    async def check(who: Annotated[Who, Depends(current_user)]) -> Who:
        if not who.may(action):
            raise refuse(who, action)
        return who

    return check


def case_error(exc: CaseError, where: str) -> HTTPException:
    """The HTTP answer for a case store error.

    Parameters
    ----------
    exc
        What the store raised.
    where
        ``"body"`` or ``"query"``: where the field a :class:`CaseInputError`
        names came from, for the 422's ``loc``.
    """
    if isinstance(exc, CaseNotFound):
        return HTTPException(status_code=404, detail=str(exc))
    if isinstance(exc, CaseInputError):
        problem = {"loc": [where, exc.field], "msg": exc.message, "type": "value_error"}
        return HTTPException(status_code=422, detail=[problem])
    if isinstance(exc, CaseForbidden):
        return HTTPException(status_code=403, detail=str(exc))
    return HTTPException(status_code=409, detail=str(exc))


OptionalUser = Annotated[Who | None, Depends(optional_user)]
CurrentUser = Annotated[Who, Depends(current_user)]
Reader = Annotated[Who, Depends(require("read"))]
Writer = Annotated[Who, Depends(require("write"))]
AdminUser = Annotated[Who, Depends(require("admin"))]
