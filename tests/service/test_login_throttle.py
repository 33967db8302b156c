"""Login throttling (issue #14): per client and per (username, client), atomic, bounded.

The app tests run the real workbench (SQLite, seeded by :mod:`review_fixtures`)
with ``DETECTOR_TRUST_PROXY=1``, so each request says which client it comes
from in ``X-Forwarded-For``; the password check is wrapped to count (and slow
down) the Argon2 verifications, which is what an attacker spends the server's
memory and time on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_fixtures import CHEAP, PASSWORD, seed

from service.app import create_app
from service.cases import security
from service.cases.db import CaseStore
from service.cases.models import AuditEntry
from service.routes import session
from service.routes.session import LoginThrottle, Throttled
from service.settings import Settings

WRONG = "not-the-password-42"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with small parameters (see review_fixtures.CHEAP)."""
    monkeypatch.setattr(security, "_hasher", CHEAP)
    monkeypatch.setattr(security, "_DUMMY", CHEAP.hash("not a password of anyone"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    cases = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    seed(cases)
    yield cases
    cases.dispose()


@pytest.fixture
def app(store: CaseStore, tmp_path: Path) -> FastAPI:
    """The workbench, believing X-Forwarded-For (so a test can speak as several clients)."""
    settings = Settings(
        state_dir=tmp_path, data_dir=None, model_dir=None, api_keys="", trust_proxy=True
    )
    return create_app(settings, cases=store)


@pytest.fixture
def wb(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


class Verifications:
    """Wraps the password check: counts calls, the most at once, and takes ``seconds`` each
    (so concurrent requests overlap, as real Argon2 at 64 MiB makes them)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._real = session.authenticate

    def __call__(self, *args: Any) -> Any:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            time.sleep(self.seconds)
            return self._real(*args)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], Verifications]:
    def make(seconds: float) -> Verifications:
        v = Verifications(seconds)
        monkeypatch.setattr(session, "authenticate", v)
        return v

    return make


def attempt(wb: TestClient, username: str, password: str, client: str) -> Any:
    return wb.post(
        "/v1/session",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": client},
    )


# ----------------------------------------------------------------- through the app
def test_concurrent_wrong_passwords_cannot_race_past_the_limit(
    wb: TestClient, verifications: Callable[[float], Verifications]
) -> None:
    """60 wrong passwords at once from one client for one user: the probe saw 34 checked.

    Each attempt takes its slot before its password is checked, so only the
    first five (``MAX_FAILURES``) are verified; the rest are 429 at once.
    """
    counted = verifications(0.05)
    with ThreadPoolExecutor(max_workers=30) as pool:
        codes = list(
            pool.map(lambda _: attempt(wb, "rita", WRONG, "7.7.7.7").status_code, range(60))
        )
    assert counted.calls == session.MAX_FAILURES
    assert sorted(codes) == [401] * session.MAX_FAILURES + [429] * (60 - session.MAX_FAILURES)


def test_ever_new_usernames_from_one_client_are_throttled(wb: TestClient) -> None:
    """The probe's flood: every attempt a new unknown username, never refused, each costing a
    64 MiB Argon2 check. The client's failures across usernames are counted too."""
    codes = [attempt(wb, f"ghost{i}", WRONG, "6.6.6.6").status_code for i in range(30)]
    assert codes == [401] * session.MAX_CLIENT_FAILURES + [429] * (30 - session.MAX_CLIENT_FAILURES)
    r = attempt(wb, "ghost-next", WRONG, "6.6.6.6")
    assert r.status_code == 429 and "from this address" in r.json()["detail"]
    assert 0 < int(r.headers["Retry-After"]) <= session.WINDOW_SECONDS
    # another client is not held back by the flood
    assert attempt(wb, "rita", PASSWORD, "5.5.5.5").status_code == 200


def test_a_stranger_cannot_lock_the_holder_out(wb: TestClient) -> None:
    """Five wrong passwords for rita from a stranger locked rita out for 15 minutes (429)
    whatever she sent: a denial of service anyone could trigger. Now the lock is the
    stranger's: it holds for that (username, client) pair only."""
    assert [attempt(wb, "rita", WRONG, "6.6.6.6").status_code for _ in range(5)] == [401] * 5
    assert attempt(wb, "rita", PASSWORD, "6.6.6.6").status_code == 429  # the stranger: locked
    assert attempt(wb, "rita", PASSWORD, "10.1.2.3").status_code == 200  # rita, elsewhere


def test_verifications_are_bounded_in_the_process(
    wb: TestClient, verifications: Callable[[float], Verifications]
) -> None:
    """Ten clients log in at once: at most two Argon2 checks run together (2 × 64 MiB),
    the others wait their turn instead of each taking its own 64 MiB."""
    counted = verifications(0.1)
    clients = [f"10.0.0.{i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda ip: attempt(wb, "rita", PASSWORD, ip).status_code, clients))
    assert codes == [200] * 10  # they waited (0.5 s in all), none was turned away
    assert counted.calls == 10 and counted.peak == session.MAX_VERIFYING


def test_a_login_that_waits_too_long_for_a_check_is_turned_away_uncounted(
    app: FastAPI, wb: TestClient, verifications: Callable[[float], Verifications]
) -> None:
    """When the checks are all taken for longer than the throttle waits: 503 with
    Retry-After, and the attempt is not a failure (its password was never looked at)."""
    app.state.login_throttle = LoginThrottle(max_verifying=1, verify_wait=0.05)
    counted = verifications(0.5)
    with ThreadPoolExecutor(max_workers=3) as pool:
        responses = list(pool.map(lambda ip: attempt(wb, "rita", WRONG, ip), ["1.1.1.1"] * 3))
    busy = [r for r in responses if r.status_code == 503]
    assert counted.calls == 1 and len(busy) == 2  # one check ran; the two others gave up
    assert all(r.headers["Retry-After"] == "1" and "busy" in r.json()["detail"] for r in busy)
    counted.seconds = 0
    # one failure counted (the check that ran), so four more wrong ones before the lock
    assert [attempt(wb, "rita", WRONG, "1.1.1.1").status_code for _ in range(5)] == [401] * 4 + [
        429
    ]


def test_login_is_throttled_after_five_failures_for_a_username_and_client(
    wb: TestClient, app: FastAPI, store: CaseStore
) -> None:
    now = [1_000.0]
    app.state.login_throttle = LoginThrottle(clock=lambda: now[0])

    def login(username: str, password: str = PASSWORD) -> int:
        return int(attempt(wb, username, password, "9.9.9.9").status_code)

    assert [login("rita", "guess-guess-1") for _ in range(5)] == [401] * 5
    # the sixth attempt is refused before the password is looked at, even the right one
    r = attempt(wb, "rita", PASSWORD, "9.9.9.9")
    assert r.status_code == 429, r.text
    assert "too many failed logins for this username" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) == 15 * 60
    assert login("RITA") == 429  # the count is per name, whatever its case
    assert login("adam") == 200  # another username is not held back by rita's failures
    with store.session() as s:
        failed = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "login_failed")))
    assert len(failed) == 7 and [e.detail for e in failed[-2:]] == [{"throttled": True}] * 2
    assert {e.ip for e in failed} == {"9.9.9.9"}
    now[0] += 15 * 60 + 1  # the failures age out of the window
    assert login("rita") == 200


