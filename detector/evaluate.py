"""Evaluation on held-out later months, side by side with baselines (``detector evaluate``).

The labelled history is split by time, never shuffled across months: the
detector and the baselines learn from the labelled dossiers submitted before
the last ``holdout_months`` calendar months of the labelled period, and are
judged on the labelled dossiers of those months. Features are computed once on
the whole data folder, as the batch scorer does (earlier dossiers are always
history; at ``review`` what an account did afterwards is part of the picture,
as it is for an inspection team); labels never enter a feature.

Label conditions (``condition``), as a deployment meets them (issue #10): the
detector learns from the training months' labels as they are (``full``), from
none (``none``: the starter model), from a random ``label_share`` of them
(``few``), or from all of them with ``noise`` of them wrong (``noisy``: each
wrong one replaced by another type at random). The held-out months are always
judged on their true labels; the baselines that learn get the same labels as
the detector.

Methods (keys of ``metrics["methods"]``):

``detector``
    :class:`detector.scorer.Detector`, rules + graph features + model.
``rules``
    the rule file alone (see :mod:`detector._baselines`).
``isolation_forest``
    an unsupervised IsolationForest on the numeric features.
``single_dossier``
    gradient-boosted trees on the fields of the dossier row only (no graph).

:func:`evaluate` computes everything and returns plain data; :func:`write_outputs`
writes ``metrics.json``, ``summary.md``, the held-out scores and the plots. A
notebook can show the same figures with :func:`pr_curves_figure`,
:func:`confusion_figure` and :func:`unit_share_figure`, and the summary with
:func:`summary_markdown`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from detector import _baselines as bl
from detector import _plots
from detector._baselines import METHODS
from detector._case_capacity import capacity_in_cases
from detector._plots import (
    confusion_figure,
    headline_rows,
    methods_of,
    pr_curves_figure,
    summary_markdown,
    unit_share_figure,
)
from detector.training import fit_detectors
from features import Dataset
from features.compute import FeatureFrame, compute_features
from features.contract import LOCAL_TZ, MISUSE_TYPES, PROXY_TYPES
from features.errors import UsageError

__all__ = [
    "CONDITIONS",
    "KIOSK_SCENARIO",
    "METHODS",
    "Split",
    "check_condition",
    "confusion_figure",
    "degrade",
    "evaluate",
    "headline_rows",
    "methods_of",
    "pr_curves_figure",
    "read_scenarios",
    "summary_markdown",
    "time_split",
    "unit_share_figure",
    "write_outputs",
]

Progress = Callable[[str], None]

#: the simulator's finer truth for guided self-service at the hall kiosk (a legitimate look-alike)
KIOSK_SCENARIO = "self_kiosk"
#: the label conditions (module docstring)
CONDITIONS = ("full", "none", "few", "noisy")
#: fewest labelled dossiers (and misuse among them) each part of the split needs
MIN_TRAIN_LABELLED, MIN_TRAIN_MISUSE = 100, 20
MIN_HOLDOUT_LABELLED, MIN_HOLDOUT_MISUSE = 100, 10


def _say(progress: Progress | None, msg: str) -> None:
    if progress:
        progress(msg)


# ---------------------------------------------------------------------- split
@dataclass(frozen=True)
class Split:
    """A time split of the dossiers (masks aligned with the dossiers table).

    Attributes
    ----------
    split_at : first instant (local time) of the first held-out month.
    train : dossiers submitted before ``split_at`` (labelled or not; NaN labels are ignored).
    holdout : labelled dossiers submitted from ``split_at`` to the end of the labelled period.
    labelled_period : first and last labelled submission.
    holdout_months : the held-out months, ``YYYY-MM``.
    """

    split_at: pd.Timestamp
    train: np.ndarray
    holdout: np.ndarray
    labelled_period: tuple[pd.Timestamp, pd.Timestamp]
    holdout_months: list[str]


def time_split(t: pd.Series, y: pd.Series, holdout_months: int) -> Split:
    """Hold out the last ``holdout_months`` calendar months of the labelled period.

    Parameters
    ----------
    t : submission times (tz-aware), aligned with ``y``.
    y : ``proxy_type`` per dossier, NaN when unlabelled.
    holdout_months : number of calendar months to hold out (the latest ones).

    Returns
    -------
    Split

    Raises
    ------
    UsageError
        When the labels span no more than ``holdout_months`` months, or either
        part has too few labelled (misuse) dossiers to learn or to judge.
    """
    if holdout_months < 1:
        raise UsageError(f"--holdout-months must be at least 1 (got {holdout_months})")
    labelled = y.notna().to_numpy()
    if not labelled.any():
        raise UsageError("no labelled dossiers to evaluate on")
    local = t.dt.tz_convert(LOCAL_TZ)
    first, last = local[labelled].min(), local[labelled].max()
    last_month = pd.Period(last.tz_localize(None), "M")
    first_held = last_month - (holdout_months - 1)
    if first_held <= pd.Period(first.tz_localize(None), "M"):
        raise UsageError(
            f"the labels cover {first:%Y-%m} to {last:%Y-%m}: too short to hold out "
            f"{holdout_months} month(s) and still train on earlier ones; lower --holdout-months"
        )
    split_at = first_held.start_time.tz_localize(LOCAL_TZ)
    before = (local < split_at).to_numpy()
    split = Split(
        split_at=split_at,
        train=before,
        holdout=labelled & ~before,
        labelled_period=(first, last),
        holdout_months=[str(first_held + i) for i in range(holdout_months)],
    )
    mis = y.isin(MISUSE_TYPES).to_numpy()
    for name, when, mask, need_l, need_m in (
        ("training", "before", split.train & labelled, MIN_TRAIN_LABELLED, MIN_TRAIN_MISUSE),
        ("held-out", "from", split.holdout, MIN_HOLDOUT_LABELLED, MIN_HOLDOUT_MISUSE),
    ):
        n_l, n_m = int(mask.sum()), int((mask & mis).sum())
        if n_l < need_l or n_m < need_m:
            raise UsageError(
                f"too few labels in the {name} part ({when} {split_at:%Y-%m-%d}): "
                f"{n_l} labelled, {n_m} misuse; need at least {need_l} and {need_m}"
            )
    return split


def check_condition(condition: str, label_share: float = 0.05, noise: float = 0.10) -> None:
    """Refuse an unknown condition or a share outside its range (a one-line UsageError)."""
    if condition not in CONDITIONS:
        raise UsageError(f"--condition must be one of {', '.join(CONDITIONS)}, found {condition!r}")
    if not 0 < label_share <= 1 or not 0 <= noise < 1:
        raise UsageError(
            f"--label-share must be in (0, 1] and --noise in [0, 1), found {label_share} and {noise}"
        )


def degrade(
    y: pd.Series,
    train: np.ndarray,
    condition: str,
    *,
    label_share: float = 0.05,
    noise: float = 0.10,
    random_state: int = 0,
) -> pd.Series:
    """The training months' labels as the condition leaves them (NaN elsewhere).

    Raises
    ------
    UsageError
        An unknown condition, or a share outside (0, 1).
    """
    check_condition(condition, label_share, noise)
    rng = np.random.default_rng(random_state)
    out = y.where(train)
    labelled = np.flatnonzero(out.notna().to_numpy())
    if condition == "none":
        return pd.Series(np.nan, index=out.index, dtype=object)
    if condition == "few":
        keep = rng.choice(labelled, round(label_share * len(labelled)), replace=False)
        mask = np.zeros(len(out), bool)
        mask[keep] = True
        return out.where(mask)
    if condition == "noisy":
        wrong = rng.choice(labelled, round(noise * len(labelled)), replace=False)
        values = out.to_numpy(dtype=object).copy()
        for i in wrong:  # another type, at random
            others = [c for c in PROXY_TYPES if c != values[i]]
            values[i] = others[int(rng.integers(0, len(others)))]
        return pd.Series(values, index=out.index)
    return out


def read_scenarios(labels_path: str | Path) -> pd.Series | None:
    """The simulator's ``scenarios.csv`` beside a labels file, as dossier_id -> scenario.

    Real data has no scenarios: None when the file is absent.
    """
    p = Path(labels_path)
    path = (p if p.is_dir() else p.parent) / "scenarios.csv"
    if not path.is_file():
        return None
    s = pd.read_csv(path, dtype=str, usecols=["dossier_id", "scenario"])
    return s.drop_duplicates("dossier_id").set_index("dossier_id")["scenario"]


def _run_methods(
    ds: Dataset,
    feats: FeatureFrame,
    y: pd.Series,
    t: pd.Series,
    d: pd.DataFrame,
    split: Split,
    at: str,
    precision_target: float,
    rules_path: str | None,
    random_state: int,
    progress: Progress | None,
) -> tuple[dict[str, bl.MethodScores], pd.DataFrame, dict[str, Any]]:
    """Fit the detector and the baselines on the training rows, score the held-out ones.

    ``y`` holds the training months' labels as the condition left them. The
    detector is trained by ``detector train``'s own policy (starter, combined
    or the province's), on the whole folder's features.
    """
    X, data_gaps = feats.frame, feats.data_gaps
    train, hold = split.train, split.holdout
    _say(progress, "training the detector on the earlier months")
    try:
        detectors, policy = fit_detectors(
            ds,
            {at: feats},
            y.where(train),
            t,
            rules_path=rules_path,
            precision_target=precision_target,
            random_state=random_state,
            progress=progress,
        )
    except ValueError as exc:
        raise UsageError(
            f"cannot train on the months before {split.split_at:%Y-%m-%d}: {exc}"
        ) from exc
    det = detectors[at]
    _say(progress, "scoring the held-out months")
    scored = det.score_frame(X[hold], data_gaps[hold])
    k = int(scored["flagged"].sum())
    methods = {
        "detector": bl.MethodScores(
            score=scored["risk_score"].to_numpy(float),
            flagged=scored["flagged"].to_numpy(bool),
            proxy_type=scored["proxy_type"].to_numpy(object),
            threshold=float(det.threshold_),
            threshold_policy=det.threshold_policy_,
        )
    }
    _say(progress, "baseline: rules only")
    methods["rules"] = bl.rules_only(det.ruleset_, X[hold])
    _say(progress, "baseline: IsolationForest")
    methods["isolation_forest"] = bl.isolation_forest(
        X[train], X[hold], k, random_state=random_state
    )
    labelled = train & y.notna().to_numpy()
    misuse = labelled & y.isin(MISUSE_TYPES).to_numpy()
    if (
        labelled.sum() >= MIN_TRAIN_LABELLED
        and misuse.sum() >= 10
        and misuse.sum() < labelled.sum()
    ):
        _say(progress, "baseline: single-dossier model")
        F = bl.single_dossier_frame(X, d)
        methods["single_dossier"] = bl.single_dossier(
            F[train],
            y[train],
            t[train],
            F[hold],
            k=k,
            precision_target=precision_target,
            random_state=random_state,
        )
    return methods, scored, policy


def _row_counts(y: pd.Series, split: Split, kiosk: np.ndarray | None) -> dict[str, Any]:
    labelled = y.notna().to_numpy()
    misuse = y.isin(MISUSE_TYPES).to_numpy()
    truth = y[split.holdout].to_numpy(dtype=object)
    return {
        "dossiers": len(y),
        "train": int(split.train.sum()),
        "train_labelled": int((split.train & labelled).sum()),
        "train_misuse": int((split.train & misuse).sum()),
        "holdout": int(split.holdout.sum()),
        "holdout_misuse": int((split.holdout & misuse).sum()),
        "holdout_by_type": {c: int((truth == c).sum()) for c in PROXY_TYPES},
        "holdout_self_kiosk": int(kiosk.sum()) if kiosk is not None else None,
        "unlabelled_after_split": int((~split.train & ~labelled).sum()),
    }


def _scores_frame(
    d: pd.DataFrame,
    split: Split,
    truth: np.ndarray,
    scenarios: pd.Series | None,
    methods: dict[str, bl.MethodScores],
    scored: pd.DataFrame,
) -> pd.DataFrame:
    """One row per held-out dossier: truth, and each method's score, flag and type."""
    hold = split.holdout
    ids = pd.Index(d["dossier_id"][hold].to_numpy(), name="dossier_id")
    out = pd.DataFrame(
        {
            "unit_id": d["unit_id"][hold].to_numpy(),
            "submitted_at": d["submitted_at"][hold].to_numpy(),
            "channel": d["channel"][hold].to_numpy(),
            "proxy_type": truth,
        },
        index=ids,
    )
    if scenarios is not None:
        out["scenario"] = scenarios.reindex(ids).to_numpy()
    for key, ms in methods.items():
        out[f"score_{key}"] = ms.score
        out[f"flagged_{key}"] = ms.flagged
        if ms.proxy_type is not None:
            out[f"type_{key}"] = ms.proxy_type
    out["reasons_detector"] = scored["reasons"].to_numpy()
    return out


