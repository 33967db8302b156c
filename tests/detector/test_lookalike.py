"""Look-alike groups' thresholds: owners whom relatives file for (detector._lookalike)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from detector._lookalike import (
    CEILING,
    GROUPS,
    group_of,
    group_thresholds,
    row_threshold,
    threshold_for,
    thresholds_of,
)
from detector.artifacts import load
from features import read_dataset
from features.compute import compute_features


def test_groups_by_age_and_unknown_age_is_no_group() -> None:
    ages = np.array([75.0, 70.0, 69.9, 13.9, 14.0, np.nan, 40.0])
    assert group_of(ages).tolist() == [1, 1, 0, 2, 0, 0, 0]


def _calibration(
    elder_legit: list[float], other_legit: list[float], elder_misuse: list[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    risk = np.array(elder_legit + other_legit + elder_misuse)
    misuse = np.array([False] * (len(elder_legit) + len(other_legit)) + [True] * len(elder_misuse))
    age = np.array(
        [80.0] * len(elder_legit) + [35.0] * len(other_legit) + [82.0] * len(elder_misuse)
    )
    return risk, misuse, age


def test_a_group_flagged_more_often_than_the_others_gets_a_higher_threshold() -> None:
    # 100 elderly legitimate dossiers, 3 above the 0.5 threshold; 1,000 others, 1 above it
    elder = [0.9, 0.7, 0.6] + [0.1] * 97
    others = [0.8] + [0.05] * 999
    risk, misuse, age = _calibration(elder, others, [0.95, 0.85, 0.65])
    found = group_thresholds(risk, misuse, age, 0.5)["owner_70_plus"]
    # others: (1 + 1) / (1000 + 1) ≈ 0.2 %: at most 0.2 elderly dossiers may be flagged, so none
    assert found["threshold"] > 0.9
    assert found["flagged_legitimate"] == 0
    assert found["legitimate"] == 100 and found["misuse"] == 3
    assert found["misuse_kept"] == pytest.approx(1 / 3)


def test_a_group_flagged_no_more_often_keeps_the_detectors_threshold() -> None:
    elder = [0.6] + [0.1] * 499  # 0.2 % flagged
    others = [0.8] * 5 + [0.05] * 995  # 0.5 % flagged
    risk, misuse, age = _calibration(elder, others, [0.9])
    found = group_thresholds(risk, misuse, age, 0.5)
    assert found["owner_70_plus"]["threshold"] == 0.5
    assert found["owner_70_plus"]["misuse_kept"] == 1.0
    # a group with no calibration rows keeps it too
    assert found["owner_under_14"]["threshold"] == 0.5
    assert found["owner_under_14"]["misuse_kept"] is None


def test_the_group_threshold_never_goes_below_the_detectors_nor_above_the_ceiling() -> None:
    elder = [0.999, 0.99] + [0.1] * 10
    risk, misuse, age = _calibration(elder, [0.05] * 100, [])
    found = group_thresholds(risk, misuse, age, 0.5)["owner_70_plus"]
    assert found["threshold"] == CEILING
    low = group_thresholds(*_calibration([0.1] * 10, [0.05] * 100, []), 0.7)["owner_70_plus"]
    assert low["threshold"] == 0.7


def test_weights_count_as_rows() -> None:
    # one elderly legitimate dossier above the threshold, weighing as much as 50
    risk, misuse, age = _calibration([0.6] + [0.1] * 99, [0.7] + [0.05] * 99, [])
    light = group_thresholds(risk, misuse, age, 0.5)["owner_70_plus"]["threshold"]
    w = np.ones(len(risk))
    w[0] = 50.0
    heavy = group_thresholds(risk, misuse, age, 0.5, w)["owner_70_plus"]["threshold"]
    assert light == 0.5 and heavy > 0.6


def test_one_dossier_and_a_frame_read_the_same_threshold() -> None:
    by_group = thresholds_of({"owner_70_plus": {"threshold": 0.8}}, 0.5)
    assert by_group.tolist() == [0.5, 0.8, 0.5]
    ages = [80.0, 30.0, 10.0, math.nan]
    assert row_threshold(by_group, np.array(ages)).tolist() == [
        threshold_for(by_group, a) for a in ages
    ]
    assert threshold_for(by_group, None) == 0.5
    assert thresholds_of(None, 0.6).tolist() == [0.6] * (1 + len(GROUPS))
    # a threshold raised after fitting raises the groups' with it
    assert thresholds_of({"owner_70_plus": {"threshold": 0.8}}, 0.9).tolist() == [0.9] * 3


def test_a_fitted_detector_flags_elderly_owners_by_their_groups_threshold(
    model_dir: Path, province_dir: Path
) -> None:
    det, card = load(model_dir, "review")
    ds = read_dataset(province_dir / "data")
    X = compute_features(ds.tables, ds.present, "review").frame
    groups = det.lookalike_
    assert card["moments"]["review"]["lookalike_thresholds"] == groups
    assert set(groups) == set(GROUPS)
    for g in groups.values():
        assert g["threshold"] >= det.threshold_
    scored = det.score_frame(X)
    age = X["owner_age"].to_numpy(float)
    need = row_threshold(det.thresholds_by_group(), age)
    assert (scored["flagged"].to_numpy() == (scored["risk_score"].to_numpy() >= need)).all()
