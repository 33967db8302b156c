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
from typing import Any

from features.history import Query, Update
from features.ids import pseudonymiser


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


#: KEYS: count keys, last keys, first keys; ARGV: the three lengths, then (lo, hi) per
#: count, t per last, (lo, hi) per first. Answers counts, last scores (or nil), firsts.
_ANSWER = """
local n1, n2, n3 = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out, a = {}, 4
for i = 1, n1 do
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], ARGV[a], ARGV[a + 1])
  a = a + 2
end
for i = 1, n2 do
  local r = redis.call('ZREVRANGEBYSCORE', KEYS[n1 + i], ARGV[a], '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #r > 0 then out[#out + 1] = r[2] else out[#out + 1] = false end
  a = a + 1
end
for i = 1, n3 do
  out[#out + 1] = redis.call('ZCOUNT', KEYS[n1 + n2 + i], ARGV[a], ARGV[a + 1])
  a = a + 2
end
return out
"""
#: KEYS: event keys, pair keys, the ids set; ARGV: the two lengths, dossier id, t, others.
_ADD = """
local ne, ns, id, t = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
for i = 1, ne do redis.call('ZADD', KEYS[i], t, id) end
for i = 1, ns do redis.call('ZADD', KEYS[ne + i], 'LT', t, ARGV[4 + i]) end
redis.call('SADD', KEYS[ne + ns + 1], id)
return ne + ns
"""


class RedisStore:
    """The live history in Redis sorted sets, shared by every worker.

    Parameters
    ----------
    client : a ``redis.Redis`` connection.
    namespace : prefix of every key, so several histories can share a server.
    secret : key of the hash that pseudonymises IDs, phones and tokens.

    Notes
    -----
    One round trip per :meth:`answer` and one per :meth:`add`, each a Lua
    script (``EVALSHA``): a dossier asks some forty counts, and sending them as
    one script instead of a pipeline of forty commands cuts the client's work
    per dossier about threefold. An addition is atomic, as a ``MULTI`` was.
    ``ZADD ... LT`` keeps the earliest sighting of a pair, whatever order
    workers write in. The keys of one dossier may live in different hash
    slots, so this needs a single Redis server (or a proxy), not Redis Cluster.
    """

    def __init__(self, client: Any, namespace: str, secret: bytes) -> None:
        self.client = client
        self.namespace = namespace
        self._h = pseudonymiser(secret, digest_size=12)
        self._answer = client.register_script(_ANSWER)
        self._add = client.register_script(_ADD)

    def _ev(self, i: int, key: str) -> str:
        return f"{self.namespace}:e:{i}:{self._h(key)}"

    def _pr(self, i: int, key: str) -> str:
        return f"{self.namespace}:p:{i}:{self._h(key)}"

    def answer(self, q: Query) -> tuple[list[int], list[int | None], list[int]]:
        """See :meth:`features.history.LiveStore.answer`."""
        keys = [self._ev(i, key) for i, key, _, _ in q.counts]
        keys += [self._ev(i, key) for i, key, _ in q.lasts]
        keys += [self._pr(i, key) for i, key, _, _ in q.firsts]
        args: list[int | str] = [len(q.counts), len(q.lasts), len(q.firsts)]
        for _, _, lo, hi in q.counts:
            args += [lo, f"({hi}"]
        args += [t for _, _, t in q.lasts]
        for _, _, lo, hi in q.firsts:
            args += [lo, f"({hi}"]
        res = self._answer(keys=keys, args=args)
        n1, n2 = len(q.counts), len(q.counts) + len(q.lasts)
        lasts = [None if r is None else int(float(r)) for r in res[n1:n2]]
        return [int(x) for x in res[:n1]], lasts, [int(x) for x in res[n2:]]

    def add(self, u: Update) -> None:
        """See :meth:`features.history.LiveStore.add`."""
        keys = [self._ev(i, key) for i, key in u.events]
        keys += [self._pr(i, key) for i, key, _ in u.sightings]
        keys.append(f"{self.namespace}:ids")
        args = [len(u.events), len(u.sightings), u.dossier_id, u.t]
        args += [self._h(other) for _, _, other in u.sightings]
        self._add(keys=keys, args=args)

    def size(self) -> int:
        """See :meth:`features.history.LiveStore.size`."""
        return int(self.client.scard(f"{self.namespace}:ids"))

    def clear(self) -> None:
        """Delete every key of this namespace (tests and a fresh start)."""
        keys = list(self.client.scan_iter(match=f"{self.namespace}:*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])
