"""The online counters (frozen history + live store) equal the batch counters.

Random events with few distinct keys (so keys repeat), missing keys, ties in
time and random flags exercise every counter kind; the batch value of
:func:`features.pit.compute_counter` over the whole history is the truth.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from features.defs import COUNTERS
from features.history import FrozenHistory, LiveStore, OnlineCounters
from features.pit import DAY, compute_counter
from features.stores import MemoryStore, RedisStore

KEYS = (
    "account_id",
    "device_id",
    "ip",
    "contact_phone",
    "payer_token",
    "owner_id",
    "procedure_code",
    "_account_device",
    "_unit_month",
)
FLAGS = ("_unlinked", "_unrelated", "_holder_staff", "_holder_team", "_self", "_office", "_online")
FLAGS += ("_owner_deceased",)


def random_events(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Events in submission order; small vocabularies so keys and pairs repeat."""
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for j, col in enumerate(KEYS):
        values = np.array([f"{col[:3]}{k}" for k in rng.integers(0, 40 + 10 * j, n)], object)
        values[rng.random(n) < 0.15] = None  # missing keys count for nothing
        cols[col] = pd.Series(values, dtype="str")
    for col in FLAGS:
        cols[col] = rng.random(n) < 0.5
    # ~200 days, with many exact ties (coarse seconds)
    t = np.sort(rng.integers(0, 200 * DAY // 3600, n) * 3600)
    return pd.DataFrame(cols), t


def _redis_store() -> Iterator[RedisStore]:
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379: the Redis store was not tested")
    store = RedisStore(client, f"test-{uuid.uuid4().hex[:8]}", b"test secret")
    yield store
    store.clear()


@pytest.fixture(params=["memory", "redis"])
def live(request: pytest.FixtureRequest) -> Iterator[LiveStore]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        yield from _redis_store()


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("cut", [0.0, 0.6])
def test_online_counters_equal_batch(live: LiveStore, cut: float) -> None:
    n = 1500
    events, t = random_events(n, seed=3)
    truth = {c.name: compute_counter(events, c, t) for c in COUNTERS}
    k = int(n * cut)
    online = OnlineCounters(FrozenHistory(events.iloc[:k], t[:k]), live)
    bad: list[str] = []
    for i in range(k, n):
        row = events.iloc[i]
        event = {c: (row[c] if isinstance(row[c], str) else None) for c in KEYS}
        event |= {f: bool(row[f]) for f in FLAGS}
        got = online.values(event, int(t[i]))
        bad += [
            f"row {i} {name}: online {got[name]} batch {truth[name][i]}"
            for name in got
            if not _same(got[name], truth[name][i])
        ]
        live.add(online.update(f"d{i}", event, int(t[i])))
    assert not bad, "\n".join(bad[:20])
    assert live.size() == n - k


def test_adding_a_dossier_twice_counts_once(live: LiveStore) -> None:
    events, t = random_events(50, seed=5)
    online = OnlineCounters(FrozenHistory(events.iloc[:0], t[:0]), live)
    event = {c: "same" for c in KEYS} | {f: True for f in FLAGS}
    for _ in range(3):  # the same dossier, as after a crash and a replay of the log
        live.add(online.update("d1", event, 1000))
    live.add(online.update("d2", event | {"owner_id": "other"}, 2000))
    got = online.values(event, 5000)
    assert got["acct_prior"] == 2  # d1 once, d2 once
    assert got["acct_owners"] == 2  # 'same' and 'other'
    assert got["acct_idle_s"] == 3000
    assert live.size() == 2


def test_missing_key_is_unknown_not_zero(live: LiveStore) -> None:
    events, t = random_events(100, seed=7)
    online = OnlineCounters(FrozenHistory(events, t), live)
    got = online.values({"account_id": None, "device_id": "dev1"}, int(t[-1]) + 1)
    assert math.isnan(got["acct_prior"]) and math.isnan(got["acct_idle_s"])
    assert got["dev_prior"] >= 0
