"""``/v1/session``: log in to the workbench, see who is logged in, log out.

Logging in sets the ``detector_session`` cookie (HttpOnly, SameSite=Lax,
Path=/, Secure over https) and answers the session's CSRF token, which every
later unsafe request must echo. Logins and failed logins are audited with the
username given, never the password. Login attempts are throttled per client
and per (username, client) before any password is looked at, and at most
:data:`MAX_VERIFYING` passwords are checked at once (see :class:`LoginThrottle`).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

#: failed logins for one username from one client, per window, before that pair is refused
MAX_FAILURES = 5
#: failed logins from one client, whatever the usernames, per window
MAX_CLIENT_FAILURES = 20
#: failed logins for one username from all clients, per window, before only the clients
#: that logged in as that user before may try it (see :class:`LoginThrottle`)
MAX_USERNAME_FAILURES = 100
WINDOW_SECONDS = 15 * 60
#: Argon2id checks at once in the process (each takes 64 MiB for about half a second)
MAX_VERIFYING = 2
#: how long a login waits for a free check before it is turned away (503)
VERIFY_WAIT_SECONDS = 2.0
#: how long a client that logged in as a user is remembered as that user's
KNOWN_CLIENT_SECONDS = 30 * 86400
_PERMISSIONS = ("read", "write", "reveal", "admin")


class Throttled(Exception):
    """A login refused before its password is looked at; ``wait`` seconds until it may try."""

    def __init__(self, wait: int, message: str) -> None:
        super().__init__(message)
        self.wait = wait


class Busy(Exception):
    """Every password check is taken and none came free in time."""


@dataclass(frozen=True)
class Attempt:
    """A login attempt let through: the slots it took, to give back if it succeeds."""

    username: str
    client: str
    at: float


class _Window:
    """Stamps per key over a sliding window, at most ``cap`` keys (the stalest go first).

    Keys are kept in the order they were last stamped (an ``OrderedDict``), so
    making room is O(1). A key never holds more stamps than ``limit``: an
    attempt over the limit is refused before it is stamped.
    """

    def __init__(self, limit: int, window: float, cap: int) -> None:
        self.limit = limit
        self.window = window
        self.cap = cap
        self.stamps: OrderedDict[Hashable, list[float]] = OrderedDict()

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` is below its limit again; 0 when it is now."""
        stamps = self.stamps.get(key)
        if stamps is None:
            return 0.0
        while stamps and stamps[0] <= now - self.window:
            stamps.pop(0)
        if not stamps:
            del self.stamps[key]
            return 0.0
        if len(stamps) < self.limit:
            return 0.0
        return stamps[-self.limit] + self.window - now

    def add(self, key: Hashable, now: float) -> None:
        stamps = self.stamps.get(key)
        if stamps is None:
            if len(self.stamps) >= self.cap:
                self.stamps.popitem(last=False)
            stamps = self.stamps[key] = []
        else:
            self.stamps.move_to_end(key)
        stamps.append(now)

    def remove(self, key: Hashable, stamp: float) -> None:
        stamps = self.stamps.get(key)
        if stamps is not None and stamp in stamps:
            stamps.remove(stamp)
            if not stamps:
                del self.stamps[key]


