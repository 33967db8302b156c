"""Weighted bin thresholds for histogram gradient boosting in one pass, not one per bin.

Before its trees grow, ``HistGradientBoostingClassifier`` cuts each numeric
feature into at most 255 bins at its quantiles. With sample weights and at
most 200,000 rows (above that scikit-learn subsamples and drops the weights),
scikit-learn 1.9 finds each of the 254 cuts with its own call to
``_weighted_percentile``, and every call sorts the column again: about 10 s
of a 12 s fit on 137,000 weighted rows, and the misuse model always passes
weights (the downsampled ``self`` class carries the inverse of its keep rate).
scikit-learn's own fix ("PRF: Optimize binning in HGBT", scikit-learn pull
request 34248, merged June 2026) is not in a release yet.

:func:`find_binning_thresholds` asks ``_weighted_percentile`` for all cuts in
one call: the same sort, the same cumulative weights and, per cut, the same
arithmetic, so the thresholds are equal bit for bit and so are the fitted
trees (``tests/detector/test_binning.py`` checks both). Unweighted columns and
columns with few distinct values go to scikit-learn's own function.
:func:`install` puts it in place of scikit-learn's for scikit-learn before
1.10 only; a release with the upstream fix keeps its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from sklearn.ensemble._hist_gradient_boosting import binning
from sklearn.ensemble._hist_gradient_boosting.common import ALMOST_INF

__all__ = ["find_binning_thresholds", "install"]

#: scikit-learn's own function, which every case but the slow one goes to
ORIGINAL = binning._find_binning_thresholds
#: the first scikit-learn release that may carry the upstream fix
FIXED_IN = (1, 10)


def find_binning_thresholds(
    col_data: np.ndarray, max_bins: int, sample_weight: np.ndarray | None = None
) -> Any:
    """scikit-learn's ``_find_binning_thresholds``, the weighted quantiles found in one call."""
    if sample_weight is None:
        return ORIGINAL(col_data, max_bins)
    # the same steps, in the same order, as scikit-learn's function
    missing = np.isnan(col_data)
    if missing.any():
        col_data, sample_weight = col_data[~missing], sample_weight[~missing]
    nonzero = sample_weight != 0
    col_data, sample_weight = col_data[nonzero], sample_weight[nonzero]
    order = np.argsort(col_data)
    col_data, sample_weight = col_data[order], sample_weight[order]
    if len(np.unique(col_data)) <= max_bins:  # midpoints of the values: no quantile needed
        return ORIGINAL(col_data, max_bins, sample_weight=sample_weight)
    percentiles = np.linspace(0, 100, num=max_bins + 1)[1:-1]
    thresholds = averaged_percentiles(col_data, sample_weight, percentiles)
    unique = np.unique(thresholds)
    if unique.shape[0] != thresholds.shape[0]:
        thresholds = unique
    np.clip(thresholds, a_min=None, a_max=ALMOST_INF, out=thresholds)
    return thresholds


def averaged_percentiles(values: np.ndarray, weights: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """``_weighted_percentile(values, weights, ranks, average=True)``, every rank at once.

    scikit-learn 1.9's function walks the ranks in a Python loop of small
    array-API calls (254 ranks per column: most of a weighted fit's binning).
    Here each of its steps runs on all ranks together, with the same sort,
    the same cumulative weights and the same arithmetic per rank, so the
    result is equal bit for bit. For one column of float64 values without
    NaN and weights all above zero (:func:`find_binning_thresholds` removes
    the others first), which skips the branches those would take.
    """
    values = np.asarray(values, np.float64)
    weights = np.asarray(weights, np.float64)
    ranks = np.asarray(ranks, np.float64)
    # as scikit-learn: its own (unstable) argsort, so ties order their weights the same way
    sorted_idx = np.argsort(values.reshape(-1, 1), axis=0, kind="quicksort")[:, 0]
    cdf = np.cumsum(weights[sorted_idx])
    adjusted = ranks / 100 * cdf[-1]
    at_zero = adjusted == 0
    adjusted[at_zero] = np.nextafter(adjusted[at_zero], adjusted[at_zero] + 1)
    last = len(values) - 1
    found = np.clip(np.searchsorted(cdf, adjusted), 0, last)
    here = values[sorted_idx[found]]
    above = values[sorted_idx[np.clip(found + 1, 0, last)]]
    fraction_above = cdf[found] - adjusted
    return np.where(fraction_above > np.finfo(np.float64).eps, here, (here + above) / 2)


def install() -> bool:
    """Use :func:`find_binning_thresholds` in scikit-learn's binning; whether it was installed."""
    release = tuple(int(p) for p in sklearn.__version__.split(".")[:2] if p.isdigit())
    if release >= FIXED_IN:
        return False
    binning._find_binning_thresholds = find_binning_thresholds
    return True
