"""The queue's exploration draw: where it draws, with which chances, where it goes in the queue."""

from __future__ import annotations

import numpy as np
import pytest

from detector.explore import EXPLORE_SHARE, exploration_count, explore, interleave

THRESHOLD = 0.6


def _risks() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.r_[rng.uniform(0.0, 0.05, 5000), rng.uniform(0.05, 1.0, 500)]


def test_the_draw_never_takes_a_taken_row_and_reports_each_chance() -> None:
    risk = _risks()
    taken = risk >= THRESHOLD  # the flagged ones are in the queue already
    idx, chance = explore(risk, THRESHOLD, 40, taken, np.random.default_rng(1))
    assert len(idx) == 40 and len(set(idx.tolist())) == 40
    assert not taken[idx].any()
    assert ((chance > 0) & (chance <= 1)).all()


def test_half_the_draw_comes_from_just_below_the_threshold() -> None:
    risk = _risks()
    idx, _ = explore(risk, THRESHOLD, 40, risk >= THRESHOLD, np.random.default_rng(2))
    below = (risk[idx] >= THRESHOLD / 5) & (risk[idx] < THRESHOLD)
    assert below.sum() >= 20
    # near-certain legitimate dossiers (risk under 5 %) are 90 % of the pool, far less of the draw
    assert (risk[idx] < 0.05).mean() < 0.5


def test_the_chances_are_the_draws_frequencies() -> None:
    """The reported chance is what weighting needs: over many draws, how often a row is drawn."""
    risk = np.r_[np.full(50, 0.02), np.linspace(0.15, 0.55, 50)]
    taken = np.zeros(len(risk), bool)
    counts = np.zeros(len(risk))
    chances = np.zeros(len(risk))
    runs = 2000
    rng = np.random.default_rng(3)
    for _ in range(runs):
        idx, chance = explore(risk, THRESHOLD, 10, taken, rng)
        counts[idx] += 1
        chances[idx] = chance
    seen = counts > 0
    # a small-chance approximation (max of the two halves' chances): within a third either way
    ratio = (counts[seen] / runs) / chances[seen]
    assert 0.67 < np.median(ratio) < 1.5


def test_a_thin_band_below_the_threshold_leaves_the_rest_to_uncertainty() -> None:
    risk = np.r_[np.full(200, 0.01), [0.3, 0.4]]  # only two dossiers just below the threshold
    idx, _ = explore(risk, THRESHOLD, 20, np.zeros(len(risk), bool), np.random.default_rng(4))
    assert len(idx) == 20


@pytest.mark.parametrize(("queue", "expected"), [(0, 0), (85, 15), (100, 18), (4475, 790)])
def test_exploration_is_its_share_of_the_whole_queue(queue: int, expected: int) -> None:
    assert exploration_count(queue, EXPLORE_SHARE) == expected
    assert exploration_count(queue, 0.0) == 0


def test_an_impossible_share_is_refused() -> None:
    with pytest.raises(ValueError, match="from 0 to below 1"):
        exploration_count(10, 1.0)


def test_exploration_cases_are_spread_so_any_first_page_holds_its_share() -> None:
    n_queue = 850
    after = interleave(n_queue, exploration_count(n_queue), EXPLORE_SHARE)
    assert (np.diff(after) >= 0).all() and after.min() >= 0 and after.max() < n_queue
    position = after + 1 + np.arange(len(after))  # in the merged queue: flagged + exploration
    for page in (20, 60, 200, 1000):
        explored = int((position < page).sum())
        assert abs(explored / page - EXPLORE_SHARE) <= 1 / page + 0.01


def test_with_nothing_flagged_the_exploration_cases_are_the_queue() -> None:
    assert (interleave(0, 5) == -1).all()
    assert len(interleave(10, 0)) == 0
