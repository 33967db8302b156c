"""The feature set on a simulated province: point in time, sensible, with data gaps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hand_made import Tables, write_csv

from features import read_dataset
from features.compute import compute_all, compute_features
from features.defs import feature_names


@pytest.fixture(scope="module")
def ds(province_dir):
    return read_dataset(province_dir / "data")


@pytest.fixture(scope="module")
def feats(ds):
    return compute_features(ds.tables, ds.present, "submission")


def test_columns_follow_the_definitions(feats, ds) -> None:
    assert list(feats.frame.columns) == feature_names("submission")
    assert len(feats.frame) == len(ds.tables["dossiers"])
    assert feats.frame.index.is_unique


def test_no_submission_feature_changes_when_later_dossiers_are_appended(ds, feats) -> None:
    d = ds.tables["dossiers"]
    cut = d["submitted_at"].quantile(0.6)
    early = {**ds.tables, "dossiers": d[d["submitted_at"] < cut].reset_index(drop=True)}
    part = compute_features(early, ds.present, "submission").frame
    whole = feats.frame.loc[part.index]
    pd.testing.assert_frame_equal(part, whole, check_exact=False, rtol=1e-12)
    # the review features, in contrast, do see the future
    rev_part = compute_features(early, ds.present, "review").frame
    rev_whole = compute_features(ds.tables, ds.present, "review").frame.loc[rev_part.index]
    assert not rev_part["acct_future"].equals(rev_whole["acct_future"])


def test_features_tell_the_typologies_apart(feats, province_dir) -> None:
    sc = pd.read_csv(province_dir / "scenarios.csv", dtype=str).set_index("dossier_id")["scenario"]
    f = feats.frame.assign(sc=feats.frame.index.map(sc))
    g = f.groupby("sc")
    # kiosks: many accounts, owners filing themselves, from the office network
    assert g["dev_accounts"].mean()["self_kiosk"] > 20
    assert g["dev_self_share"].mean()["self_kiosk"] > 0.9
    # officer proxies: devices used by staff accounts, late in the month
    assert g["dev_staff_accounts"].mean()["officer_proxy_staff_account"] > 0.8
    assert (
        g["day_of_month"].mean()["officer_proxy_staff_account"]
        > g["day_of_month"].mean()["self_online"] + 3
    )
    # brokers: many new owners with no known link through the account
    assert g["acct_new_unlinked_owners_30d"].mean()["misuse_broker_own"] > 5
    assert g["acct_new_unlinked_owners_30d"].mean()["self_online"] < 0.2


def test_missing_tables_become_data_gaps_not_evidence(ds) -> None:
    tables = {
        **ds.tables,
        "relations": ds.tables["relations"].iloc[0:0],
        "people": ds.tables["people"].iloc[0:0],
    }
    present = ds.present - {"relations", "people"}
    f = compute_features(tables, present, "submission")
    online = ds.tables["dossiers"]["channel"].eq("online").to_numpy()
    rel = f.frame["holder_relation"][online]
    # without the extract, nobody can be called unrelated
    assert (rel == "none_known").sum() == 0
    assert (rel == "unknown").mean() > 0.05
    assert f.data_gaps.str.contains("no_population_extract").all()
    assert np.isnan(f.frame["owner_deceased"]).all()


def test_a_folder_without_dossiers_gives_empty_features_of_the_same_schema(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # a month with no dossiers (a header-only dossiers file) is not an error: the features
    # are zero rows with the columns and dtypes that the same world with dossiers gives
    full = read_dataset(folder_of(tables))
    columns = list(tables["dossiers"][0])
    folder = folder_of(tables)
    write_csv(folder / "dossiers.csv", [], columns)
    empty = read_dataset(folder)
    assert len(empty["dossiers"]) == 0
    expected = compute_all(full.tables, full.present)
    got = compute_all(empty.tables, empty.present)
    for at in ("submission", "review"):
        frame, want = got[at].frame, expected[at].frame
        assert frame.shape == (0, len(feature_names(at)))
        pd.testing.assert_series_equal(frame.dtypes, want.dtypes)
        assert frame.index.name == "dossier_id" and frame.index.dtype == want.index.dtype
        assert len(got[at].data_gaps) == 0


def test_phone_30d_counts_earlier_filings_giving_the_same_phone_within_30_days(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # D1 (14 March) and D4 (20 March) give the same contact phone; D3 gives none
    def phone_30d(t: Tables) -> dict[str, float]:
        ds = read_dataset(folder_of(t))
        return compute_features(ds.tables, ds.present, "submission").frame["phone_30d"].to_dict()

    got = phone_30d(tables)
    assert (got["D1"], got["D2"], got["D4"]) == (0, 0, 1)
    assert np.isnan(got["D3"])  # no phone given: unknown, not zero
    for row in tables["dossiers"]:
        if row["dossier_id"] == "D4":  # 42 days after D1: past the window
            row["submitted_at"] = row["synced_at"] = "2025-04-25T20:00:00+07:00"
    assert phone_30d(tables)["D4"] == 0
