"""The declaration types of the feature registry, and the small helpers declarations share.

A declaration carries two computations side by side, kept next to each other
so that a change to one is seen beside the other:

- ``frame(b)`` — for a whole history: ``b`` is the batch's inputs
  (:class:`features.compute.FrameInputs`: the dossiers ``b.d``, the holder
  links ``b.links``, local times ``b.local``, lookups, and ``b.f`` the
  features computed so far); returns a Series on the dossiers' index (a data
  gap returns a boolean array);
- ``row(r)`` — for one dossier in pure Python: ``r`` is the single-dossier
  inputs (:class:`features.online.RowInputs`: the dossier's fields, its holder
  links ``r.links``, lookups, and ``r.values`` the features computed so far);
  returns one value, ``None`` or NaN where the frame has NaN.

A declaration with ``derive`` instead has ONE computation that serves both
(it reads the already computed features, Series or scalars alike).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features._private import flag, flags
from features.pit import Counter

__all__ = ["NAN", "DataGap", "EventFlag", "EventKey", "Feature", "flag", "flags", "ratio"]

NAN = math.nan
MOMENTS = ("submission", "review")
KINDS = ("number", "flag", "category")
#: how a number reads in reasons: as it is, as a share (a percentage) or as a difference of
#: two shares (percentage points, with the direction in words)
READS_AS = ("number", "share", "points")


@dataclass(frozen=True)
class Feature:
    """One model input: its name, meaning, moment and how it is computed.

    Exactly one way of computing is given: ``frame`` (with ``row`` for
    features the live scorer needs: every submission feature), ``counter``
    (a history counter of :mod:`features.pit`, the same declaration for batch
    and live scoring) or ``derive`` (from other features, one function for
    frames and for one dossier).
    """

    name: str
    vi: str
    en: str
    moment: str = "submission"  # "submission" (known when filed) or "review" (known only later)
    kind: str = "number"  # "number", "flag" (1.0 / 0.0 / NaN) or "category"
    frame: Callable[[Any], pd.Series] | None = None
    row: Callable[[Any], object] | None = None
    counter: Counter | None = None
    derive: Callable[[Mapping[str, Any]], Any] | None = None
    #: the fixed categories (so a model sees one encoding on every data set); a value
    #: outside them is unknown
    categories: tuple[str, ...] = ()
    #: the data gap (:class:`DataGap` code) listed when this feature's input is missing
    gap: str | None = None
    #: how values read in reasons: value -> (vi, en)
    value_text: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: how a number reads in reasons (:data:`READS_AS`)
    reads_as: str = "number"
    #: what a missing input reads as, for the model's benefit of the doubt: (the value that
    #: means "unknown because data is missing" (None: NaN), the innocent value tried instead)
    innocent: tuple[object, object] | None = None
    #: computed again by the review moment with ``b.at == "review"`` (it sees more then)
    review_sees_more: bool = False
    #: the frame computation reads the other dossiers that share this dossier column (it is
    #: exact on any set of dossiers that holds all of them, and NaN where the column is
    #: missing): the partitioned engine runs it after a shuffle by that column
    #: (:mod:`features.partitioned`); ``None``: it reads the dossier and the reference tables
    #: only, so any split of the dossiers gives the same values
    by: str | None = None

    def __post_init__(self) -> None:
        ways = [w for w in (self.frame, self.counter, self.derive) if w is not None]
        if len(ways) != 1:
            raise ValueError(f"feature {self.name}: give exactly one of frame, counter, derive")
        if self.moment not in MOMENTS or self.kind not in KINDS or self.reads_as not in READS_AS:
            raise ValueError(f"feature {self.name}: unknown moment or kind")
        if (self.kind == "category") != bool(self.categories):
            raise ValueError(f"feature {self.name}: a category feature lists its categories")
        if self.frame is not None and self.moment == "submission" and self.row is None:
            raise ValueError(f"feature {self.name}: a submission feature needs its row twin")
        if self.by is not None and self.frame is None:
            raise ValueError(f"feature {self.name}: only a frame computation is run by a key")
        if self.counter is not None and self.counter.name != self.name:
            raise ValueError(f"feature {self.name}: its counter is named {self.counter.name}")


@dataclass(frozen=True)
class EventFlag:
    """A boolean the history counters select events by (``where=`` of a counter)."""

    name: str
    en: str
    frame: Callable[[Any], pd.Series]
    row: Callable[[Any], bool]
    #: the per-dossier features it reads (``b.f``, ``r.values``), computed before it
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventKey:
    """A key the history counters group events by, made from several fields (None when unknown)."""

    name: str
    en: str
    frame: Callable[[Any], pd.Series]
    row: Callable[[Any], str | None]


@dataclass(frozen=True)
class DataGap:
    """Something the data could not tell about a dossier: listed beside the score, never scored.

    ``frame`` returns a boolean array over the dossiers, ``row`` a bool. A gap
    with ``absent_table`` holds for every dossier when that optional table was
    not in the folder, and needs no computation.
    """

    code: str
    vi: str
    en: str
    frame: Callable[[Any], Any] | None = None
    row: Callable[[Any], bool] | None = None
    absent_table: str | None = None

    def __post_init__(self) -> None:
        computed = self.frame is not None and self.row is not None
        if computed == (self.absent_table is not None):
            raise ValueError(f"data gap {self.code}: give frame and row, or absent_table")


# ---------------------------------------------------------------------- helpers


def ratio(a: Any, b: Any) -> Any:
    """``a / b``, unknown where ``b`` is 0 or unknown; Series or scalars."""
    if isinstance(b, pd.Series):
        return a / b.where(b > 0)
    return a / b if b > 0 else NAN  # NaN > 0 is False: an unknown denominator, an unknown ratio
