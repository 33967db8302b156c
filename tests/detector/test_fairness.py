"""Fairness figures of ``detector evaluate``: who counts as elderly or a child, rates, counts."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from detector._baselines import fairness, fairness_groups


def _ds() -> SimpleNamespace:
    """Five owners filing on 2025-09-01: 80, 70 exactly, 40, a 6-year-old, unknown."""
    people = pd.DataFrame(
        {
            "person_id": ["P80", "P70", "P40", "P6"],
            "birth_date": ["1945-01-01", "1955-08-31", "1985-03-03", "2019-05-05"],
        }
    )
    at = pd.Timestamp("2025-09-01 09:00", tz="Asia/Ho_Chi_Minh")
    dossiers = pd.DataFrame(
        {
            "dossier_id": [f"D{i}" for i in range(6)],
            "owner_id": ["P80", "P70", "P40", "P6", "P6", "P99"],
            "submitted_at": [at] * 6,
        }
    )
    return SimpleNamespace(tables={"dossiers": dossiers, "people": people})


def test_groups_are_legitimate_owners_70_or_more_children_filed_by_a_parent_and_the_rest() -> None:
    truth = np.array(["family", "self", "family", "family", "self", "family"], dtype=object)
    g = fairness_groups(_ds(), np.ones(6, bool), truth)  # type: ignore[arg-type]
    assert g["owner_70_plus"].tolist() == [True, True, False, False, False, False]
    # the child filed by a parent is one; a child's "self" filing is not; unknown owners are others
    assert g["child_by_parent"].tolist() == [False, False, False, True, False, False]
    assert g["other_legitimate"].tolist() == [False, False, True, False, True, True]
    misuse = truth.copy()
    misuse[0] = "identity_misuse"  # misuse is never in a fairness group
    assert not fairness_groups(_ds(), np.ones(6, bool), misuse)["owner_70_plus"][0]  # type: ignore[arg-type]


def test_the_ratio_comes_with_the_counts_it_rests_on() -> None:
    n_old, n_rest = 1000, 10000
    groups = {
        "owner_70_plus": np.r_[np.ones(n_old, bool), np.zeros(n_rest, bool)],
        "child_by_parent": np.zeros(n_old + n_rest, bool),
        "other_legitimate": np.r_[np.zeros(n_old, bool), np.ones(n_rest, bool)],
    }
    flagged = np.zeros(n_old + n_rest, bool)
    flagged[:2] = True  # two elderly owners
    flagged[n_old : n_old + 4] = True  # four others
    out = fairness(flagged, groups)
    old = out["owner_70_plus"]
    assert old["ratio"] == pytest.approx((2 / 1000) / (4 / 10000))  # 5x: from two dossiers
    assert (old["flagged"], old["dossiers"], old["excess"]) == (2, 1000, 1.6)
    assert out["other_legitimate"]["flagged"] == 4
    assert out["child_by_parent"]["flag_rate"] is None and out["child_by_parent"]["flagged"] == 0
