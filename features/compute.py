"""Compute the features of the registry (:mod:`features.defs`) for a whole history, in batch.

``compute_features(ds, at="submission")`` gives, for every dossier, only what
was known when it was submitted: the reference tables, the dossier's own
submission fields and earlier dossiers. ``at="review"`` adds what an
inspection team sees later (acceptance, what the account did afterwards).

Nothing here names a feature: :func:`compute_all` loops over the registry's
declarations, giving each frame computation a :class:`FrameInputs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from features.contract import LOCAL_TZ
from features.defs import (
    ALL_FEATURES,
    CATEGORIES,
    COUNTERS,
    FLAGS,
    GAPS,
    KEYS,
    REVIEW,
    REVIEW_COUNTERS,
    STATIC,
    DataGap,
    Feature,
    derive,
    feature_names,
)
from features.links import holder_links
from features.pit import (
    SortedRows,
    compute_counters,
    counter_columns,
    encode_keys,
    seconds,
)

#: the dossier columns the history counters group or count by (the event keys aside)
EVENT_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        col
        for c in (*COUNTERS, *REVIEW_COUNTERS)
        for col in counter_columns(c)
        if not col.startswith("_")
    )
)


@dataclass
class FeatureFrame:
    """Features of a set of dossiers, with the data gaps that limit them."""

    frame: pd.DataFrame  # index: dossier_id; columns: feature_names(at)
    data_gaps: pd.Series  # index: dossier_id; ';'-separated gap codes ('' when none)
    at: str


class FrameInputs:
    """What the registry's frame computations read (:mod:`features.defs._kit`).

    ``d`` the normalised dossiers, ``links`` their holder links
    (:func:`features.links.holder_links`), ``f`` the features computed so far
    (on ``d``'s index), ``at`` the moment being computed, ``tables`` and
    ``present`` as in ``Dataset``; ``local``, ``acc`` and ``units`` are made
    on first use, and :meth:`once` shares any other intermediate between
    declarations.
    """

    def __init__(
        self,
        d: pd.DataFrame,
        links: pd.DataFrame,
        f: pd.DataFrame | None = None,
        tables: dict[str, pd.DataFrame] | None = None,
        present: frozenset[str] = frozenset(),
        at: str = "submission",
    ) -> None:
        self.d, self.links, self.at = d, links, at
        self.f = pd.DataFrame(index=d.index) if f is None else f
        self.tables = tables if tables is not None else {"dossiers": d}
        self.present = present
        self._once: dict[str, Any] = {}

    @cached_property
    def local(self) -> pd.Series:
        """Submission times on the local clock."""
        return self.d["submitted_at"].dt.tz_convert(LOCAL_TZ)

    @cached_property
    def acc(self) -> pd.DataFrame:
        """Accounts by ``account_id`` (first row per ID)."""
        return self.tables["accounts"].drop_duplicates("account_id").set_index("account_id")

    @cached_property
    def units(self) -> pd.DataFrame:
        """Units by ``unit_id`` (first row per ID)."""
        return self.tables["units"].drop_duplicates("unit_id").set_index("unit_id")

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, computed on the first call with ``key`` and remembered."""
        if key not in self._once:
            self._once[key] = make()
        return self._once[key]


def event_frame(d: pd.DataFrame, links: pd.DataFrame, f: pd.DataFrame) -> pd.DataFrame:
    """The dossiers as events for the history counters: their keys and the flags that select them.

    Parameters
    ----------
    d : the normalised dossiers.
    links : :func:`features.links.holder_links` of ``d``, on ``d``'s index.
    f : per-dossier features on ``d``'s index (the event flags read some, e.g.
        ``ip_in_office_network``).
    """
    return _events(FrameInputs(d, links, f))


def on_frame(declared: Feature | DataGap, b: FrameInputs) -> Any:
    """A declaration's frame computation on ``b`` (the registry checks it has one)."""
    if declared.frame is None:
        name = declared.name if isinstance(declared, Feature) else declared.code
        raise ValueError(f"{name}: declared without a frame computation")
    return declared.frame(b)


def history_event_frame(tables: dict[str, pd.DataFrame], present: frozenset[str]) -> pd.DataFrame:
    """The dossiers as counter events, computing only the features the event flags read.

    For the scoring API's frozen history (:func:`features.history.history_events`),
    which needs the events but not the features.
    """
    b = FrameInputs(tables["dossiers"], holder_links(tables, present), None, tables, present)
    for name in dict.fromkeys(n for flag in FLAGS for n in flag.reads):
        b.f[name] = on_frame(ALL_FEATURES[name], b)
    return _events(b)


def _events(b: FrameInputs) -> pd.DataFrame:
    w = pd.DataFrame({c: b.d[c] for c in EVENT_COLUMNS})
    for flag in FLAGS:
        w[flag.name] = flag.frame(b)
    for key in KEYS:
        w[key.name] = key.frame(b)
    return w


def compute_features(
    tables: dict[str, pd.DataFrame], present: frozenset[str], at: str = "submission"
) -> FeatureFrame:
    """Every feature of every dossier, as of its submission (or at review).

    Parameters
    ----------
    tables, present : ``Dataset.tables`` and ``Dataset.present``.
    at : ``"submission"`` or ``"review"``.

    Notes
    -----
    Vectorised: O(n log n) in the number of dossiers; no Python loop per
    dossier (loops run over the declarations, units and distinct IPs only).
    """
    if at not in ("submission", "review"):
        raise ValueError(f"at must be 'submission' or 'review' (got {at!r})")
    return compute_all(tables, present, (at,))[at]


def compute_all(
    tables: dict[str, pd.DataFrame],
    present: frozenset[str],
    moments: tuple[str, ...] = ("submission", "review"),
) -> dict[str, FeatureFrame]:
    """The features of several moments, sharing everything the moments have in common."""
    d = tables["dossiers"]
    b = FrameInputs(d, holder_links(tables, present), None, tables, present)
    f = b.f
    for feature in STATIC:
        f[feature.name] = on_frame(feature, b)
    w = encode_keys(_events(b), (*COUNTERS, *REVIEW_COUNTERS))
    t = seconds(d["submitted_at"])
    rows = SortedRows(w, t)  # each key's sorting, shared by its counters at both moments
    # the registry's HISTORY holds counters only, in COUNTERS' order
    f = b.f = f.assign(**compute_counters(w, COUNTERS, t, rows=rows))
    derive(f)
    out: dict[str, FeatureFrame] = {}
    if "submission" in moments:
        out["submission"] = _finish(b, "submission")
    if "review" in moments:
        b.f = f = f.copy(deep=False)  # copy-on-write: the submission frame keeps its columns
        b.at = "review"
        for feature in STATIC:
            if feature.review_sees_more:
                f[feature.name] = on_frame(feature, b)
        after = compute_counters(w, REVIEW_COUNTERS, t, after=True, rows=rows)
        for feature in REVIEW:
            f[feature.name] = after[feature.name] if feature.counter else on_frame(feature, b)
        out["review"] = _finish(b, "review")
    return out


def _finish(b: FrameInputs, at: str) -> FeatureFrame:
    """Select the moment's columns, fix the categories, index by dossier_id, list data gaps."""
    f = b.f[feature_names(at)]
    for col, cats in CATEGORIES.items():
        s = f[col]
        if not isinstance(s.dtype, pd.CategoricalDtype) or list(s.cat.categories) != list(cats):
            f[col] = pd.Categorical(s, categories=list(cats))
    d = b.d
    f.index = pd.Index(d["dossier_id"].to_numpy(), name="dossier_id", dtype=d["dossier_id"].dtype)
    gaps = data_gaps(b)
    gaps.index = f.index
    return FeatureFrame(frame=f, data_gaps=gaps, at=at)


def data_gaps(b: FrameInputs) -> pd.Series:
    """What the data could not tell about each dossier; listed apart from evidence, never scored."""
    # each row's gaps as bits; the text is built once per combination that occurs
    held = np.zeros(len(b.d), np.uint64)
    codes: list[str] = []
    for gap in GAPS:
        if gap.absent_table is not None:
            if gap.absent_table in b.present:
                continue
            mask = np.ones(len(b.d), bool)
        else:
            mask = np.asarray(on_frame(gap, b), bool)
        if len(codes) == 64:  # pragma: no cover - the registry declares 16
            raise ValueError("more than 64 data gaps declared: data_gaps holds them as 64 bits")
        held |= mask.astype(np.uint64) << np.uint64(len(codes))
        codes.append(gap.code)
    combos, row_combo = np.unique(held, return_inverse=True)
    texts = np.array(
        [";".join(c for k, c in enumerate(codes) if int(combo) >> k & 1) for combo in combos],
        dtype=object,
    )
    return pd.Series(texts[row_combo], index=b.d.index, dtype=object)
