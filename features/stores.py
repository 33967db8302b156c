"""Live stores of the online history: the dossiers scored since start-up.

Two implementations of :class:`features.history.LiveStore` that pass the same
tests:

- :class:`MemoryStore` — plain dicts and sorted lists in the process (the
  embedded default, one worker);
- :class:`RedisStore` — sorted sets in Redis, so several workers and hosts see
  one history. Keys and other values (account, device, phone, owner) are
  pseudonymised with a keyed hash before they reach Redis.

Both are idempotent by dossier: an event is stored under its ``dossier_id``, so
replaying the durable log after a crash cannot count a dossier twice.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Any

from features.history import Query, Update


class MemoryStore:
    """The live history in this process's memory."""

    def __init__(self) -> None:
        self._events: dict[tuple[int, str], list[int]] = {}
        self._firsts: dict[tuple[int, str], tuple[dict[str, int], list[int]]] = {}
        self._ids: set[str] = set()

    def answer(self, q: Query) -> tuple[list[int], list[int | None], list[int]]:
        """See :meth:`features.history.LiveStore.answer`."""
        counts = []
        for i, key, lo, hi in q.counts:
            times = self._events.get((i, key))
            counts.append(
                bisect.bisect_left(times, hi) - bisect.bisect_left(times, lo) if times else 0
            )
        lasts: list[int | None] = []
        for i, key, t in q.lasts:
            times = self._events.get((i, key))
            j = bisect.bisect_right(times, t) if times else 0
            lasts.append(times[j - 1] if times and j else None)
        firsts = []
        for i, key, lo, hi in q.firsts:
            entry = self._firsts.get((i, key))
            firsts.append(
                bisect.bisect_left(entry[1], hi) - bisect.bisect_left(entry[1], lo) if entry else 0
            )
        return counts, lasts, firsts

    def add(self, u: Update) -> None:
        """See :meth:`features.history.LiveStore.add`."""
        if u.dossier_id in self._ids:
            return
        self._ids.add(u.dossier_id)
        for i, key in u.events:
            bisect.insort(self._events.setdefault((i, key), []), u.t)
        for i, key, other in u.sightings:
            seen, times = self._firsts.setdefault((i, key), ({}, []))
            old = seen.get(other)
            if old is not None and old <= u.t:
                continue
            if old is not None:  # a dossier that arrived late but happened earlier
                del times[bisect.bisect_left(times, old)]
            seen[other] = u.t
            bisect.insort(times, u.t)

    def size(self) -> int:
        """See :meth:`features.history.LiveStore.size`."""
        return len(self._ids)

    def clear(self) -> None:
        """Forget every live dossier (tests and reloads)."""
        self.__init__()  # type: ignore[misc]


class RedisStore:
    """The live history in Redis sorted sets, shared by every worker.

    Parameters
    ----------
    client : a ``redis.Redis`` connection.
    namespace : prefix of every key, so several histories can share a server.
    secret : key of the hash that pseudonymises IDs, phones and tokens.

    Notes
    -----
    One pipelined round trip per :meth:`answer` and one per :meth:`add`.
    ``ZADD ... LT`` keeps the earliest sighting of a pair, whatever order
    workers write in.
    """

    def __init__(self, client: Any, namespace: str, secret: bytes) -> None:
        self.client = client
        self.namespace = namespace
        self._secret = hashlib.blake2b(secret, digest_size=32).digest()

    def _h(self, value: str) -> str:
        return hashlib.blake2b(value.encode(), key=self._secret, digest_size=12).hexdigest()

    def _ev(self, i: int, key: str) -> str:
        return f"{self.namespace}:e:{i}:{self._h(key)}"

    def _pr(self, i: int, key: str) -> str:
        return f"{self.namespace}:p:{i}:{self._h(key)}"

    def answer(self, q: Query) -> tuple[list[int], list[int | None], list[int]]:
        """See :meth:`features.history.LiveStore.answer`."""
        pipe = self.client.pipeline(transaction=False)
        for i, key, lo, hi in q.counts:
            pipe.zcount(self._ev(i, key), lo, f"({hi}")
        for i, key, t in q.lasts:
            pipe.zrevrangebyscore(self._ev(i, key), t, "-inf", start=0, num=1, withscores=True)
        for i, key, lo, hi in q.firsts:
            pipe.zcount(self._pr(i, key), lo, f"({hi}")
        res = pipe.execute()
        n1, n2 = len(q.counts), len(q.counts) + len(q.lasts)
        lasts = [int(r[0][1]) if r else None for r in res[n1:n2]]
        return [int(x) for x in res[:n1]], lasts, [int(x) for x in res[n2:]]

    def add(self, u: Update) -> None:
        """See :meth:`features.history.LiveStore.add`."""
        pipe = self.client.pipeline(transaction=True)
        for i, key in u.events:
            pipe.zadd(self._ev(i, key), {u.dossier_id: u.t})
        for i, key, other in u.sightings:
            pipe.zadd(self._pr(i, key), {self._h(other): u.t}, lt=True)
        pipe.sadd(f"{self.namespace}:ids", u.dossier_id)
        pipe.execute()

    def size(self) -> int:
        """See :meth:`features.history.LiveStore.size`."""
        return int(self.client.scard(f"{self.namespace}:ids"))

    def clear(self) -> None:
        """Delete every key of this namespace (tests and a fresh start)."""
        keys = list(self.client.scan_iter(match=f"{self.namespace}:*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])
