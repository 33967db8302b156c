"""A large table's columns normalised on threads give what one thread gives (features.normalise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import normalise
from features.contract import DOSSIERS
from features.normalise import normalise_table


def _issues(found: list) -> list[tuple]:
    return [(i.code, i.table, i.column, list(i.rows), i.count) for i in found]


def test_threads_give_the_same_table_and_issues_in_the_same_order(
    province_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = pd.read_csv(province_dir / "data" / "dossiers.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(3)
    dirty = rng.random(len(raw)) < 0.05
    raw.loc[dirty, "channel"] = rng.choice(["Online ", "web", ""], dirty.sum())
    raw.loc[dirty, "submitted_at"] = rng.choice(["yesterday", "", "2026-13-01 10:00"], dirty.sum())
    raw.loc[dirty, "owner_id"] = rng.choice(["abc", " 001085000123 ", ""], dirty.sum())
    raw = raw.drop(columns=["ip"])  # an absent column is reported at its place

    monkeypatch.setattr(normalise, "_THREADED_ROWS", 10**12)
    one, one_found = normalise_table(raw, DOSSIERS)
    monkeypatch.setattr(normalise, "_THREADED_ROWS", 1)
    monkeypatch.setattr(normalise, "threads", lambda: 4)
    many, many_found = normalise_table(raw, DOSSIERS)

    pd.testing.assert_frame_equal(many, one, check_exact=True)
    assert _issues(many_found) == _issues(one_found)
    codes = {i.code for i in one_found}
    assert {"column_absent", "missing_value"} <= codes  # the dirt was seen


def test_omp_num_threads_caps_the_threads_as_dasks_workers_set_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from features._private import threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads() >= 1