# ---------------------------------------------------------------------- evaluate
def evaluate(
    ds: Dataset,
    y: pd.Series,
    *,
    at: str = "review",
    holdout_months: int = 3,
    capacity: float = 0.02,
    scenarios: pd.Series | None = None,
    precision_target: float = 0.95,
    rules_path: str | None = None,
    random_state: int = 0,
    progress: Progress | None = None,
    condition: str = "full",
    label_share: float = 0.05,
    noise: float = 0.10,
    cases_per_month: int = 60,
    features: FeatureFrame | None = None,
) -> dict[str, Any]:
    """Train on earlier labelled months, judge the detector and the baselines on the later ones.

    Parameters
    ----------
    ds : the data folder, as :func:`features.read_dataset` returns it.
    y : ``proxy_type`` per dossier, aligned with ``ds.tables["dossiers"]`` (NaN =
        unlabelled), as :func:`detector.batch.labels_for` returns it.
    at : ``"review"`` or ``"submission"``: which features (and detector) to evaluate.
    holdout_months : the latest calendar months of the labelled period to hold out.
    capacity : share of held-out dossiers the inspectors can review, for
        precision at capacity.
    scenarios : optional finer truth (dossier_id -> scenario, see
        :func:`read_scenarios`); enables the kiosk self-service flag rate.
    precision_target : the detector's (and single-dossier model's) flag
        threshold reaches this precision on their calibration months.
    rules_path : rule file (default: the packaged one).
    random_state : seed of every random choice.
    progress : called with a short message at each stage (7 stages).
    condition, label_share, noise : the label condition (module docstring).
    cases_per_month : the team's capacity in cases, for ``capacity_in_cases``:
        the detector's flags reviewed as dossier cases and as actor cases
        (:func:`detector._case_capacity.capacity_in_cases`).
    features : the folder's features at ``at``, if computed already (the Dask
        engine computes them on a cluster); else computed here.

    Returns
    -------
    dict
        ``metrics``: JSON-ready numbers (``split``, ``rows``, ``methods`` keyed as
        :data:`METHODS`, ``targets`` of the detector, settings); ``scores``: one
        row per held-out dossier (truth, each method's score, flag and type, the
        detector's reasons); ``unit_share``: one row per unit x held-out month.

    Raises
    ------
    UsageError
        For a bad option, or too few labels on either side of the split.

    Notes
    -----
    Fitting the detector dominates the time (one fit, about the cost of
    ``detector train`` for one moment on the training months). The models run
    with one OpenMP thread: trees on some ten thousand rows gain little from a
    second one, and on a busy 2-core machine the threads wait on each other
    (20k-dossier province, detector fit and scoring: 7 s with one thread, 17 s
    with two while other jobs ran).
    """
    if at not in ("submission", "review"):
        raise UsageError(f"--at must be review or submission (got {at!r})")
    if not 0 < capacity < 1 or not 0 < precision_target < 1:
        raise UsageError("--capacity and the precision target must be between 0 and 1")
    if cases_per_month < 1:
        raise UsageError(f"--cases-per-month must be at least 1 (got {cases_per_month})")
    d = ds.tables["dossiers"]
    index = pd.Index(d["dossier_id"].to_numpy(), name="dossier_id")
    y = pd.Series(y.to_numpy(), index=index)
    bad = sorted(set(y.dropna().unique()) - set(PROXY_TYPES))
    if bad:
        raise UsageError(f"unknown proxy_type labels: {bad}")
    t = pd.Series(d["submitted_at"].array, index=index)
    split = time_split(t, y, holdout_months)
    hold = split.holdout
    y_train = degrade(
        y, split.train, condition, label_share=label_share, noise=noise, random_state=random_state
    )

    _say(progress, f"features at {at}")
    feats = features if features is not None else compute_features(ds.tables, ds.present, at)
    truth = y[hold].to_numpy(dtype=object)
    kiosk = None
    if scenarios is not None:
        kiosk = (scenarios.reindex(index[hold]) == KIOSK_SCENARIO).fillna(False).to_numpy(bool)

    with threadpool_limits(limits=1, user_api="openmp"):  # see Notes
        methods, scored, policy = _run_methods(
            ds,
            feats,
            y_train,
            t,
            d,
            split,
            at,
            precision_target,
            rules_path,
            random_state,
            progress,
        )
    _say(progress, "metrics")
    shares = bl.unit_shares(ds, hold, truth, scored.assign(dossier_id=scored.index), methods)
    per_method = {}
    groups = bl.fairness_groups(ds, hold, truth)
    for key, ms in methods.items():
        m = bl.method_metrics(ms, truth, capacity, kiosk, groups)
        m["name"] = METHODS[key]
        m["unit_share"] = bl.unit_share_error(shares, key)
        per_method[key] = m
    metrics: dict[str, Any] = {
        "at": at,
        "condition": {
            "name": condition,
            "label_share": label_share if condition == "few" else None,
            "noise": noise if condition == "noisy" else None,
            "training_labels": int(y_train.notna().sum()),
        },
        "policy": policy,
        "capacity": capacity,
        "precision_target": precision_target,
        "split": {
            "labelled_period": [str(p) for p in split.labelled_period],
            "split_at": str(split.split_at),
            "holdout_months": split.holdout_months,
        },
        "rows": _row_counts(y, split, kiosk),
        "methods": per_method,
        "targets": bl.targets(per_method, condition),
        "versus_baselines": bl.versus_baselines(per_method),
        "capacity_in_cases": capacity_in_cases(
            scored, d[hold], pd.Series(truth, index=scored.index), cases_per_month=cases_per_month
        ),
    }
    scores = _scores_frame(d, split, truth, scenarios, methods, scored)
    return {"metrics": metrics, "scores": scores, "unit_share": shares}


# ---------------------------------------------------------------------- outputs
def write_outputs(result: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``metrics.json``, ``summary.md``, the held-out scores, the unit shares and the plots.

    Parameters
    ----------
    result : what :func:`evaluate` returned.
    out_dir : folder to write into (created when missing).

    Returns
    -------
    list of Path
        The files written, ``metrics.json`` first.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.json", out / "summary.md"]
    paths[0].write_text(json.dumps(result["metrics"], indent=2, ensure_ascii=False) + "\n")
    paths[1].write_text(summary_markdown(result["metrics"]), encoding="utf-8")
    scores_path = out / "holdout_scores.csv"
    result["scores"].to_csv(scores_path)
    shares_path = out / "unit_share.csv"
    result["unit_share"].round(4).to_csv(shares_path, index=False)
    paths += [scores_path, shares_path]
    for name, figure in (
        ("pr_curves.png", pr_curves_figure),
        ("confusion_matrix.png", confusion_figure),
        ("unit_share.png", unit_share_figure),
    ):
        paths.append(_plots.save(figure(result), out / name))
    return paths
