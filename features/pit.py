"""Point-in-time counters: how often something happened *before* a moment.

Every history feature of a dossier is one of four counters over earlier
events that share a key (an account, a device, a phone, ...):

- :class:`Count` — events with the key strictly before ``t`` (optionally
  within a window ``[t - window, t)``);
- :class:`Distinct` — distinct ``other`` values (e.g. owners) seen with the
  key before ``t``;
- :class:`NewDistinct` — ``other`` values first seen with the key within the
  window (a broker's *new* clients in the last 30 days);
- :class:`Last` — seconds since the key's previous event (dormancy).

Counters are declared once (see :mod:`features.defs`) and computed in
two ways from that declaration: vectorised over a whole history here, and
incrementally in the online state of the scoring API. Only events strictly
before ``t`` count, so appending later dossiers can never change a feature of
an earlier one.

An event whose key is missing counts for nothing, and a query whose key is
missing gets NaN: an unknown device is a data gap, not a device with no
history.

Notes
-----
Vectorised as sorted composite integers ``key_code * span + time`` and
``np.searchsorted``: O(n log n) in the number of events, no Python loop per
dossier, and the same transform works per partition of keys on a cluster.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features._private import on_threads

DAY = 86_400


@dataclass(frozen=True)
class Count:
    """Events with the same key before ``t`` (within ``window`` seconds if given)."""

    name: str
    key: str
    window: int | None = None
    where: str | None = None  # boolean column: only events where it is True count


@dataclass(frozen=True)
class Distinct:
    """Distinct ``other`` values seen with the key before ``t``."""

    name: str
    key: str
    other: str
    where: str | None = None


@dataclass(frozen=True)
class NewDistinct:
    """``other`` values first seen with the key in ``[t - window, t)``."""

    name: str
    key: str
    other: str
    window: int
    where: str | None = None


@dataclass(frozen=True)
class Last:
    """Seconds since the key's previous event (NaN when there is none)."""

    name: str
    key: str


Counter = Count | Distinct | NewDistinct | Last


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a key column; -1 for missing keys."""
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64)


def counter_columns(counter: Counter) -> tuple[str, ...]:
    """The columns a counter groups by: its key, and the ``other`` values it counts if any."""
    other = getattr(counter, "other", None)
    return (counter.key,) if other is None else (counter.key, other)


def encode_keys(frame: pd.DataFrame, counters: Iterable[Counter]) -> pd.DataFrame:
    """``frame`` with the counters' key and ``other`` columns as categoricals, each encoded once.

    Every counter factorizes its key column; text IDs cost a hash of every
    value each time (a million dossiers: about a tenth of a second per
    column and counter, and a key serves up to twenty counters), a
    categorical's codes almost nothing. Counts only compare keys for
    equality, so they are the same on either frame.
    """
    columns = dict.fromkeys(col for c in counters for col in counter_columns(c))
    out = frame.copy(deep=False)
    for col in columns:
        if col in out.columns and not isinstance(out[col].dtype, pd.CategoricalDtype):
            codes, uniques = pd.factorize(out[col], use_na_sentinel=True)
            out[col] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(uniques))
    return out


def _pair_codes(a: pd.Series, b: pd.Series) -> np.ndarray:
    ca, cb = _codes(a), _codes(b)
    out = ca * (cb.max(initial=-1) + 2) + cb  # initial: no rows is no pairs, not an error
    out[(ca < 0) | (cb < 0)] = -1
    return out


def count_before(
    key: np.ndarray,
    t: np.ndarray,
    event_key: np.ndarray,
    event_t: np.ndarray,
    window: int | None = None,
    after: bool = False,
) -> np.ndarray:
    """For each query (key, t), the number of events with that key before ``t``.

    Parameters
    ----------
    key, t : query key codes (-1 = missing) and times (int64 seconds).
    event_key, event_t : the events, same encoding.
    window : only events in ``[t - window, t)``; ``None`` for all earlier ones.
    after : count events strictly *after* ``t`` instead (review-time features).

    Returns
    -------
    float array: the count, NaN where the query key is missing.
    """
    ok = event_key >= 0
    ek, et = event_key[ok], event_t[ok]
    lo_t = int(min(et.min(initial=0), t.min(initial=0))) - (window or 0) - 1
    span = int(max(et.max(initial=0), t.max(initial=0))) - lo_t + 2
    composite = np.sort(ek * span + (et - lo_t))
    out = _search(composite, key, key * span + (t - lo_t), span, window, after).astype(float)
    out[key < 0] = np.nan
    return out


def _events(frame: pd.DataFrame, where: str | None) -> np.ndarray:
    if where is None:
        return np.ones(len(frame), bool)
    return frame[where].fillna(False).to_numpy(bool)


class SortedRows:
    """The rows sorted by (key, time) per key column, and by time: shared by a frame's counters.

    Sorting costs about as much as one search, and a search for sorted
    queries is several times faster than for queries in row order (the
    events it lands on stay in cache), so each key column's order is found
    once and every counter keyed by it searches in that order.
    """

    def __init__(self, frame: pd.DataFrame, t: np.ndarray) -> None:
        self.frame, self.t = frame, t
        self._keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._by_time: np.ndarray | None = None

    def key(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """The column's key codes (-1 missing) and the rows in (key, time) order (stable)."""
        if column not in self._keys:
            key = _codes(self.frame[column])
            t = self.t
            lo = int(t.min(initial=0)) - 1
            span = int(t.max(initial=0)) - lo + 1
            self._keys[column] = key, np.argsort(key * span + (t - lo), kind="stable")
        return self._keys[column]

    def by_time(self) -> np.ndarray:
        """The rows in time order, ties by position."""
        if self._by_time is None:
            self._by_time = np.argsort(self.t, kind="stable")
        return self._by_time


