"""Owners whom relatives file for: their legitimate dossiers are flagged no more often than others'.

Relatives filing for elderly parents and parents filing for young children
are what the domain says must never be flagged (docs/domain.md), yet these
dossiers look like misuse more often than others do: someone else's
account, often a kiosk, often no relation on record. A single threshold
then flags their legitimate dossiers several times as often as other
legitimate ones.

So each group gets its own threshold, never lower than the detector's:
the lowest at which, on the calibration months (the rows the threshold is
judged on), the group's legitimate dossiers are flagged at most
:data:`MAX_RATIO` times as often as the other legitimate dossiers
(equal false-positive rates by group, the post-processing of Hardt, Price
and Srebro, "Equality of Opportunity in Supervised Learning", 2016, done
one-sided: a group's threshold only ever rises). The rate of the others is
smoothed (one flagged dossier added to it), so that a clean calibration set
where nobody else is flagged does not push a group's threshold to the top
for one look-alike. The model card lists each group's threshold, how many of
its legitimate and misuse dossiers the calibration months held, and what
share of its misuse the raised threshold still flags.

The groups are read from the owner's age on the day of filing (the
population extract's birth date, :func:`features.links.holder_links`); an
owner of unknown age belongs to no group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CHILD_AGE",
    "ELDER_AGE",
    "GROUPS",
    "MAX_RATIO",
    "group_of",
    "group_thresholds",
    "row_threshold",
    "threshold_for",
    "thresholds_of",
]

#: owners this old or older, and younger than this, are the ones relatives file for
ELDER_AGE, CHILD_AGE = 70.0, 14.0
#: the groups, as the model card and ``detector evaluate`` name them
GROUPS = ("owner_70_plus", "owner_under_14")
#: on the calibration months, a group's legitimate dossiers are flagged at most this many times
#: as often as the others' (the issue's bound is 1.5 on later months: judged at 1 here)
MAX_RATIO = 1.0
#: a group's threshold never rises above this: a dossier riskier than this is flagged whoever owns it
CEILING = 0.95


def group_of(age: NDArray[np.float64]) -> NDArray[np.int8]:
    """Per owner age: 0 none (or unknown age), 1 aged 70 or more, 2 under 14."""
    age = np.asarray(age, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(age >= ELDER_AGE, 1, np.where(age < CHILD_AGE, 2, 0)).astype(np.int8)


def group_thresholds(
    risk: NDArray[np.float64],
    misuse: NDArray[np.bool_],
    age: NDArray[np.float64],
    threshold: float,
    weight: NDArray[np.float64] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each group's threshold from the calibration rows (module docstring), with what it rests on.

    Parameters
    ----------
    risk, misuse, age : per calibration row: its out-of-sample risk, whether it is misuse,
        the owner's age (NaN unknown).
    threshold : the detector's threshold.
    weight : per row, how much it counts (default 1).

    Returns
    -------
    dict
        Per group name: ``threshold``, ``legitimate`` and ``misuse`` (calibration rows of
        the group), ``flagged_legitimate`` at the group's threshold, ``others_flag_rate``
        and ``misuse_kept`` (share of the group's misuse still flagged, None without any).
    """
    risk = np.asarray(risk, dtype=float)
    misuse = np.asarray(misuse, dtype=bool)
    w = np.ones(len(risk)) if weight is None else np.asarray(weight, dtype=float)
    group = group_of(age)
    legit = ~misuse
    others = legit & (group == 0)
    # one flagged dossier added to the others' rate: a clean set does not make the bound zero
    others_w = float(w[others].sum())
    others_rate = (float(w[others & (risk >= threshold)].sum()) + 1.0) / (others_w + 1.0)
    out: dict[str, dict[str, Any]] = {}
    for code, name in enumerate(GROUPS, start=1):
        rows = legit & (group == code)
        bad = misuse & (group == code)
        allowed = MAX_RATIO * others_rate * float(w[rows].sum())
        thr = threshold
        # raise the group's threshold past its riskiest legitimate dossiers until few enough remain
        order = np.argsort(-risk[rows], kind="stable")
        r, ww = risk[rows][order], w[rows][order]
        flagged = np.cumsum(ww)  # weight flagged if the threshold sat at each risk, riskiest first
        over = np.flatnonzero((r >= threshold) & (flagged > allowed))
        if len(over):
            thr = min(float(np.nextafter(r[over[0]], np.inf)), CEILING)
            thr = max(thr, threshold)
        kept = None
        if bad.any():
            kept = float(w[bad & (risk >= thr)].sum() / w[bad].sum())
        out[name] = {
            "threshold": thr,
            "legitimate": int(rows.sum()),
            "misuse": int(bad.sum()),
            "flagged_legitimate": int((rows & (risk >= thr)).sum()),
            "others_flag_rate": others_rate,
            "misuse_kept": kept,
        }
    return out


def thresholds_of(
    groups: dict[str, dict[str, Any]] | None, threshold: float
) -> NDArray[np.float64]:
    """The threshold per group code (0 none, 1 aged 70+, 2 under 14), for :func:`row_threshold`."""
    found = groups or {}
    # never below the detector's threshold, even one set after fitting
    return np.array(
        [
            threshold,
            *(
                max(float(found.get(name, {}).get("threshold", threshold)), threshold)
                for name in GROUPS
            ),
        ]
    )


def threshold_for(by_group: NDArray[np.float64], age: float | None) -> float:
    """One dossier's threshold by its owner's age (the scoring API's path: no array made)."""
    if age is None:
        return float(by_group[0])
    if age >= ELDER_AGE:  # NaN compares false: no group
        return float(by_group[1])
    if age < CHILD_AGE:
        return float(by_group[2])
    return float(by_group[0])


def row_threshold(by_group: NDArray[np.float64], age: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row's threshold, by its owner's age group (``by_group`` from :func:`thresholds_of`)."""
    return by_group[group_of(age)]
