"""The history counters of :mod:`features.defs`, one dossier at a time.

The scoring API answers "what had this account, device, phone ... done
*before* this dossier?" while the citizen waits. It keeps the same counters
as the batch pipeline (:mod:`features.pit`), from the same declarations, in
two parts:

- :class:`FrozenHistory` — the data folder's dossiers, built once, vectorised,
  as compact sorted arrays (per key: the event times; per key and other value:
  the first time the pair was seen);
- a live store (:mod:`features.stores`) — the dossiers scored since, in
  memory for one process or in Redis when several workers share it.

A counter's value is the frozen part plus the live part, with exactly the
batch semantics: only events strictly before ``t`` count (``Last`` also sees
an earlier tie, as the batch's stable sort does), a missing key gives NaN, an
event whose key or other value is missing counts for nothing.

Notes
-----
Frozen arrays are CSR-like: for a key code ``c`` its events are
``times[offsets[c]:offsets[c + 1]]``, sorted, searched with :mod:`bisect`
(``array('q')`` indexes as Python ints, so no NumPy call per lookup). Memory
is 8 bytes per event and per first sighting, plus one dict entry per distinct
key value.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from features.compute import history_event_frame
from features.defs import COUNTERS
from features.pit import Count, Counter, Distinct, Last, NewDistinct, seconds

NAN = math.nan
#: an open lower bound (earlier than any timestamp)
NEVER = -(2**62)


@dataclass(frozen=True)
class Stream:
    """Events of one key column, optionally only those where a flag holds."""

    key: str
    where: str | None


@dataclass(frozen=True)
class Pairs:
    """First sightings of (key, other) pairs, optionally only where a flag holds."""

    key: str
    other: str
    where: str | None


def plan(counters: tuple[Counter, ...] = COUNTERS) -> tuple[list[Stream], list[Pairs]]:
    """The distinct event streams and pair sets the counters read (shared where they coincide)."""
    streams: list[Stream] = []
    pairs: list[Pairs] = []
    for c in counters:
        if isinstance(c, Count):
            s = Stream(c.key, c.where)
        elif isinstance(c, Last):
            s = Stream(c.key, None)
        else:
            p = Pairs(c.key, c.other, c.where)
            if p not in pairs:
                pairs.append(p)
            continue
        if s not in streams:
            streams.append(s)
    return streams, pairs


def _vocab(values: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), dict(zip(uniques.tolist(), range(len(uniques)), strict=True))


def _csr(codes: np.ndarray, t: np.ndarray, n: int) -> tuple[array, array]:
    order = np.lexsort((t, codes))
    offsets = np.searchsorted(codes[order], np.arange(n + 1), "left")
    return array("q", offsets.tolist()), array("q", t[order].tolist())


@dataclass
class _FrozenPairs:
    offsets: array  # per key code: its pairs' slice
    others: array  # other codes, sorted within each key (membership)
    first_by_other: array  # first sighting of each (key, other), aligned with ``others``
    firsts: array  # the same first sightings, sorted within each key (counting)


class FrozenHistory:
    """The counters' events from a fixed history (the data folder), in compact sorted arrays.

    Parameters
    ----------
    events : one row per history dossier with the key and other columns the
        counters read and their boolean ``where`` flags (``compute.event_frame``).
    t : the rows' submission times, int64 seconds since the epoch.
    counters : the counter declarations (default: :data:`COUNTERS`).
    """

    def __init__(
        self, events: pd.DataFrame, t: np.ndarray, counters: tuple[Counter, ...] = COUNTERS
    ) -> None:
        self.counters = counters
        self.streams, self.pairs = plan(counters)
        columns = {s.key for s in self.streams} | {p.key for p in self.pairs}
        columns |= {p.other for p in self.pairs}
        codes: dict[str, np.ndarray] = {}
        self.vocab: dict[str, dict[str, int]] = {}
        for col in sorted(columns):
            codes[col], self.vocab[col] = _vocab(events[col])
        t = np.asarray(t, np.int64)
        self.n_events = len(t)
        self._streams: list[tuple[array, array]] = []
        for s in self.streams:
            sel = codes[s.key] >= 0
            if s.where is not None:
                sel &= events[s.where].fillna(False).to_numpy(bool)
            self._streams.append(_csr(codes[s.key][sel], t[sel], len(self.vocab[s.key])))
        self._pairs: list[_FrozenPairs] = []
        for p in self.pairs:
            self._pairs.append(self._build_pairs(p, events, codes, t))

    def _build_pairs(
        self, p: Pairs, events: pd.DataFrame, codes: dict[str, np.ndarray], t: np.ndarray
    ) -> _FrozenPairs:
        k, o = codes[p.key], codes[p.other]
        sel = (k >= 0) & (o >= 0)
        if p.where is not None:
            sel &= events[p.where].fillna(False).to_numpy(bool)
        firsts = (
            pd.DataFrame({"k": k[sel], "o": o[sel], "t": t[sel]})
            .groupby(["k", "o"], sort=True)["t"]
            .min()
            .reset_index()
        )
        kk, oo, tt = (firsts[c].to_numpy(np.int64) for c in ("k", "o", "t"))
        n = len(self.vocab[p.key])
        offsets = np.searchsorted(kk, np.arange(n + 1), "left")
        by_time = np.lexsort((tt, kk))
        return _FrozenPairs(
            offsets=array("q", offsets.tolist()),
            others=array("q", oo.tolist()),
            first_by_other=array("q", tt.tolist()),
            firsts=array("q", tt[by_time].tolist()),
        )

    # ------------------------------------------------------------------ queries
    def count(self, stream: int, key: str, lo: int, hi: int) -> int:
        """Events of the stream with this key in ``[lo, hi)``."""
        c = self.vocab[self.streams[stream].key].get(key)
        if c is None:
            return 0
        offsets, times = self._streams[stream]
        s, e = offsets[c], offsets[c + 1]
        return bisect.bisect_left(times, hi, s, e) - bisect.bisect_left(times, lo, s, e)

    def last(self, stream: int, key: str, t: int, strict: bool = False) -> int | None:
        """The latest event time of the key at or before ``t`` (before it when ``strict``)."""
        c = self.vocab[self.streams[stream].key].get(key)
        if c is None:
            return None
        offsets, times = self._streams[stream]
        s, e = offsets[c], offsets[c + 1]
        j = (bisect.bisect_left if strict else bisect.bisect_right)(times, t, s, e)
        return times[j - 1] if j > s else None

    def first_count(self, pairs: int, key: str, lo: int, hi: int) -> int:
        """Pairs of the key first seen in ``[lo, hi)``."""
        c = self.vocab[self.pairs[pairs].key].get(key)
        if c is None:
            return 0
        fp = self._pairs[pairs]
        s, e = fp.offsets[c], fp.offsets[c + 1]
        return bisect.bisect_left(fp.firsts, hi, s, e) - bisect.bisect_left(fp.firsts, lo, s, e)

    def first_seen(self, pairs: int, key: str, other: str) -> int | None:
        """When the history first saw the pair (None when it never did)."""
        p = self.pairs[pairs]
        c = self.vocab[p.key].get(key)
        o = self.vocab[p.other].get(other)
        if c is None or o is None:
            return None
        fp = self._pairs[pairs]
        s, e = fp.offsets[c], fp.offsets[c + 1]
        j = bisect.bisect_left(fp.others, o, s, e)
        return fp.first_by_other[j] if j < e and fp.others[j] == o else None


#: event columns that hold personal data (a citizen or business ID, a phone, a payment
#: token): the scoring API's history and its log keep them pseudonymised
PERSONAL_KEYS = ("owner_id", "contact_phone", "payer_token")


def history_events(
    tables: dict[str, pd.DataFrame],
    present: frozenset[str],
    pseudonymise: Callable[[str], str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The data folder's dossiers as counter events (keys and flags, as the batch makes them).

    Parameters
    ----------
    tables, present
        ``Dataset.tables`` and ``Dataset.present``.
    pseudonymise
        When given, the :data:`PERSONAL_KEYS` columns hold its pseudonyms
        instead of the values (hashed once per distinct value). Counters only
        compare values, so they come out the same.

    Returns
    -------
    tuple
        The event frame (:func:`features.compute.history_event_frame`) and the
        submission times in int64 seconds, for :class:`FrozenHistory`.
    """
    events = history_event_frame(tables, present)
    if pseudonymise is not None:
        for col in PERSONAL_KEYS:
            codes, uniques = pd.factorize(events[col], use_na_sentinel=True)
            hidden = np.array([pseudonymise(v) for v in uniques.tolist()] + [None], dtype=object)
            events[col] = pd.Series(hidden[codes], index=events.index, dtype=object)
    return events, seconds(tables["dossiers"]["submitted_at"])


