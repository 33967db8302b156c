"""Weighted bin thresholds found in one pass are scikit-learn's own, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting import binning

from detector import _binning


def columns(n: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Columns that reach every branch: many distinct values, ties, gaps, zero weights."""
    rng = np.random.default_rng(seed)
    weights = np.where(rng.random(n) < 0.8, 5.0, 1.0)  # the downsampled class's weight
    uneven = rng.exponential(size=n)
    with_nan = rng.normal(size=n)
    with_nan[rng.random(n) < 0.3] = np.nan
    some_zero = weights.copy()
    some_zero[rng.random(n) < 0.2] = 0.0
    return {
        "continuous": (rng.normal(size=n), weights),
        "ties": (rng.integers(0, 2_000, n).astype(float), weights),
        "heavy ties": (np.floor(rng.exponential(scale=40, size=n)), weights),
        "missing": (with_nan, weights),
        "zero weights": (rng.normal(size=n), some_zero),
        "uneven weights": (rng.normal(size=n), uneven),
        "few values": (rng.integers(0, 7, n).astype(float), weights),
        "one value": (np.full(n, 3.0), weights),
        "all weights zero": (rng.normal(size=n), np.zeros(n)),
        "unweighted": (rng.normal(size=n), None),
    }


@pytest.mark.parametrize("name", list(columns(10, 0)))
def test_thresholds_are_scikit_learns_bit_for_bit(name: str) -> None:
    data, weight = columns(20_000, 1)[name]
    try:
        expected = _binning.ORIGINAL(data.copy(), 255, sample_weight=weight)
    except ValueError as exc:  # scikit-learn's own failure (no value with weight) stays as it is
        with pytest.raises(ValueError, match=str(exc)[:20]):
            _binning.find_binning_thresholds(data.copy(), 255, sample_weight=weight)
        return
    got = _binning.find_binning_thresholds(data.copy(), 255, sample_weight=weight)
    np.testing.assert_array_equal(got, expected, strict=True)


@pytest.mark.parametrize(
    "name", ["continuous", "ties", "heavy ties", "uneven weights", "few values"]
)
def test_all_ranks_at_once_are_scikit_learns_weighted_percentiles(name: str) -> None:
    """Ranks 0 and 100, between the data's own ranks and on them, in any order."""
    from sklearn.utils.stats import _weighted_percentile

    data, weight = columns(5_000, 2)[name]
    ranks = np.r_[
        0.0, 100.0, 50.0, np.linspace(0, 100, 256)[1:-1], np.random.default_rng(3).random(40) * 100
    ]
    expected = _weighted_percentile(data, weight, ranks, average=True)
    got = _binning.averaged_percentiles(data, weight, ranks)
    np.testing.assert_array_equal(got, expected, strict=True)


def test_weighted_trees_are_the_same_with_either_binning(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    n = 6_000
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "count": np.floor(rng.exponential(scale=50, size=n)),
            "kind": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        }
    )
    y = (X["x"] + (X["kind"] == "a") + rng.normal(0, 0.5, n) > 0.7).to_numpy()
    w = np.where(y, 1.0, 5.0)

    def fitted() -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=20, categorical_features="from_dtype", random_state=0
        ).fit(X, y, sample_weight=w)

    monkeypatch.setattr(binning, "_find_binning_thresholds", _binning.find_binning_thresholds)
    fast = fitted()
    monkeypatch.setattr(binning, "_find_binning_thresholds", _binning.ORIGINAL)
    slow = fitted()
    for a, b in zip(
        fast._bin_mapper.bin_thresholds_, slow._bin_mapper.bin_thresholds_, strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.predict_proba(X), slow.predict_proba(X))


def test_installed_only_where_scikit_learn_lacks_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binning, "_find_binning_thresholds", _binning.ORIGINAL)
    monkeypatch.setattr(_binning.sklearn, "__version__", "1.10.0")
    assert not _binning.install()
    assert binning._find_binning_thresholds is _binning.ORIGINAL
    monkeypatch.setattr(_binning.sklearn, "__version__", "1.9.1")
    assert _binning.install()
    assert binning._find_binning_thresholds is _binning.find_binning_thresholds
