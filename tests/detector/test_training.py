"""Training in every label condition a deployment meets (issue #10): none, few, one class, unknown.

The policy is checked on hand-made label series; the command line on the
session's simulated province, with two small simulated provinces for the
starter so that each run takes seconds, not minutes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_run import run_cli as detector

from detector._forest import _input_columns
from detector.artifacts import load, load_card
from detector.model import MisuseModel
from detector.starter import UNTRUSTED, hide_untrusted
from detector.training import MIN_LABELS, OWN_LABELS, OWN_MISUSE, choose, province_weight
from features.contract import ATTACHMENT_KINDS


def _labels(n: int, misuse: int) -> pd.Series:
    values = ["identity_misuse"] * misuse + ["self"] * (n - misuse)
    return pd.Series(values + [np.nan] * 100, dtype=object)


@pytest.mark.parametrize(
    ("n", "misuse", "kind"),
    [
        (0, 0, "starter"),
        (MIN_LABELS - 1, 10, "starter"),
        (MIN_LABELS, 10, "combined"),
        (400, 0, "combined"),  # one class: the simulated provinces supply the other
        (400, 400, "combined"),
        (OWN_LABELS, OWN_MISUSE - 1, "combined"),
        (OWN_LABELS, OWN_MISUSE, "province"),
    ],
)
def test_the_policy_follows_the_labels(n: int, misuse: int, kind: str) -> None:
    policy = choose(_labels(n, misuse))
    assert policy.kind == kind
    assert str(n) in policy.why and "\n" not in policy.why


def test_province_labels_weigh_more_as_they_grow() -> None:
    counts = (50, 500, 2000, OWN_LABELS)
    totals = [province_weight(n, 300_000) * n for n in counts]
    assert totals == sorted(totals)  # more labels, more say
    # fifty labels move the model a little; OWN_LABELS weigh as much as half the simulation
    assert totals[0] < 0.01 * 300_000 and totals[-1] == pytest.approx(0.5 * 300_000)
    assert province_weight(10_000, 100) == 1.0  # never below a simulated row's


# ------------------------------------------------------------------ the command line
def _train(data: Path, out: Path, *extra: str) -> tuple[object, dict]:
    proc = detector("train", str(data), "--out", str(out), "--simulated-provinces", "2", *extra)
    assert proc.returncode == 0, proc.stderr
    return proc, load_card(out)


@pytest.mark.slow
def test_no_labels_give_a_starter_model_that_scores(province_dir: Path, tmp_path: Path) -> None:
    proc, card = _train(province_dir / "data", tmp_path / "m")
    policy = card["training"]["policy"]
    assert policy["kind"] == "starter" and "fewer than 50" in policy["why"]
    assert "starter" in proc.stdout  # type: ignore[attr-defined]
    # what it was fitted to: the province's measured profile and the simulated settings
    assert policy["profile"]["dossiers"] > 10_000 and len(policy["simulated_provinces"]) == 2
    assert policy["threshold_judged_on"] == "the last simulated provinces"
    assert set(policy["hidden_features"]) == set(UNTRUSTED)
    for at in ("submission", "review"):
        assert not _splits_on(load(tmp_path / "m", at)[0].model_, UNTRUSTED), at
    out = tmp_path / "scores.csv"
    scored = detector(
        "score", str(province_dir / "data"), "--model", str(tmp_path / "m"), "--out", str(out)
    )
    assert scored.returncode == 0, scored.stderr
    flagged = pd.read_csv(out)["flagged"].mean()
    assert 0.005 < flagged < 0.15


def _splits_on(model: MisuseModel, names: tuple[str, ...]) -> set[str]:
    """Which of ``names`` any tree of the fitted model splits on."""
    columns = list(model.feature_names_in_)
    used: set[str] = set()
    for trees in (model.trees_, model.misuse_types_, model.legit_types_):
        if isinstance(trees, str):  # one type only: no trees
            continue
        source = _input_columns(trees)  # the trees read the categorical columns first
        for predictor in (p for stage in trees._predictors for p in stage):
            nodes = predictor.nodes
            split = nodes["feature_idx"][~nodes["is_leaf"].astype(bool)]
            used |= {columns[i] for i in source[split]}
    return used & set(names)


def test_a_starter_trees_cannot_split_on_hidden_features() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    y = pd.Series(np.where(rng.random(n) < 0.1, "identity_misuse", "self"))
    kind = pd.Categorical(np.where(y == "self", "digital", "scan"), categories=ATTACHMENT_KINDS)
    X = pd.DataFrame({"noise": rng.random(n), "attachment_kind": kind, "owner_age": 30.0})
    seen = MisuseModel(max_iter=20, prune_noise=False).fit(X, y)
    assert _splits_on(seen, UNTRUSTED) == {"attachment_kind"}  # the check can fail
    hidden = hide_untrusted(X)
    assert isinstance(hidden["attachment_kind"].dtype, pd.CategoricalDtype)
    assert hidden["attachment_kind"].isna().all() and hidden["owner_age"].isna().all()
    blind = MisuseModel(max_iter=20, prune_noise=False).fit(hidden, y)
    assert _splits_on(blind, UNTRUSTED) == set()
    assert len(blind.predict_risk(X)) == n  # scores a frame with the real values


def _some(labels: Path, out: Path, pick: str, rng: np.random.Generator) -> Path:
    all_labels = pd.read_csv(labels, dtype=str)
    if pick == "fifty":
        part = all_labels.sample(50, random_state=1)
    elif pick == "one class":
        part = all_labels[all_labels["proxy_type"] == "self"].sample(300, random_state=2)
    else:  # half of them unknown to the folder
        part = all_labels.sample(400, random_state=3).copy()
        part.loc[part.index[:200], "dossier_id"] = [f"NOT-HERE-{i}" for i in range(200)]
    path = out / f"{pick.replace(' ', '_')}.csv"
    part.to_csv(path, index=False)
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pick", "expect"),
    [
        ("fifty", "50 labels"),
        ("one class", "all legitimate"),
        ("unknown ids", "not in the data folder"),
    ],
)
def test_few_one_class_or_unknown_labels_train_and_say_why(
    province_dir: Path, tmp_path: Path, pick: str, expect: str
) -> None:
    path = _some(province_dir / "labels.csv", tmp_path, pick, np.random.default_rng(0))
    proc, card = _train(province_dir / "data", tmp_path / "m", "--labels", str(path))
    assert expect in proc.stdout  # type: ignore[attr-defined]
    assert card["training"]["policy"]["kind"] == "combined"
    if pick == "unknown ids":
        assert card["training"]["labels_not_in_folder"] == 200
    for moment in card["moments"].values():
        assert 0.5 <= moment["threshold"] < 1
