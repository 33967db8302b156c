"""The review queue's exploration: which unflagged dossiers a team should also look at.

A queue that only ever shows its top teaches the model only about its top:
the verdicts confirm what it already believes, and what it misses just
below the threshold is never seen. So a share of the team's capacity
(:data:`EXPLORE_SHARE`, 15 % by default) goes to dossiers drawn at random,
with known chances, from where a verdict teaches most:

- half by **uncertainty**: chance proportional to ``min(risk, 1 - risk)``,
  highest near even odds;
- half **uniformly from just below the threshold** (risk from a fifth of the
  threshold up to it): what the model may be missing.

Each drawn dossier keeps its chance of having been drawn (its propensity);
a verdict on it counts ``1 / propensity`` in training and may calibrate the
risk, because the draw is a known-probability sample. Verdicts on the top of
the queue train the trees only (:func:`detector.batch.train`).

The same :func:`explore` serves the case store (``detector score --to-db``
draws the exploration cases) and ``bench/queue_teaches.py`` (which shows that
it teaches).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["EXPLORE_SHARE", "MIN_PROPENSITY", "exploration_count", "explore", "interleave"]

#: share of the team's capacity drawn by the exploration policy
EXPLORE_SHARE = 0.15
#: a verdict's weight is at most 1 / MIN_PROPENSITY (one rare draw must not outweigh a month)
MIN_PROPENSITY = 1e-3


def explore(
    risk: np.ndarray, threshold: float, k: int, taken: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``k`` rows drawn for exploration, and each one's chance of having been drawn.

    Parameters
    ----------
    risk
        Every candidate's risk score.
    threshold
        The detector's threshold.
    k
        How many to draw (fewer when fewer candidates have a chance).
    taken
        Rows that may not be drawn (already in the queue, or reviewed).
    rng
        The random generator (a seeded one makes the draw reproducible).

    Returns
    -------
    tuple of numpy.ndarray
        The drawn rows' positions, and each one's chance of being drawn
        (between 0 and 1; at least :data:`MIN_PROPENSITY`).
    """
    risk = np.asarray(risk, dtype=float)
    free = ~np.asarray(taken, dtype=bool) & np.isfinite(risk)
    safe = np.nan_to_num(risk)
    uncertain = np.minimum(safe, 1 - safe) * free
    below = ((safe >= threshold / 5) & (safe < threshold) & free).astype(float)
    picks: list[int] = []
    chance = np.zeros(len(risk))
    n_below = min(k // 2, int((below > 0).sum()))  # a thin band: uncertainty draws the rest
    for weights, n in ((below, n_below), (uncertain, k - n_below)):
        weights = weights.copy()
        weights[picks] = 0
        if weights.sum() <= 0 or n <= 0:
            continue
        p = weights / weights.sum()
        n = min(n, int((p > 0).sum()))
        chosen = rng.choice(len(risk), n, replace=False, p=p)
        picks += chosen.tolist()
        chance = np.maximum(chance, np.minimum(1.0, n * p))
    idx = np.array(picks, dtype=int)
    return idx, np.maximum(chance[idx], MIN_PROPENSITY)


def exploration_count(queue_size: int, share: float = EXPLORE_SHARE) -> int:
    """How many exploration cases go beside ``queue_size`` flagged ones, so they are ``share`` of all.

    Raises
    ------
    ValueError
        ``share`` outside [0, 1).
    """
    if not 0 <= share < 1:
        raise ValueError(f"exploration share: expected a number from 0 to below 1, found {share}")
    return math.ceil(share / (1 - share) * queue_size - 1e-9)


def interleave(queue_size: int, n: int, share: float = EXPLORE_SHARE) -> np.ndarray:
    """Where ``n`` exploration cases go in a queue of ``queue_size`` flagged ones.

    Exploration case ``j`` comes right after the flagged case at position
    ``after[j]`` (0 = the first), so that any first page of the queue holds
    about ``share`` exploration cases. The case store gives it that flagged
    case's priority and a later id, so the queue (priority, highest first,
    then id) shows it there even among equal risks. With no flagged case,
    every position is -1 (the exploration cases are the queue).

    Returns
    -------
    numpy.ndarray
        ``after``, non-decreasing integer positions from -1 to ``queue_size - 1``.
    """
    if n <= 0:
        return np.zeros(0, dtype=int)
    if queue_size == 0 or share <= 0:
        return np.full(n, -1, dtype=int)
    every = (1 - share) / share  # flagged cases between two exploration cases
    after = np.round((np.arange(n) + 1) * every).astype(int) - 1
    return np.clip(after, 0, queue_size - 1)
