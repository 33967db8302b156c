"""`detector evaluate`: held-out later months, the detector beside its baselines.

One real run of the command line on the small simulated province (six months,
the last two held out) is shared by the module; the split and the metric
helpers are also checked on small inputs built by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from cli_run import run_cli as run

from detector._baselines import precision_at_share
from detector.evaluate import METHODS, headline_rows, read_scenarios, time_split
from features.contract import LEGITIMATE_TYPES, LOCAL_TZ, MISUSE_TYPES, PROXY_TYPES
from features.errors import UsageError

PLOTS = ("pr_curves.png", "confusion_matrix.png", "unit_share.png")


@pytest.fixture(scope="module")
def evaluated(province_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The evaluation folder and the printed output of one end-to-end run."""
    out = tmp_path_factory.mktemp("eval")
    proc = run(
        "evaluate",
        province_dir / "data",
        "--labels",
        province_dir / "labels.csv",
        "--out",
        out,
        "--holdout-months",
        "2",
    )
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


@pytest.fixture(scope="module")
def metrics(evaluated: tuple[Path, str]) -> dict[str, Any]:
    return json.loads((evaluated[0] / "metrics.json").read_text())


def test_cli_prints_the_methods_side_by_side_and_the_folder(evaluated: tuple[Path, str]) -> None:
    out, stdout = evaluated
    for name in METHODS.values():
        assert name in stdout
    assert "average precision" in stdout
    assert "evaluation written to" in stdout
    for name in ("metrics.json", "summary.md", "holdout_scores.csv", "unit_share.csv", *PLOTS):
        assert (out / name).is_file(), name


def test_split_holds_out_the_last_two_months(metrics: dict[str, Any]) -> None:
    # the province runs July to December 2025: November and December are held out
    assert metrics["split"]["holdout_months"] == ["2025-11", "2025-12"]
    assert metrics["split"]["split_at"].startswith("2025-11-01 00:00:00+07:00")
    rows = metrics["rows"]
    assert rows["train"] + rows["holdout"] == rows["dossiers"]  # every dossier is labelled
    assert sum(rows["holdout_by_type"].values()) == rows["holdout"]
    assert 0 < rows["holdout_self_kiosk"] < rows["holdout_by_type"]["self"]


def test_metrics_have_every_method_and_every_metric(metrics: dict[str, Any]) -> None:
    assert list(metrics["methods"]) == list(METHODS)
    for key, m in metrics["methods"].items():
        assert 0 <= m["average_precision"] <= 1, key
        assert 0 <= m["precision_at_capacity"] <= 1, key
        assert set(m["recall_by_type"]) == set(MISUSE_TYPES), key
        assert set(m["flag_rate_by_type"]) == set(LEGITIMATE_TYPES), key
        assert all(0 <= v <= 1 for v in m["recall_by_type"].values()), key
        assert 0 <= m["flag_rate_self_kiosk"] <= 1, key  # scenarios.csv sits beside the labels
        assert m["unit_share"]["max_abs_error"] >= m["unit_share"]["mean_abs_error"] >= 0, key
        assert m["unit_share"]["unit_months"] > 0, key
        assert m["threshold_policy"], key
    # the unsupervised forest flags as many dossiers as the detector
    assert (
        metrics["methods"]["isolation_forest"]["flagged"]
        == metrics["methods"]["detector"]["flagged"]
    )


def test_confusion_matrix_is_six_by_six_over_the_held_out_rows(metrics: dict[str, Any]) -> None:
    conf = metrics["methods"]["detector"]["confusion"]
    m = np.array(conf["matrix"])
    assert conf["labels"] == list(PROXY_TYPES)
    assert m.shape == (6, 6)
    # rows are the truth: each row sums to the held-out count of that type
    assert m.sum(axis=1).tolist() == [metrics["rows"]["holdout_by_type"][c] for c in PROXY_TYPES]
    # baselines without a type of their own have no confusion matrix
    assert "confusion" in metrics["methods"]["rules"]
    assert "confusion" not in metrics["methods"]["isolation_forest"]
    assert "confusion" not in metrics["methods"]["single_dossier"]


