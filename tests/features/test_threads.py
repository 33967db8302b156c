"""Work done on threads gives what one thread gives (features._private.on_threads): a large
table's columns (features.normalise), the data checks (features.checks), the holder's joins
(features.links) and the counters of different keys (features.pit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import _private, read_dataset
from features.checks import run_checks
from features.compute import compute_all
from features.contract import DOSSIERS, LOCAL_TZ
from features.normalise import normalise_table


def _issues(found: list) -> list[tuple]:
    return [(i.code, i.table, i.column, list(i.rows), i.count) for i in found]


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Run every step on one thread; ``threaded()`` then switches them to four threads, and the
    list records each pool's size, so a test shows the threads were used."""
    monkeypatch.setattr(_private, "THREADED_ROWS", 10**12)
    return []


def threaded(monkeypatch: pytest.MonkeyPatch, pools: list[int]) -> None:
    class Counted(_private.ThreadPoolExecutor):
        def __init__(self, workers: int) -> None:
            pools.append(workers)
            super().__init__(workers)

    monkeypatch.setattr(_private, "THREADED_ROWS", 1)
    monkeypatch.setattr(_private, "threads", lambda: 4)
    monkeypatch.setattr(_private, "ThreadPoolExecutor", Counted)


def test_threads_give_the_same_table_and_issues_in_the_same_order(
    province_dir: Path, monkeypatch: pytest.MonkeyPatch, pools: list[int]
) -> None:
    raw = pd.read_csv(province_dir / "data" / "dossiers.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(3)
    dirty = rng.random(len(raw)) < 0.05
    raw.loc[dirty, "channel"] = rng.choice(["Online ", "web", ""], dirty.sum())
    raw.loc[dirty, "submitted_at"] = rng.choice(["yesterday", "", "2026-13-01 10:00"], dirty.sum())
    raw.loc[dirty, "owner_id"] = rng.choice(["abc", " 001085000123 ", ""], dirty.sum())
    raw = raw.drop(columns=["ip"])  # an absent column is reported at its place

    one, one_found = normalise_table(raw, DOSSIERS)
    threaded(monkeypatch, pools)
    many, many_found = normalise_table(raw, DOSSIERS)

    assert pools == [4]
    pd.testing.assert_frame_equal(many, one, check_exact=True)
    assert _issues(many_found) == _issues(one_found)
    codes = {i.code for i in one_found}
    assert {"column_absent", "missing_value"} <= codes  # the dirt was seen


def test_checks_on_threads_find_the_same_issues_in_the_same_order(
    province_dir: Path, monkeypatch: pytest.MonkeyPatch, pools: list[int]
) -> None:
    ds = read_dataset(province_dir / "data")
    tables = dict(ds.tables)
    d = tables["dossiers"].copy()
    d.loc[::50, "owner_id"] = "12345"  # neither a citizen ID nor a tax code
    d.loc[1::70, "unit_id"] = "U-NOWHERE"
    d.loc[2::90, "account_id"] = "ACC-NOWHERE"
    tables["dossiers"] = d
    people = tables["people"].copy()
    people.loc[::40, "person_id"] = "999000000000"  # no such province
    tables["people"] = people
    as_of = pd.Timestamp("2026-12-01", tz=LOCAL_TZ)
    one = run_checks(tables, ds.present, as_of)
    threaded(monkeypatch, pools)
    many = run_checks(tables, ds.present, as_of)

    assert pools == [4]
    assert _issues(many) == _issues(one)
    codes = {i.code for i in one}
    assert {"owner_id_malformed", "unknown_reference", "person_id_unknown_province"} <= codes, codes


def test_links_and_counters_on_threads_give_the_same_features(
    province_dir: Path, monkeypatch: pytest.MonkeyPatch, pools: list[int]
) -> None:
    """Both moments' frames and data gaps, exactly."""
    ds = read_dataset(province_dir / "data")
    one = compute_all(ds.tables, ds.present)
    threaded(monkeypatch, pools)
    many = compute_all(ds.tables, ds.present)

    # the holder's three joins (features.links), the counters at submission, then those looking
    # after (review): a thread per piece, up to four
    assert pools == [3, 4, 3], pools
    for at, frame in one.items():
        pd.testing.assert_frame_equal(many[at].frame, frame.frame, check_exact=True)
        pd.testing.assert_series_equal(many[at].data_gaps, frame.data_gaps)


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