def _client_key(client: str) -> str:
    """The client as counted: its address, or the /64 network of an IPv6 address.

    An IPv6 host is usually given a whole /64 and can pick a new address for
    every attempt; anything that is not an address (a test client's name) is
    taken as it is.
    """
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is the IPv4 client 1.2.3.4
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class LoginThrottle:
    """Admission of login attempts: failures per client and per (username, client), and
    a bound on the password checks running at once; in this process's memory.

    An attempt takes its slots (:meth:`begin`) *before* its password is
    checked, under one lock, so concurrent attempts cannot get past a limit
    between the check and the count; a right password gives its slots back
    (:meth:`succeeded`), and an attempt turned away before its check
    (:meth:`cancel`). Everything else counts as a failure.

    Three limits, each over a sliding window of ``window`` seconds:

    * ``max_failures`` per (username, client): the lockout against guessing
      one account's password. A stranger's failures lock the stranger's
      client only, never the holder's (a lock anyone could trigger would be a
      denial of service).
    * ``max_per_client`` per client, whatever the usernames: a client trying
      ever-new (often unknown) usernames, each costing a 64 MiB Argon2 check,
      is refused after that many.
    * ``max_per_username`` per username from all clients, high (100): guesses
      at one account spread over many clients (a botnet, at ``max_failures``
      each). Past it, only the clients that logged in as that user within
      ``known_for`` seconds may still try it. So it cannot lock the holder out
      of the client they use, and to make the holder wait on a new one a
      stranger needs ``max_per_username`` failures from
      ``max_per_username / max_failures`` (20) different clients in the window.

    The client is the address :func:`service.deps.client_ip` gives (an IPv6
    one counts as its /64). Without ``DETECTOR_TRUST_PROXY=1`` behind a proxy
    every request seems to come from the proxy, and the per-client limits
    then hold for everyone together: set it behind a proxy.

    :meth:`verifying` admits at most ``max_verifying`` password checks at
    once: each Argon2id check takes 64 MiB, so a flood of logins cannot grow
    the process (the probe saw 398 -> 1,326 MB) nor starve the scoring path;
    a login that waits ``verify_wait`` seconds without a free check is turned
    away.

    Notes
    -----
    Per process: with several workers an attacker gets the limits once per
    worker, and a restart forgets them (and the known clients). That still
    turns password guessing from thousands a second into a handful an hour; a
    shared counter (Redis) would make the limits exact. Usernames are folded
    to lower case, as logins are (:func:`service.cases.security.find_user`).
    Memory is bounded: each table holds at most ``max_entries`` keys (the
    stalest go first) and no key more stamps than its limit.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        max_per_client: int = MAX_CLIENT_FAILURES,
        max_per_username: int = MAX_USERNAME_FAILURES,
        max_entries: int = 50_000,
        max_verifying: int = MAX_VERIFYING,
        verify_wait: float = VERIFY_WAIT_SECONDS,
        known_for: float = KNOWN_CLIENT_SECONDS,
        clock: Any = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.max_per_client = max_per_client
        self.max_per_username = max_per_username
        self.max_entries = max_entries
        self.max_verifying = max_verifying
        self.verify_wait = verify_wait
        self.known_for = known_for
        self.clock = clock
        self._pairs = _Window(max_failures, window, max_entries)
        self._clients = _Window(max_per_client, window, max_entries)
        self._usernames = _Window(max_per_username, window, max_entries)
        #: (username, client) -> when that client last logged in as that user
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(max_verifying)

    def _is_known(self, pair: tuple[str, str], now: float) -> bool:
        since = self._known.get(pair)
        if since is None:
            return False
        if since <= now - self.known_for:
            del self._known[pair]
            return False
        return True

    def begin(self, username: str, client: str) -> Attempt:
        """Take the slots of one attempt, or refuse it.

        Raises
        ------
        Throttled
            When a limit is reached, with the seconds until it may try again.
        """
        name, who = username.strip().lower(), _client_key(client)
        minutes = f"{self.window / 60:.0f} minutes"
        with self._lock:
            now = self.clock()
            waits = [
                (
                    self._pairs.wait((name, who), now),
                    f"too many failed logins for this username from this address: at most "
                    f"{self.max_failures} in {minutes}",
                ),
                (
                    self._clients.wait(who, now),
                    f"too many failed logins from this address: at most "
                    f"{self.max_per_client} in {minutes}, whatever the usernames",
                ),
            ]
            if not self._is_known((name, who), now):
                waits.append(
                    (
                        self._usernames.wait(name, now),
                        f"too many failed logins for this username: at most "
                        f"{self.max_per_username} in {minutes} from addresses it was not "
                        "used from before",
                    )
                )
            wait, message = max(waits, key=lambda w: w[0])
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise Throttled(seconds, f"{message}; try again in {seconds} seconds")
            self._pairs.add((name, who), now)
            self._clients.add(who, now)
            self._usernames.add(name, now)
        return Attempt(name, who, now)

    def _give_back(self, attempt: Attempt) -> None:
        self._clients.remove(attempt.client, attempt.at)
        self._usernames.remove(attempt.username, attempt.at)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: give the slots back, forget the pair's failures, and
        remember the client as one this user logs in from."""
        pair = (attempt.username, attempt.client)
        with self._lock:
            self._give_back(attempt)
            self._pairs.stamps.pop(pair, None)
            self._known.pop(pair, None)
            if len(self._known) >= self.max_entries:
                self._known.popitem(last=False)
            self._known[pair] = self.clock()

    def cancel(self, attempt: Attempt) -> None:
        """The password was never checked (no check came free): the attempt does not count."""
        with self._lock:
            self._give_back(attempt)
            self._pairs.remove((attempt.username, attempt.client), attempt.at)

    @contextmanager
    def verifying(self) -> Iterator[None]:
        """Hold one of the ``max_verifying`` password checks while the body runs.

        Raises
        ------
        Busy
            When none came free within ``verify_wait`` seconds.
        """
        if not self._checks.acquire(timeout=self.verify_wait):
            raise Busy
        try:
            yield
        finally:
            self._checks.release()

    def sizes(self) -> dict[str, int]:
        """Keys held per table (for tests and a look at the memory it takes)."""
        with self._lock:
            return {
                "pairs": len(self._pairs.stamps),
                "clients": len(self._clients.stamps),
                "usernames": len(self._usernames.stamps),
                "known": len(self._known),
            }

    def stamps(self) -> int:
        """Stamps held in all tables together."""
        with self._lock:
            tables = (self._pairs, self._clients, self._usernames)
            return sum(len(v) for t in tables for v in t.stamps.values())


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
        429 (with ``Retry-After``) when the client, or the username from this
        client, failed too often (see :class:`LoginThrottle`), whatever the
        password; 503 (``Retry-After``) when no password check came free in
        time; 401 for an unknown user or a wrong password.
    """
    throttle: LoginThrottle = request.app.state.login_throttle
    ip = client_ip(request)
    try:
        attempt = throttle.begin(username, ip)
    except Throttled as exc:
        with store.session() as s:
            audit.record(
                s, None, "login_failed", username=username, ip=ip, detail={"throttled": True}
            )
        raise HTTPException(
            status_code=429, detail=str(exc), headers={"Retry-After": str(exc.wait)}
        ) from None
    try:
        with throttle.verifying(), store.session() as s:
            user = authenticate(s, username, password)
            if user is None:
                audit.record(s, None, "login_failed", username=username, ip=ip)
            else:
                end_session(s, old)
                token, who = start_session(s, user)
                audit.record(s, who, "login", ip=ip)
    except Busy:
        throttle.cancel(attempt)  # a check takes about half a second: one may be free soon
        raise HTTPException(
            status_code=503,
            detail="the server is busy checking other logins; try again in a second",
            headers={"Retry-After": "1"},
        ) from None
    if user is None:
        raise HTTPException(status_code=401, detail="unknown user or wrong password")
    throttle.succeeded(attempt)
    return token, who


@router.post(
    "",
    response_model=SessionOut,
    summary="Log in: sets the session cookie, answers the CSRF token",
    responses={
        401: {"model": ErrorOut, "description": "unknown user or wrong password"},
        413: {"model": ErrorOut, "description": "request body too large"},
        429: {
            "model": ErrorOut,
            "description": "too many failed logins from this address (or for this username "
            "from it)",
        },
        503: {"model": ErrorOut, "description": "too many logins being checked at once"},
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
