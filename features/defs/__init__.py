"""The feature registry: every feature, event flag and data gap, declared once.

One module per family; each declaration names a feature, says what it means
(Vietnamese and English), when it is known (``moment``: submission or
review), which data gap a missing input shows as (``gap``), what the model's
benefit of the doubt reads a missing value as (``innocent``) and how it is
computed, for a frame and for one dossier side by side
(:class:`~features.defs._kit.Feature`):

- :mod:`~features.defs.holder` — how the account's holder relates to the owner;
- :mod:`~features.defs.filing` — the dossier's own fields and time of filing;
- :mod:`~features.defs.account` — account, office network, unit, desk visit;
- :mod:`~features.defs.history` — history counters and the ratios derived from them;
- :mod:`~features.defs.review` — what is known only at review;
- :mod:`~features.defs.events` — the flags and keys the counters select and group by;
- :mod:`~features.defs.gaps` — what the data could not tell (listed, never scored).

The runners loop over these tuples and list nothing by hand: the batch
(:func:`features.compute.compute_all`), the single-dossier path of the
scoring API (:meth:`features.online.ReferenceIndex.dossier` and
:class:`features.history.FrozenHistory`) and the parity test
``tests/features/test_registry_parity.py``, parametrised over the registry.

Adding a feature: add one declaration to the family's tuple (or a new
family module listed in :data:`FAMILIES`), with both computations, and a
hand-made test of its meaning; the parity test then covers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from features.defs import account, events, filing, gaps, history, holder, review
from features.defs._kit import DataGap, EventFlag, EventKey, Feature
from features.pit import Counter

#: per-dossier families, in the model's column order
FAMILIES = (holder, filing, account)

#: per-dossier features, from the dossier's own fields and the reference tables
STATIC: tuple[Feature, ...] = tuple(f for family in FAMILIES for f in family.FEATURES)
#: history counters over earlier dossiers (features.pit)
HISTORY: tuple[Feature, ...] = history.COUNTERS
#: features derived from others (ratios), one function for frames and one dossier
DERIVED: tuple[Feature, ...] = history.DERIVED
#: known only at review
REVIEW: tuple[Feature, ...] = review.FEATURES
FLAGS: tuple[EventFlag, ...] = events.FLAGS
KEYS: tuple[EventKey, ...] = events.KEYS
GAPS: tuple[DataGap, ...] = gaps.GAPS

ALL_FEATURES: dict[str, Feature] = {f.name: f for f in (*STATIC, *HISTORY, *DERIVED, *REVIEW)}
#: the counters the batch and the scoring API keep, at submission and (after) at review
COUNTERS: tuple[Counter, ...] = tuple(f.counter for f in HISTORY if f.counter is not None)
REVIEW_COUNTERS: tuple[Counter, ...] = tuple(f.counter for f in REVIEW if f.counter is not None)
#: fixed categories of the category features, so a model sees one encoding on every data set
CATEGORIES: dict[str, tuple[str, ...]] = {
    f.name: f.categories for f in ALL_FEATURES.values() if f.categories
}


def feature_names(at: str) -> list[str]:
    """The model's input columns at a moment (``submission`` or ``review``)."""
    names = [f.name for f in (*STATIC, *HISTORY, *DERIVED)]
    if at == "review":
        names += [f.name for f in REVIEW]
    return names


def derive(values: Any) -> None:
    """Add the DERIVED features to one dossier's values (a dict) or a frame's columns, in order."""
    for f in DERIVED:
        assert f.derive is not None
        values[f.name] = f.derive(values)


_POINTS_TEXT = {
    "vi": (
        "thấp hơn chỉ tiêu {p} điểm phần trăm",
        "cao hơn chỉ tiêu {p} điểm phần trăm",
        "đúng chỉ tiêu",
    ),
    "en": ("{p} percentage points below target", "{p} percentage points above target", "on target"),
}


def value_text(feature: str, value: object, lang: str) -> str:
    """A feature value as an inspector reads it: words for codes and flags, shares in percent,
    a gap to target in percentage points, the reader's decimal mark."""
    meta = ALL_FEATURES.get(feature)
    labels: Mapping[str, tuple[str, str]] = meta.value_text if meta is not None else {}
    if isinstance(value, str) and value in labels:
        return labels[value][0 if lang == "vi" else 1]
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        reads_as = meta.reads_as if meta is not None else "number"
        if reads_as == "share":
            return _decimal(f"{100 * value:.1f}", lang) + "%"
        if reads_as == "points":
            below, above, level = _POINTS_TEXT["vi" if lang == "vi" else "en"]
            points = _decimal(f"{100 * abs(value):.1f}", lang)
            if round(100 * value, 1) == 0:
                return level
            return (below if value > 0 else above).format(p=points)
    if isinstance(value, float):
        if meta is not None and meta.kind == "flag":
            yes_no = ("có", "không") if lang == "vi" else ("yes", "no")
            return yes_no[0] if value >= 0.5 else yes_no[1]
        return _decimal(f"{value:.3g}", lang)
    return str(value)


def _decimal(text: str, lang: str) -> str:
    """A number's text with the reader's decimal mark (a comma in Vietnamese)."""
    return text.replace(".", ",") if lang == "vi" else text


def _check() -> None:
    """Names are unique across features, flags and keys; counters read declared flags and keys."""
    names = [*ALL_FEATURES, *(x.name for x in FLAGS), *(x.name for x in KEYS)]
    if len(names) != len(set(names)) or len(ALL_FEATURES) != len(STATIC) + len(HISTORY) + len(
        DERIVED
    ) + len(REVIEW):
        raise ValueError("feature registry: a name is declared twice")
    flags, keys = {x.name for x in FLAGS}, {x.name for x in KEYS}
    for c in (*COUNTERS, *REVIEW_COUNTERS):
        where = getattr(c, "where", None)
        if where is not None and where not in flags:
            raise ValueError(f"counter {c.name}: where={where!r} is no declared event flag")
        if c.key.startswith("_") and c.key not in keys:
            raise ValueError(f"counter {c.name}: key={c.key!r} is no declared event key")
    static = {f.name for f in STATIC}
    for flag in FLAGS:
        if not set(flag.reads) <= static:
            raise ValueError(f"event flag {flag.name}: reads {flag.reads}, not all per-dossier")
    codes = [g.code for g in GAPS]
    if len(codes) != len(set(codes)) or any(
        f.gap not in (None, *codes) for f in ALL_FEATURES.values()
    ):
        raise ValueError("feature registry: a data gap is declared twice or not at all")


_check()

__all__ = [
    "ALL_FEATURES",
    "CATEGORIES",
    "COUNTERS",
    "DERIVED",
    "FAMILIES",
    "FLAGS",
    "GAPS",
    "HISTORY",
    "KEYS",
    "REVIEW",
    "REVIEW_COUNTERS",
    "STATIC",
    "DataGap",
    "EventFlag",
    "EventKey",
    "Feature",
    "derive",
    "feature_names",
    "value_text",
]