def compute_counter(
    frame: pd.DataFrame, counter: Counter, t: np.ndarray, after: bool = False
) -> np.ndarray:
    """Evaluate one counter for every row of ``frame`` (each row is both an event and a query).

    ``t`` is the rows' time in int64 seconds. With ``after=True`` the counter
    looks at the events after each row instead (what the account or device did
    next, known only at review).
    """
    return compute_counters(frame, [counter], t, after)[counter.name]


def compute_counters(
    frame: pd.DataFrame,
    counters: Iterable[Counter],
    t: np.ndarray,
    after: bool = False,
    rows: SortedRows | None = None,
) -> dict[str, np.ndarray]:
    """:func:`compute_counter` for several counters, by name; the sorting by key is shared.

    ``rows`` (the same ``frame`` and ``t``) carries the sorting over to another call.
    The counters of one key run in turn (they share its sorting); different keys
    run on threads for a large frame (:func:`features._private.on_threads`: numpy's
    sorts and searches release the GIL). The values do not depend on it.
    """
    rows = rows if rows is not None else SortedRows(frame, t)
    counters = list(counters)
    by_key: dict[str, list[Counter]] = {}
    for c in counters:
        by_key.setdefault(c.key, []).append(c)

    def of_key(mine: list[Counter]) -> dict[str, np.ndarray]:
        return {c.name: _one(rows, c, after) for c in mine}

    if any(isinstance(c, Distinct | NewDistinct) for c in counters):
        rows.by_time()  # shared by every key's distinct counters: sorted once, before any thread
    found = on_threads([functools.partial(of_key, mine) for mine in by_key.values()], len(t))
    values = {name: v for one in found for name, v in one.items()}
    return {c.name: values[c.name] for c in counters}


def _one(rows: SortedRows, counter: Counter, after: bool) -> np.ndarray:
    frame, t = rows.frame, rows.t
    key, order = rows.key(counter.key)
    if isinstance(counter, Last):
        ks, ts = key[order], t[order]
        prev = np.r_[-1, ks[:-1]] == ks
        gap = np.where(prev, ts - np.r_[0, ts[:-1]], np.nan)
        out = np.empty(len(t))
        out[order] = gap
        out[key < 0] = np.nan
        return out
    sel = _events(frame, counter.where)
    if isinstance(counter, Count):
        return _count_rows(key, t, sel, order, counter.window, after)
    # distinct: only the first event of each (key, other) pair counts
    pair = _pair_codes(frame[counter.key], frame[counter.other])
    pair_sel = np.where(sel, pair, -1)
    by_time = rows.by_time()  # earliest first; ties broken by position
    in_order = pair_sel[by_time]
    is_first = np.empty(len(t), bool)
    is_first[by_time] = (in_order >= 0) & ~pd.Series(in_order).duplicated().to_numpy()
    window = counter.window if isinstance(counter, NewDistinct) else None
    return _count_rows(key, t, is_first, order, window, after)


def _search(
    composite: np.ndarray,
    key: np.ndarray,
    q: np.ndarray,
    span: int,
    window: int | None,
    after: bool,
) -> np.ndarray:
    """Events in ``composite`` (sorted ``key * span + time``) before, or after, each query ``q``.

    Before: from the key's first event (or ``q - window``) up to ``q``,
    exclusive; after: from past ``q`` to the key's end.
    """
    if after:
        return np.asarray(
            np.searchsorted(composite, (key + 1) * span, "left")
            - np.searchsorted(composite, q, "right")
        )
    upper = np.searchsorted(composite, q, "left")
    start = q - window if window is not None else key * span
    return np.asarray(upper - np.searchsorted(composite, start, "left"))


def _count_rows(
    key: np.ndarray,
    t: np.ndarray,
    events: np.ndarray,
    order: np.ndarray,
    window: int | None,
    after: bool,
) -> np.ndarray:
    """:func:`count_before` where the events are the rows marked ``events``, searched in ``order``.

    ``order`` sorts the rows by (key, time), so the composite keys of the
    rows in that order are already sorted, and so are the events among them.
    """
    lo_t = int(t.min(initial=0)) - (window or 0) - 1
    span = int(t.max(initial=0)) - lo_t + 2
    ks = key[order]
    q = ks * span + (t[order] - lo_t)
    composite = q[events[order] & (ks >= 0)]
    out = np.empty(len(t))
    out[order] = _search(composite, ks, q, span, window, after)
    out[key < 0] = np.nan
    return out


def seconds(ts: pd.Series) -> np.ndarray:
    """tz-aware timestamps as int64 seconds since the epoch (NaT -> int64 min)."""
    return (
        ts.astype("datetime64[s, UTC]").astype("int64").to_numpy()
        if len(ts)
        else np.zeros(0, np.int64)
    )