def test_detector_ranks_misuse_better_than_every_baseline(metrics: dict[str, Any]) -> None:
    ours = metrics["methods"]["detector"]["average_precision"]
    for key in METHODS:
        if key != "detector":
            assert ours > metrics["methods"][key]["average_precision"], key
    assert metrics["versus_baselines"]["average_precision"]["detector_ahead"]


@pytest.mark.parametrize("name", PLOTS)
def test_plots_are_real_images(evaluated: tuple[Path, str], name: str) -> None:
    path = evaluated[0] / name
    assert path.stat().st_size > 10_000
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] > 500 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_summary_and_scores_are_written(
    evaluated: tuple[Path, str], metrics: dict[str, Any]
) -> None:
    out = evaluated[0]
    summary = (out / "summary.md").read_text()
    assert "| average precision (misuse) |" in summary
    assert "kiosk" in summary
    scores = pd.read_csv(out / "holdout_scores.csv", dtype={"dossier_id": str})
    assert len(scores) == metrics["rows"]["holdout"]
    assert {f"score_{k}" for k in METHODS} <= set(scores.columns)
    shares = pd.read_csv(out / "unit_share.csv")
    assert len(shares) == metrics["methods"]["detector"]["unit_share"]["unit_months"]


def test_too_few_labels_exit_2_with_one_line(province_dir: Path, tmp_path: Path) -> None:
    # one label in 150, over all six months: about 90 in the four training months, under 100
    labels = pd.read_csv(province_dir / "labels.csv", dtype=str).iloc[::150]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    proc = run(
        "evaluate",
        province_dir / "data",
        "--labels",
        tmp_path / "labels.csv",
        "--out",
        tmp_path / "eval",
        "--holdout-months",
        "2",
    )
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("[")]
    assert len(errors) == 1  # after the progress lines, one line says why
    assert "too few labels in the training part" in proc.stderr
    assert not (tmp_path / "eval").exists()


def test_no_cases_per_month_exits_2_before_reading(province_dir: Path, tmp_path: Path) -> None:
    proc = run(
        "evaluate",
        province_dir / "data",
        "--labels",
        province_dir / "labels.csv",
        "--out",
        tmp_path / "eval",
        "--cases-per-month",
        "0",
    )
    assert proc.returncode == 2
    assert "--cases-per-month must be at least 1 (got 0)" in proc.stderr
    assert not (tmp_path / "eval").exists()


# ---------------------------------------------------------------------- small inputs
def _history(n_per_month: int = 150) -> tuple[pd.Series, pd.Series]:
    """Four months (Jan-Apr 2025) of dossiers, one in ten misuse, all labelled."""
    days = pd.date_range("2025-01-01 09:00", "2025-04-30 09:00", freq="D", tz=LOCAL_TZ)
    rng = np.random.default_rng(0)
    t = pd.Series(days[np.sort(rng.integers(0, len(days), 4 * n_per_month))])
    y = pd.Series(np.where(np.arange(len(t)) % 10 == 0, "identity_misuse", "self"), dtype=object)
    return t, y


def test_time_split_cuts_at_local_midnight_of_the_first_held_out_month() -> None:
    t, y = _history()
    # two dossiers either side of 1 March in Vietnam's time; the later one is
    # still 28 February in UTC, so a split on UTC months would put it in training
    edge = pd.Series(pd.to_datetime(["2025-02-28T23:50:00+07:00", "2025-03-01T00:10:00+07:00"]))
    t = pd.concat([t, edge.dt.tz_convert(LOCAL_TZ)], ignore_index=True)
    y = pd.concat([y, pd.Series(["self", "self"], dtype=object)], ignore_index=True)
    split = time_split(t, y, holdout_months=2)
    assert split.holdout_months == ["2025-03", "2025-04"]
    assert split.split_at == pd.Timestamp("2025-03-01", tz=LOCAL_TZ)
    assert split.train[-2] and not split.holdout[-2]
    assert split.holdout[-1] and not split.train[-1]
    assert not (split.train & split.holdout).any()