def hide_personal_keys(
    event: dict[str, object], pseudonymise: Callable[[str], str] | None
) -> dict[str, object]:
    """One event with its :data:`PERSONAL_KEYS` pseudonymised, as :func:`history_events` does."""
    if pseudonymise is not None:
        for col in PERSONAL_KEYS:
            value = event.get(col)
            if value.__class__ is str:
                event[col] = pseudonymise(value)  # type: ignore[arg-type]
    return event


# ---------------------------------------------------------------------- live part
@dataclass
class Query:
    """What one dossier asks the live store, built by :meth:`OnlineCounters.queries`."""

    counts: list[tuple[int, str, int, int]] = field(default_factory=list)  # stream, key, lo, hi
    lasts: list[tuple[int, str, int]] = field(default_factory=list)  # stream, key, t
    firsts: list[tuple[int, str, int, int]] = field(default_factory=list)  # pairs, key, lo, hi


@dataclass
class Update:
    """What one scored dossier adds to the live store."""

    dossier_id: str
    t: int
    events: list[tuple[int, str]] = field(default_factory=list)  # stream, key
    sightings: list[tuple[int, str, str]] = field(default_factory=list)  # pairs, key, other


class LiveStore(Protocol):
    """The dossiers scored since start-up: answers a :class:`Query`, takes an :class:`Update`.

    Implementations: :class:`features.stores.MemoryStore` (one process) and
    :class:`features.stores.RedisStore` (shared by workers and hosts).
    """

    def answer(self, q: Query) -> tuple[list[int], list[int | None], list[int]]:
        """Counts, last times (None = none) and first-sighting counts, in the query's order."""
        ...

    def add(self, u: Update) -> None:
        """Record a dossier's events; adding the same dossier twice changes nothing."""
        ...

    def size(self) -> int:
        """How many dossiers the store holds."""
        ...


