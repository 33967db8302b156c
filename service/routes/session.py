"""``/v1/session``: log in to the workbench, see who is logged in, log out.

Logging in sets the ``detector_session`` cookie (HttpOnly, SameSite=Lax,
Path=/, Secure over https) and answers the session's CSRF token, which every
later unsafe request must echo. Logins and failed logins are audited with the
username given, never the password. After :data:`MAX_FAILURES` failed logins
for one username within :data:`WINDOW_SECONDS`, that username is refused
(429) until the oldest failure ages out, whatever the password.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from service.cases import audit
from service.cases.db import CaseStore
from service.cases.security import Who, authenticate, end_session, start_session
from service.deps import (
    CasesDep,
    CurrentUser,
    clear_session_cookie,
    client_ip,
    session_token,
    set_session_cookie,
)
from service.review_schemas import LoginIn, SessionOut
from service.schemas import ErrorOut

router = APIRouter(prefix="/v1/session", tags=["session"])

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
_PERMISSIONS = ("read", "write", "reveal", "admin")


class LoginThrottle:
    """Failed logins per username over a sliding window, in this process's memory.

    Notes
    -----
    Per process: with several workers an attacker gets ``MAX_FAILURES`` tries
    per worker and window, and a restart forgets the count. That still turns
    password guessing from thousands a second into a handful an hour; a shared
    counter (Redis) would make the limit exact. Usernames are folded to lower
    case so ``Admin`` and ``admin`` share a count. Memory is bounded: empty
    entries are dropped, and past ``max_users`` names the stalest go first.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        max_users: int = 100_000,
        clock: Any = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_users = max_users
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, username: str) -> int:
        """Seconds until ``username`` may try again; 0 when it may now."""
        key = username.strip().lower()
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if times is None or len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[-self.max_failures] + self.window - now))

    def failed(self, username: str) -> None:
        """Count one failed login for ``username``."""
        key = username.strip().lower()
        with self._lock:
            now = self.clock()
            times = self._recent(key, now)
            if times is None:
                if len(self._failures) >= self.max_users:
                    stalest = min(self._failures, key=lambda k: self._failures[k][-1])
                    del self._failures[stalest]
                times = self._failures[key] = deque()
            times.append(now)

    def succeeded(self, username: str) -> None:
        """Forget the failures of ``username`` (its password was just given right)."""
        with self._lock:
            self._failures.pop(username.strip().lower(), None)


def _session_out(who: Who) -> dict[str, Any]:
    return {
        "username": who.username,
        "display_name": who.display_name,
        "role": who.role,
        "csrf_token": who.csrf_token,
        "permissions": [p for p in _PERMISSIONS if who.may(p)],
    }


def log_in(
    request: Request, store: CaseStore, username: str, password: str, old: str | None
) -> tuple[str, Who]:
    """Check a password (Argon2id, so call it off the event loop) and open a session.

    Shared by ``POST /v1/session`` and the login page. A session the browser
    already had (``old``) is ended, so a planted cookie cannot outlive the
    login (session fixation). Both outcomes are audited, with the username
    given and never the password.

    Returns
    -------
    tuple
        The session token (for :func:`service.deps.set_session_cookie`, shown
        once) and who logged in.

    Raises
    ------
    HTTPException
        429 (with ``Retry-After``) after too many failures for the username,
        whatever the password; 401 for an unknown user or a wrong password.
    """
    throttle: LoginThrottle = request.app.state.login_throttle
    ip = client_ip(request)
    wait = throttle.retry_after(username)
    if wait:
        with store.session() as s:
            audit.record(
                s, None, "login_failed", username=username, ip=ip, detail={"throttled": True}
            )
        raise HTTPException(
            status_code=429,
            detail=f"too many failed logins for this username: at most {throttle.max_failures} "
            f"in {throttle.window / 60:.0f} minutes; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    with store.session() as s:
        user = authenticate(s, username, password)
        if user is None:
            audit.record(s, None, "login_failed", username=username, ip=ip)
        else:
            end_session(s, old)
            token, who = start_session(s, user)
            audit.record(s, who, "login", ip=ip)
    if user is None:
        throttle.failed(username)
        raise HTTPException(status_code=401, detail="unknown user or wrong password")
    throttle.succeeded(username)
    return token, who


@router.post(
    "",
    response_model=SessionOut,
    summary="Log in: sets the session cookie, answers the CSRF token",
    responses={
        401: {"model": ErrorOut, "description": "unknown user or wrong password"},
        413: {"model": ErrorOut, "description": "request body too large"},
        429: {"model": ErrorOut, "description": "too many failed logins for this username"},
    },
)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    store: CasesDep,
    old: Annotated[str | None, Depends(session_token)],
) -> dict[str, Any]:
    """Check the password and open a session of ``SESSION_HOURS`` hours (see :func:`log_in`)."""
    token, who = log_in(request, store, body.username, body.password, old)
    set_session_cookie(request, response, token)
    response.headers["Cache-Control"] = "no-store"
    return _session_out(who)


@router.get(
    "",
    response_model=SessionOut,
    summary="Who is logged in (and the session's CSRF token)",
    responses={401: {"model": ErrorOut, "description": "not logged in"}},
)
def whoami(who: CurrentUser, response: Response) -> dict[str, Any]:
    """The session's user, role, permissions and CSRF token."""
    response.headers["Cache-Control"] = "no-store"
    return _session_out(who)


@router.delete(
    "",
    status_code=204,
    summary="Log out: ends the session and clears the cookie",
    responses={
        401: {"model": ErrorOut, "description": "not logged in"},
        403: {"model": ErrorOut, "description": "CSRF token missing or wrong"},
    },
)
def logout(
    who: CurrentUser,
    request: Request,
    store: CasesDep,
    token: Annotated[str | None, Depends(session_token)],
) -> Response:
    """End the session; the CSRF token is needed, so a forged request cannot log people out.

    Without a valid session there is nothing to end: 401, like every workbench call.
    """
    with store.session() as s:
        end_session(s, token)
        audit.record(s, who, "logout", ip=client_ip(request))
    response = Response(status_code=204)
    clear_session_cookie(request, response)
    return response