def test_time_split_ignores_unlabelled_dossiers_when_judging() -> None:
    t, y = _history()
    y[t.dt.month == 4] = np.nan  # April is not labelled yet: the labelled period ends in March
    split = time_split(t, y, holdout_months=1)
    assert split.holdout_months == ["2025-03"]
    assert not split.holdout[(t.dt.month == 4).to_numpy()].any()


@pytest.mark.parametrize(
    ("months", "match"),
    [(4, "too short"), (0, "at least 1")],
)
def test_time_split_refuses_what_it_cannot_do(months: int, match: str) -> None:
    t, y = _history()
    with pytest.raises(UsageError, match=match):
        time_split(t, y, holdout_months=months)


def test_time_split_refuses_too_few_misuse_in_the_held_out_part() -> None:
    t, y = _history()
    y[(t.dt.month == 4).to_numpy()] = "self"  # no misuse left in April
    with pytest.raises(UsageError, match="too few labels in the held-out part"):
        time_split(t, y, holdout_months=1)


def test_precision_at_share_shares_ties_at_the_cut() -> None:
    score = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    target = np.array([True, True, False, False, False])
    # top 40% = 2 rows: the 0.9 (a hit) and one of three tied 0.5s, of which one
    # in three is a hit, so the expected precision is (1 + 1/3) / 2
    assert precision_at_share(score, target, 0.4) == pytest.approx(2 / 3)
    # a share too small for one row still takes the top row
    assert precision_at_share(score, target, 0.01) == 1.0


def test_without_scenarios_there_is_no_kiosk_row(
    metrics: dict[str, Any], province_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "labels.csv").write_bytes((province_dir / "labels.csv").read_bytes())
    assert read_scenarios(tmp_path / "labels.csv") is None  # real data has no scenarios
    assert read_scenarios(province_dir / "labels.csv") is not None
    plain = json.loads(json.dumps(metrics))
    for m in plain["methods"].values():
        del m["flag_rate_self_kiosk"]
    names = [name for name, _ in headline_rows(plain)]
    assert not any("kiosk" in n for n in names)
    assert all(len(cells) == len(METHODS) for _, cells in headline_rows(plain))


def test_capacity_in_cases_sets_actor_cases_beside_dossier_cases(
    metrics: dict[str, Any], evaluated: tuple[Path, str]
) -> None:
    cap = metrics["capacity_in_cases"]
    assert cap["cases_per_month"] == 60
    cov = cap["coverage"]
    # the same flagged dossiers, grouped: fewer cases, the same recall
    assert 0 < cov["actor_cases"]["cases"] <= cov["dossier_cases"]["cases"]
    assert cov["actor_cases"]["recall"] == cov["dossier_cases"]["recall"]
    assert cov["actor_cases"]["misuse_flagged"] == cov["dossier_cases"]["misuse_flagged"]
    for kind in ("dossier_cases", "actor_cases"):
        c = cap[kind]
        assert [m["month"] for m in c["months"]] == metrics["split"]["holdout_months"], kind
        assert all(m["cases_reviewed"] <= 60 for m in c["months"]), kind
        assert 0 <= c["precision"] <= 1, kind
        assert c["cases_with_misuse"] <= c["cases_reviewed"] <= c["dossiers_reviewed"], kind
        assert c["actors_confirmed"] <= c["misuse_confirmed"] <= c["dossiers_reviewed"], kind
    # a dossier case is one dossier; an actor case's verdict covers all of its dossiers
    assert cap["dossier_cases"]["dossiers_reviewed"] == cap["dossier_cases"]["cases_reviewed"]
    assert cap["actor_cases"]["misuse_confirmed"] >= cap["dossier_cases"]["misuse_confirmed"]
    assert "cases a month: dossier cases confirm" in evaluated[1]
