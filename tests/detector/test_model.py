"""The misuse model's calibration split: representative labels calibrate, queue-chosen ones train.

A synthetic frame: one informative feature, 1,000 labelled dossiers over time,
10 % misuse. The newest 200 labels are verdicts on the top of a review queue
(all misuse), as a team reviewing flags would record them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.model import MisuseModel


def _frame(
    n: int = 1000, chosen: int = 200, seed: int = 0
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    misuse = rng.random(n) < 0.1
    misuse[-chosen:] = True  # the review queue's top: misuse only
    X = pd.DataFrame({"signal": np.where(misuse, 2.0, 0.0) + rng.normal(0, 1, n)})
    y = pd.Series(np.where(misuse, "identity_misuse", "self"), index=X.index)
    t = pd.Series(pd.date_range("2025-01-01", periods=n, freq="h"), index=X.index)
    return X, y, t


def test_calibrating_on_the_queues_top_alone_is_refused_with_the_reason() -> None:
    # the latest 20 % of labels are all misuse: no calibration can be learnt from them
    X, y, t = _frame()
    with pytest.raises(ValueError, match=r"misuse only.*label a sample of recent dossiers"):
        MisuseModel(benefit_of_doubt=False, prune_noise=False, random_state=0).fit(X, y, t)


def test_queue_chosen_labels_train_the_trees_but_do_not_calibrate() -> None:
    X, y, t = _frame()
    representative = pd.Series(True, index=X.index)
    representative.iloc[-200:] = False
    model = MisuseModel(benefit_of_doubt=False, prune_noise=False, random_state=0).fit(
        X, y, t, calibrate=representative
    )
    # calibration: the latest 20 % of the 800 representative labels, with both classes
    assert len(model.calibration_target_) == 160
    assert 0 < model.calibration_target_.mean() < 0.5
    # and the 200 chosen labels were not thrown away: without them the trees differ
    dropped = y.copy()
    dropped.iloc[-200:] = np.nan
    without = MisuseModel(benefit_of_doubt=False, prune_noise=False, random_state=0).fit(
        X, dropped, t, calibrate=representative
    )
    grid = pd.DataFrame({"signal": np.linspace(-2, 4, 50)})
    p_with = model.trees_.predict_proba(grid)[:, 1]
    p_without = without.trees_.predict_proba(grid)[:, 1]
    assert not np.allclose(p_with, p_without)
    assert np.array_equal(model.calibration_target_, without.calibration_target_)


# ----------------------------------------------------------------- wrong labels (issue #10)
def _noisy(
    n: int = 4000, wrong: float = 0.10, seed: int = 1
) -> tuple[pd.DataFrame, pd.Series, pd.Series, np.ndarray]:
    """Two well-separated classes (misuse 10 %), and a share of the labels flipped."""
    rng = np.random.default_rng(seed)
    misuse = rng.random(n) < 0.1
    X = pd.DataFrame({"signal": np.where(misuse, 4.0, 0.0) + rng.normal(0, 0.7, n)})
    flipped = rng.random(n) < wrong
    label = misuse ^ flipped
    y = pd.Series(np.where(label, "identity_misuse", "self"), index=X.index)
    t = pd.Series(pd.date_range("2025-01-01", periods=n, freq="h"), index=X.index)
    return X, y, t, flipped


def test_contradicted_labels_are_set_aside_and_counted() -> None:
    X, y, t, flipped = _noisy()
    model = MisuseModel(benefit_of_doubt=False, random_state=0).fit(X, y, t)
    noise = model.label_noise_
    # one label in ten was flipped; most are found, and few right ones are taken for wrong
    assert noise["judged"] and 0.6 * flipped.mean() < noise["share"] < 1.2 * flipped.mean()
    # the calibration months' labels, once the contradicted ones are out, are mostly right
    assert model.calibration_target_.mean() < 0.15
    # the risk is a probability of misuse, not of a wrong label: clear cases are near 0 and 1
    grid = pd.DataFrame({"signal": [0.0, 4.0]})
    risk = model.predict_risk(grid, np.zeros(2))["risk_score"].to_numpy()
    assert risk[0] < 0.05 and risk[1] > 0.9


def test_clean_labels_lose_almost_nothing() -> None:
    X, y, t, _ = _noisy(wrong=0.0)
    noise = MisuseModel(benefit_of_doubt=False, random_state=0).fit(X, y, t).label_noise_
    assert noise["share"] < 0.01


def test_too_few_labels_are_not_judged() -> None:
    X, y, t, _ = _noisy(n=300)
    noise = MisuseModel(benefit_of_doubt=False, random_state=0).fit(X, y, t).label_noise_
    assert noise["share"] == 0.0  # 300 labels: each counts more than two half-models' say
