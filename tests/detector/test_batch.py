"""train / score / report through the real command line, on the small simulated province."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from cli_run import run_cli as run

from detector.batch import score_dataset
from features import read_dataset

SCORE_COLUMNS = ["dossier_id", "risk_score", "proxy_type", "flagged", "reasons"]
REPORT_COLUMNS = [
    "unit_id",
    "month",
    "dossiers",
    "claimed_online_share",
    "estimated_genuine_online_share",
    "suspected_officer_proxy",
]


def test_train_writes_both_moments_and_a_card(model_dir: Path) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    assert set(card["moments"]) == {"submission", "review"}
    for at, m in card["moments"].items():
        assert (model_dir / m["file"]).exists()
        assert 0.1 <= m["threshold"] <= 0.95
        assert m["calibration_months"]["average_precision"] > 0.8, at
    assert (
        card["training"]["labelled"] < card["training"]["dossiers"]
    )  # partial labels were accepted
    assert "accept_delay_min" in card["moments"]["review"]["features"]
    assert "accept_delay_min" not in card["moments"]["submission"]["features"]


def test_score_writes_the_contract_columns_and_finds_misuse(
    province_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    proc = run(
        "score", province_dir / "data", "--model", model_dir, "--out", out, "--since", "2025-11-01"
    )
    assert proc.returncode == 0, proc.stderr
    s = pd.read_csv(out, dtype={"dossier_id": str, "reasons": str})
    assert list(s.columns) == SCORE_COLUMNS
    assert s["risk_score"].between(0, 1).all()
    assert s.loc[~s["flagged"], "reasons"].isna().all()  # empty when not flagged
    assert s.loc[s["flagged"], "reasons"].notna().all()
    labels = pd.read_csv(province_dir / "labels.csv", dtype=str).set_index("dossier_id")[
        "proxy_type"
    ]
    y = s["dossier_id"].map(labels)
    misuse = y.isin(["identity_misuse", "officer_proxy"])
    # held-out months (labels stop in October): most misuse flagged, almost no family filing
    assert s.loc[misuse, "flagged"].mean() > 0.8
    assert s.loc[y == "family", "flagged"].mean() < 0.02
    # a flagged dossier is never called a legitimate type
    assert s.loc[s["flagged"], "proxy_type"].isin(["identity_misuse", "officer_proxy"]).all()


def test_since_until_choose_rows_but_history_still_counts(
    province_dir: Path, model_dir: Path
) -> None:
    ds = read_dataset(province_dir / "data")
    whole = score_dataset(ds, model_dir, at="submission").set_index("dossier_id")
    window = score_dataset(ds, model_dir, at="submission", since="2025-12-01", until="2025-12-15")
    t = (
        ds.tables["dossiers"]
        .set_index("dossier_id")["submitted_at"]
        .dt.tz_convert("Asia/Ho_Chi_Minh")
    )
    days = t.loc[window["dossier_id"]].dt.strftime("%Y-%m-%d")
    assert days.between("2025-12-01", "2025-12-15").all() and len(window) > 100
    np.testing.assert_allclose(
        window["risk_score"].to_numpy(),
        whole.loc[window["dossier_id"], "risk_score"].to_numpy(),
        rtol=1e-12,
    )


def test_submission_scores_do_not_change_when_later_dossiers_arrive(
    province_dir: Path, model_dir: Path
) -> None:
    ds = read_dataset(province_dir / "data")
    whole = score_dataset(ds, model_dir, at="submission").set_index("dossier_id")
    d = ds.tables["dossiers"]
    cut = d["submitted_at"].quantile(0.5)
    ds.tables["dossiers"] = d[d["submitted_at"] < cut].reset_index(drop=True)
    early = score_dataset(ds, model_dir, at="submission").set_index("dossier_id")
    np.testing.assert_allclose(
        early["risk_score"].to_numpy(), whole.loc[early.index, "risk_score"].to_numpy(), rtol=1e-12
    )
    assert (early["reasons"] == whole.loc[early.index, "reasons"]).all()


def test_report_has_one_row_per_unit_and_month(
    province_dir: Path, model_dir: Path, province, tmp_path: Path
) -> None:
    out = tmp_path / "units.csv"
    proc = run("report", province_dir / "data", "--model", model_dir, "--out", out)
    assert proc.returncode == 0, proc.stderr
    r = pd.read_csv(out, dtype={"unit_id": str, "month": str})
    assert list(r.columns[:6]) == REPORT_COLUMNS
    assert not r.duplicated(["unit_id", "month"]).any()
    assert (r["estimated_genuine_online_share"] <= r["claimed_online_share"] + 1e-9).all()
    assert (tmp_path / "units_officers.csv").exists()
    # against the truth: the estimated genuine share is close to the real one
    d = (
        province.tables["dossiers"]
        .drop_duplicates("dossier_id")
        .merge(province.labels, on="dossier_id")
    )
    d["month"] = d["submitted_at"].str[:7]
    d["channel"] = d["channel"].str.strip().str.lower()
    d["genuine"] = (d["channel"] == "online") & (d["proxy_type"] != "officer_proxy")
    truth = d.groupby(["unit_id", "month"])["genuine"].mean().rename("true")
    m = r.set_index(["unit_id", "month"]).join(truth, how="inner")
    big = m[m["dossiers"] >= 100]
    assert (big["estimated_genuine_online_share"] - big["true"]).abs().mean() < 0.02


def test_a_model_that_does_not_match_is_refused(
    model_dir: Path, province_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "m"
    broken.mkdir()
    for f in model_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    card = json.loads((broken / "model_card.json").read_text())
    card["moments"]["review"]["features"] = card["moments"]["review"]["features"][:-1]
    (broken / "model_card.json").write_text(json.dumps(card))
    proc = run("score", province_dir / "data", "--model", broken, "--out", tmp_path / "s.csv")
    assert proc.returncode == 2
    assert "retrain" in proc.stderr
    proc = run(
        "score", province_dir / "data", "--model", tmp_path / "nothing", "--out", tmp_path / "s.csv"
    )
    assert proc.returncode == 2 and "detector train" in proc.stderr


def test_rules_backtest_prints_each_rule(province_dir: Path, partial_labels: Path) -> None:
    proc = run(
        "rules", "backtest", province_dir / "data", "--labels", partial_labels, "--lang", "en"
    )
    assert proc.returncode == 0, proc.stderr
    for rule in ("R101", "R201", "L302"):
        assert rule in proc.stdout


def test_train_refuses_labels_that_match_nothing(province_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("dossier_id,proxy_type\nNOPE1,self\nNOPE2,identity_misuse\n")
    proc = run("train", province_dir / "data", "--labels", bad, "--out", tmp_path / "m")
    assert proc.returncode == 2
    assert "labels.csv" in proc.stderr