# ----------------------------------------------------------------- the throttle itself
def test_a_slot_is_taken_before_the_check_and_a_success_gives_it_back() -> None:
    t = [0.0]
    throttle = LoginThrottle(max_failures=2, window=60, clock=lambda: t[0])
    first = throttle.begin("rita", "1.1.1.1")
    throttle.begin("rita", "1.1.1.1")  # two checks under way: the pair's slots are taken
    with pytest.raises(Throttled, match="for this username from this address") as refused:
        throttle.begin("Rita", "1.1.1.1")
    assert refused.value.wait == 60
    throttle.succeeded(first)  # the first was right: the pair's failures are forgotten
    throttle.begin("rita", "1.1.1.1")
    t[0] = 10.0
    throttle.begin("rita", "1.1.1.1")
    with pytest.raises(Throttled) as refused:
        throttle.begin("rita", "1.1.1.1")
    assert refused.value.wait == 50  # the second slot was taken at 0, and ages out at 60


def test_a_cancelled_attempt_does_not_count() -> None:
    throttle = LoginThrottle(max_failures=1, window=60, clock=lambda: 0.0)
    throttle.cancel(throttle.begin("rita", "1.1.1.1"))
    throttle.begin("rita", "1.1.1.1")
    with pytest.raises(Throttled):
        throttle.begin("rita", "1.1.1.1")


def test_the_per_username_limit_spares_the_holders_known_client() -> None:
    """Many strangers' failures for one username trip its (high) limit; from then on only
    clients that logged in as that user before may try it: a stranger cannot lock the
    holder out of the client they use, and a botnet cannot guess on without end."""
    t = [0.0]
    throttle = LoginThrottle(
        max_failures=5, max_per_client=5, max_per_username=6, window=60, clock=lambda: t[0]
    )
    throttle.succeeded(throttle.begin("rita", "10.0.0.1"))  # rita's own computer
    for i in range(6):  # six strangers, one wrong guess each
        throttle.begin("rita", f"6.6.6.{i}")
    with pytest.raises(Throttled, match="for this username"):
        throttle.begin("rita", "6.6.6.99")  # a seventh stranger
    throttle.begin("rita", "10.0.0.1")  # rita is let through to try her password
    throttle.begin("adam", "6.6.6.99")  # and other names are not affected


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True),  # one /64: one client
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("10.0.0.1", "10.0.0.2", False),
    ],
)
def test_an_ipv6_client_is_its_64_network(a: str, b: str, same: bool) -> None:
    """An IPv6 host is given a whole /64: counting per address would let it change address
    for every try."""
    throttle = LoginThrottle(max_failures=1, max_per_client=1, window=60, clock=lambda: 0.0)
    throttle.begin("rita", a)
    if same:
        with pytest.raises(Throttled, match="from this address"):
            throttle.begin("adam", b)
    else:
        throttle.begin("adam", b)


def test_the_throttle_keeps_its_memory_bounded() -> None:
    """A flood of new names from many clients: each table stays at ``max_entries`` keys,
    the stalest going first, and no key holds more stamps than its limit."""
    t = [0.0]
    throttle = LoginThrottle(max_failures=2, max_per_client=3, window=60, max_entries=50,
                             clock=lambda: t[0])  # fmt: skip
    for c in range(100):
        for u in range(3):
            throttle.begin(f"user{c}-{u}", f"10.0.{c}.1")
            t[0] += 0.001
    sizes = throttle.sizes()
    assert sizes and all(n <= 50 for n in sizes.values()), sizes
    assert throttle.stamps() <= 50 * (2 + 3 + throttle.max_per_username)
    # the freshest client is still remembered: its fourth failure is refused
    with pytest.raises(Throttled):
        throttle.begin("another", "10.0.99.1")
    throttle.begin("another", "10.0.0.1")  # the stalest was forgotten to make room