class OnlineCounters:
    """Every history counter of one dossier: the frozen history plus the live store.

    Parameters
    ----------
    frozen : the data folder's history.
    live : the store of dossiers scored since.
    """

    def __init__(self, frozen: FrozenHistory, live: LiveStore) -> None:
        self.frozen = frozen
        self.live = live
        self.counters = frozen.counters
        self.streams, self.pairs = frozen.streams, frozen.pairs
        s_idx = {s: i for i, s in enumerate(self.streams)}
        p_idx = {p: i for i, p in enumerate(self.pairs)}
        # per counter: (kind, index into streams/pairs, key column, window)
        self._plan: list[tuple[str, int, str, int | None]] = []
        for c in self.counters:
            if isinstance(c, Count):
                self._plan.append(("count", s_idx[Stream(c.key, c.where)], c.key, c.window))
            elif isinstance(c, Last):
                self._plan.append(("last", s_idx[Stream(c.key, None)], c.key, None))
            else:
                window = c.window if isinstance(c, NewDistinct) else None
                assert isinstance(c, Distinct | NewDistinct)
                self._plan.append(("first", p_idx[Pairs(c.key, c.other, c.where)], c.key, window))
        # the same plan with the frozen arrays each counter reads, for :meth:`values`
        self._fast: list[tuple[str, str, int, str, int | None, dict[str, int], array, array]] = []
        for c, (kind, i, key_col, window) in zip(self.counters, self._plan, strict=True):
            if kind == "first":
                fp = frozen._pairs[i]
                offsets, times = fp.offsets, fp.firsts
            else:
                offsets, times = frozen._streams[i]
            self._fast.append(
                (c.name, kind, i, key_col, window, frozen.vocab[key_col], offsets, times)
            )

    def queries(self, event: Mapping[str, object], t: int) -> Query:
        """The live store's part of the counters for an event at ``t``."""
        q = Query()
        for kind, i, key_col, window in self._plan:
            key = event.get(key_col)
            if not isinstance(key, str):
                continue
            lo = NEVER if window is None else t - window
            if kind == "count":
                q.counts.append((i, key, lo, t))
            elif kind == "last":
                q.lasts.append((i, key, t))
            else:
                q.firsts.append((i, key, lo, t))
        return q

    def values(
        self, event: Mapping[str, object], t: int, in_history: bool = False
    ) -> dict[str, float]:
        """Every counter's value for an event (a dossier's keys, others and flags) at ``t``.

        ``event`` maps the key and other columns to a string (anything else is
        missing) and the ``where`` flags to booleans. Only events strictly before
        ``t`` count, as in batch. ``in_history``: the dossier is itself one of
        the frozen events (sent again), so its own event is not its previous one.

        Notes
        -----
        The scoring API's hot path: one pass computes the frozen part and
        builds the live store's query; each key is looked up once.
        """
        q = Query()
        out: dict[str, float] = {}
        frozen: list[tuple[str, str, int | None]] = []  # (name, kind, frozen value) in order
        codes: dict[str, int | None] = {}
        left, right = bisect.bisect_left, bisect.bisect_right
        for name, kind, i, key_col, window, vocab, offsets, times in self._fast:
            key = event.get(key_col)
            if key.__class__ is not str:
                out[name] = NAN
                continue
            if key_col in codes:
                c = codes[key_col]
            else:
                c = codes[key_col] = vocab.get(key)  # type: ignore[arg-type]
            lo = NEVER if window is None else t - window
            if kind == "last":
                q.lasts.append((i, key, t))  # type: ignore[arg-type]
                prev = None
                if c is not None:
                    s, e = offsets[c], offsets[c + 1]
                    j = (left if in_history else right)(times, t, s, e)
                    prev = times[j - 1] if j > s else None
                frozen.append((name, kind, prev))
                continue
            n = 0
            if c is not None:
                s, e = offsets[c], offsets[c + 1]
                n = left(times, t, s, e) - left(times, lo, s, e)
            (q.counts if kind == "count" else q.firsts).append((i, key, lo, t))  # type: ignore[arg-type]
            frozen.append((name, kind, n))
        counts, lasts, firsts = self.live.answer(q)
        ci = li = fi = 0
        for name, kind, value in frozen:
            if kind == "count":
                out[name] = float(value + counts[ci])  # type: ignore[operator]
                ci += 1
            elif kind == "first":
                out[name] = float(value + firsts[fi])  # type: ignore[operator]
                fi += 1
            else:
                live = lasts[li]
                li += 1
                prev = value if live is None else live if value is None else max(value, live)
                out[name] = NAN if prev is None else float(t - prev)
        return {c.name: out[c.name] for c in self.counters}

    @property
    def event_columns(self) -> list[str]:
        """The event's keys, other values and flags that the counters read (what a replay needs)."""
        cols: list[str] = []
        for s in self.streams:
            cols += [s.key] + ([s.where] if s.where else [])
        for p in self.pairs:
            cols += [p.key, p.other] + ([p.where] if p.where else [])
        return list(dict.fromkeys(cols))

    def update(self, dossier_id: str, event: Mapping[str, object], t: int) -> Update:
        """The live store's additions for a scored dossier (call ``live.add`` with it).

        A pair the history already saw is not added again: its first sighting
        is the history's (dossiers reach the API after the history they extend).
        """
        u = Update(dossier_id=dossier_id, t=t)
        for i, s in enumerate(self.streams):
            key = event.get(s.key)
            if isinstance(key, str) and (s.where is None or event.get(s.where) is True):
                u.events.append((i, key))
        for i, p in enumerate(self.pairs):
            key, other = event.get(p.key), event.get(p.other)
            if not isinstance(key, str) or not isinstance(other, str):
                continue
            if p.where is not None and event.get(p.where) is not True:
                continue
            if self.frozen.first_seen(i, key, other) is None:
                u.sightings.append((i, key, other))
        return u
