"""Small helpers shared by the ``features`` modules (not part of the public API)."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import LOCAL_TZ, Column, Table

#: pandas 3's default string dtype (Arrow-backed, missing = NaN)
STR = pd.StringDtype(na_value=np.nan)
TS_DTYPE = f"datetime64[ns, {LOCAL_TZ}]"
DATE_DTYPE = "datetime64[ns]"

_DTYPES: dict[str, Any] = {
    "timestamp": TS_DTYPE,
    "date": DATE_DTYPE,
    "int": "Int64",
    "float": "float64",
}

#: the range a nanosecond timestamp can hold, with a day of margin
NS_MIN = pd.Timestamp("1677-09-23")
NS_MAX = pd.Timestamp("2262-04-10")


def threads() -> int:
    """How many threads a step may use: ``OMP_NUM_THREADS`` when set (Dask's workers set it to 1,
    so a worker's task stays on its one core), else the machine's cores."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return max(1, os.cpu_count() or 1)


#: from this many rows, a step's independent pieces run on threads (:func:`on_threads`)
THREADED_ROWS = 50_000

_T = TypeVar("_T")


def on_threads(tasks: Sequence[Callable[[], _T]], rows: int) -> list[_T]:
    """Each task's result, in the tasks' order; on :func:`threads` threads when ``rows`` (the size
    of the data they share) reaches :data:`THREADED_ROWS`, else one after the other.

    For tasks that only read shared frames and spend their time in pandas, numpy
    or pyarrow, which release the GIL for most of it. The results do not depend
    on the threads: only the order in which the tasks run does.
    """
    n = min(threads(), len(tasks)) if rows >= THREADED_ROWS else 1
    if n <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda task: task(), tasks))


#: column kinds whose values are identifiers (kept as text, leading zeros matter)
ID_KINDS = frozenset({"id", "person_id", "owner_id"})


def dtype_of(column: Column) -> Any:
    """The normalised pandas dtype of a contract column."""
    return _DTYPES.get(column.kind, STR)


def empty_frame(table: Table, index: pd.Index | None = None) -> pd.DataFrame:
    """An all-unknown frame with the table's columns and normalised dtypes."""
    index = pd.RangeIndex(0) if index is None else index
    return pd.DataFrame(
        {
            c.name: pd.Series(pd.NA if c.kind == "int" else None, index=index, dtype=dtype_of(c))
            for c in table.columns
        },
        index=index,
    )


def as_str(s: pd.Series | Iterable[Any]) -> pd.Series:
    """``s`` as a ``str`` Series, without touching values that are already text."""
    if not isinstance(s, pd.Series):
        s = pd.Series(list(s), dtype=object)
    if s.dtype == STR:
        return s
    if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
        return s.astype(STR)
    return s.astype(object).where(s.notna(), None).astype(STR)


def clean_strings(s: pd.Series) -> pd.Series:
    """Strip surrounding whitespace; an empty cell becomes unknown (NA)."""
    s = as_str(s).str.strip()
    return s.where(s != "")


def re_replace(s: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """Regex replace in Arrow (RE2) on a ``str`` Series.

    pandas falls back to a Python loop for patterns with ``\\s``; Arrow does not.
    """
    s = as_str(s)
    out = pc.replace_substring_regex(pa.array(s, type=pa.large_string()), pattern, replacement)
    return out.to_pandas().astype(STR).set_axis(s.index)


def re_contains(s: pd.Series, pattern: str) -> pd.Series:
    """Boolean Series: does ``pattern`` (RE2) match somewhere in each value (NA → False)."""
    s = as_str(s)
    found = pc.match_substring_regex(pa.array(s, type=pa.large_string()), pattern)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=s.index)


def _arrow_text(s: pd.Series | np.ndarray) -> pa.Array:
    return pa.array(
        as_str(pd.Series(s) if isinstance(s, np.ndarray) else s), type=pa.large_string()
    )


def str_isin(s: pd.Series, values: pd.Series | np.ndarray) -> pd.Series:
    """``s.isin(values)`` for text, in Arrow (pandas loops in Python for Arrow strings)."""
    found = pc.is_in(_arrow_text(s), value_set=_arrow_text(values))
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=s.index)


def lookup(keys: pd.Series, table_keys: pd.Series, *values: pd.Series) -> tuple[pd.Series, ...]:
    """For each of ``keys``, the ``values`` at the first row where ``table_keys`` equals it.

    A hash join in Arrow (``Series.map`` is slow on text and fails on an empty
    datetime mapper); unknown keys give NA; each of ``values`` keeps its
    dtype. Returns one Series per ``values``.
    """
    return values_at(index_of(keys, table_keys), keys.index, *values)


def values_at(pos: np.ndarray, index: pd.Index, *values: pd.Series) -> tuple[pd.Series, ...]:
    """Each of ``values`` at the rows ``pos`` (-1: NA), on ``index``, keeping its dtype."""
    found = pos >= 0
    take = np.where(found, pos, 0)
    return tuple(
        v.iloc[take].set_axis(index).where(found)
        if len(v)
        else pd.Series(None, index=index, dtype=v.dtype)
        for v in values
    )


def index_of(keys: pd.Series | np.ndarray, table_keys: pd.Series | np.ndarray) -> np.ndarray:
    """For each of ``keys``, the first row of ``table_keys`` equal to it; -1 when none (Arrow)."""
    positions = pc.index_in(_arrow_text(keys), value_set=_arrow_text(table_keys))
    return positions.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def is_missing(v: object) -> bool:
    """Whether a single value is unknown: None, NaN (numpy's too), ``pd.NA``, ``NaT``.

    The one test of a missing scalar for every layer (features, rules, the
    compiled scorer); text, integers and booleans return at once, so it
    costs a type check on the scoring API's path. A list-like value is not a
    missing scalar.
    """
    kind = type(v)
    if kind is str or kind is int or kind is bool:
        return False
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float):  # numpy's float64 too
        return math.isnan(v)
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def jsonable(v: object) -> Any:
    """A scalar as a JSON-friendly value (ISO strings for times, None for unknown)."""
    if is_missing(v):
        return None
    if isinstance(v, pd.Timestamp):
        if v.tzinfo is None and v == v.normalize():
            return v.date().isoformat()
        return v.isoformat()
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bool | int | float | str):
        return v
    return str(v)


def truncate(text: str, limit: int = 40) -> str:
    """``text`` shortened for a one-line message, with unprintable characters escaped."""
    shown = text if text.isprintable() else repr(text)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def flags(s: pd.Series) -> pd.Series:
    """Booleans with unknowns as 1.0 / 0.0 / NaN (what the model reads)."""
    return pd.to_numeric(s.map({True: 1.0, False: 0.0}), errors="coerce")


def flag(b: bool | None) -> float:
    """1.0 / 0.0 / NaN for one boolean with unknown (the scalar twin of :func:`flags`)."""
    return math.nan if b is None else (1.0 if b else 0.0)
