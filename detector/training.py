"""How far to trust a province's own labels: the starter, the starter with the labels, the labels.

``detector train`` meets every label condition a deployment goes through:

- **starter** (fewer than :data:`MIN_LABELS` labels, or none): a team on day
  one. The detectors are trained on provinces simulated like this one
  (:mod:`detector.starter`); the province's few labels are not used yet.
- **combined** (from :data:`MIN_LABELS` up to :data:`OWN_LABELS` labels or
  :data:`OWN_MISUSE` misuse labels, or labels of one class only): a few
  months of verdicts. The trees learn from the simulated provinces and the
  province's labels together, each province label weighing as much as a few
  dozen simulated rows (:func:`province_weight`). The risk is calibrated, and the threshold set,
  on the province's labels when they hold enough of both classes
  (:data:`CALIBRATE_MISUSE`, :data:`CALIBRATE_LEGIT` in the latest months),
  otherwise on the last simulated provinces.
- **province**: enough labels to learn the province's own patterns; the
  simulated provinces are no longer needed.

In every case the labels that out-of-fold scores contradict are set aside
(:class:`~detector.model.MisuseModel`, ``prune_noise``): reviewers disagree,
and one wrong label in ten would otherwise keep a 95 % precision target out of
reach. The card records which policy was used and why, what judged the
threshold, and the label-noise estimate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from detector.model import MisuseModel
from detector.profile import measure, provinces_like, settings_table
from detector.scorer import Detector
from detector.starter import STARTER_PROVINCES, UNTRUSTED, hide_untrusted, simulated_training_set
from features import Dataset
from features.compute import FeatureFrame
from features.contract import MISUSE_TYPES
from features.pit import seconds

__all__ = [
    "CALIBRATE_LEGIT",
    "CALIBRATE_MISUSE",
    "MIN_LABELS",
    "OWN_LABELS",
    "OWN_MISUSE",
    "Policy",
    "choose",
    "fit_detectors",
    "province_weight",
]

Progress = Callable[[str], None]

#: fewer labels than this: the starter alone
MIN_LABELS = 50
#: at least this many labels and misuse labels: the province's own model
OWN_LABELS, OWN_MISUSE = 3000, 150
#: the province's latest labels calibrate the risk when they hold this many of each class
CALIBRATE_MISUSE, CALIBRATE_LEGIT = 30, 300
#: the share of the calibration-eligible labels that calibrates (MisuseModel's default)
_CALIBRATION_SHARE = 0.2


@dataclass(frozen=True)
class Policy:
    """Which detector a label set allows, and the one-line reason (for the console and card)."""

    kind: str  # "starter", "combined" or "province"
    why: str


def choose(y: pd.Series) -> Policy:
    """The policy for labels ``y`` (NaN = unlabelled), as the module docstring sets out."""
    labelled = y.notna()
    n = int(labelled.sum())
    misuse = int(y.isin(MISUSE_TYPES).sum())
    legit = n - misuse
    if n < MIN_LABELS:
        return Policy(
            "starter",
            f"{n} labels, fewer than {MIN_LABELS}: the starter model, trained on provinces "
            "simulated like this one, with the rules",
        )
    if not misuse or not legit:
        side = "misuse" if misuse else "legitimate"
        return Policy(
            "combined",
            f"{n} labels, all {side}: they join provinces simulated like this one, which "
            "supply the other class",
        )
    if n < OWN_LABELS or misuse < OWN_MISUSE:
        return Policy(
            "combined",
            f"{n} labels ({misuse} misuse), fewer than {OWN_LABELS} (or {OWN_MISUSE} misuse): "
            "they join provinces simulated like this one",
        )
    return Policy("province", f"{n} labels ({misuse} misuse): the province's own model")


def province_weight(n_labels: int, n_simulated: int) -> float:
    """The weight of each province label beside ``n_simulated`` simulated rows.

    Every label weighs the same, so that :data:`OWN_LABELS` of them weigh as
    much as half the simulated rows: fifty labels move the model a little
    (a queue's first verdicts are its top, not a sample), three thousand
    as much as the simulation. A province label never weighs less than a
    simulated one.
    """
    return max(1.0, n_simulated / (2 * OWN_LABELS)) if n_labels else 1.0


def _calibrates(y: pd.Series, eligible: pd.Series) -> tuple[bool, int, int]:
    """Whether the province's latest eligible labels can calibrate: (yes, misuse, legitimate)."""
    rows = y[eligible & y.notna()]
    latest = rows.iloc[len(rows) - int(len(rows) * _CALIBRATION_SHARE) :]
    misuse = int(latest.isin(MISUSE_TYPES).sum())
    legit = len(latest) - misuse
    return misuse >= CALIBRATE_MISUSE and legit >= CALIBRATE_LEGIT, misuse, legit


def fit_detectors(
    ds: Dataset,
    features: dict[str, FeatureFrame],
    y: pd.Series,
    t: pd.Series,
    *,
    calibrate: pd.Series | None = None,
    sample_weight: pd.Series | None = None,
    rules_path: str | None = None,
    precision_target: float = 0.95,
    capacity: float | None = None,
    random_state: int = 0,
    provinces: int = STARTER_PROVINCES,
    progress: Progress | None = None,
) -> tuple[dict[str, Detector], dict[str, Any]]:
    """Detectors for every moment in ``features``, by the policy the labels allow.

    Parameters
    ----------
    ds : the data folder (its own data shapes the simulated provinces).
    features : per moment, the folder's features (``features.compute.compute_all``).
    y : labels on the dossiers (NaN = none), aligned with the feature frames.
    t : submission times, aligned likewise.
    calibrate : rows whose labels may calibrate (default: all); verdicts the
        queue chose on its top may not (see :meth:`MisuseModel.fit`).
    sample_weight : how much each label counts (verdicts drawn for exploration
        carry the inverse of their chance of being drawn).
    rules_path, precision_target, capacity, random_state : as for :class:`Detector`.
    provinces : simulated provinces for the starter and combined policies.
    progress : called with a short message at each step.

    Returns
    -------
    (detectors, info)
        ``info`` is JSON-ready for the model card: the policy and why, the
        starter's profile and simulated settings when used, what judged the
        threshold, and the label-noise estimate.
    """
    started = time.perf_counter()
    policy = choose(y)
    eligible = calibrate if calibrate is not None else pd.Series(True, index=y.index)
    info: dict[str, Any] = {"kind": policy.kind, "why": policy.why}
    training = None
    if policy.kind != "province":
        if progress:
            progress("measuring the province's data")
        profile = measure(ds)
        configs = provinces_like(profile, provinces, seed=random_state)
        training = simulated_training_set(configs, tuple(features), progress)
        info["profile"] = profile.as_dict()
        info["simulated_provinces"] = settings_table(configs).to_dict(orient="records")
        info["simulated_dossiers"] = len(training.y)
        info["hidden_features"] = list(UNTRUSTED)
    own_calibrates, cal_misuse, cal_legit = _calibrates(y, eligible)
    detectors = {}
    for at, ff in features.items():
        if progress:
            progress(f"training the {at} model ({policy.kind})")
        det = Detector(
            at=at,
            rules_path=rules_path,
            # simulated labels are right by construction: nothing to set aside in the starter's
            model=MisuseModel(random_state=random_state, prune_noise=policy.kind != "starter"),
            precision_target=precision_target,
            capacity=capacity,
        )
        if training is None:
            detectors[at] = det.fit(ff.frame, y, t, calibrate, sample_weight)
            continue
        own = y if policy.kind == "combined" else pd.Series(np.nan, index=y.index, dtype=object)
        X, yy, order, cal, weight = _with_simulated(
            training.frames[at], training.y, training.order, ff.frame, own, t, eligible,
            sample_weight, own_calibrates and policy.kind == "combined",
        )  # fmt: skip
        # the owners' real ages judge the look-alike groups' thresholds (hidden from the trees)
        detectors[at] = det.fit(hide_untrusted(X), yy, order, cal, weight, owner_age=X["owner_age"])
    first = next(iter(detectors.values()))
    if training is None or (own_calibrates and policy.kind == "combined"):
        judged = f"the province's latest labels ({cal_misuse} misuse, {cal_legit} legitimate)"
    elif policy.kind == "starter":
        judged = "the last simulated provinces"
    else:
        judged = (
            "the last simulated provinces (the province's latest labels hold "
            f"{cal_misuse} misuse and {cal_legit} legitimate, fewer than "
            f"{CALIBRATE_MISUSE} and {CALIBRATE_LEGIT})"
        )
    info["threshold_judged_on"] = judged
    info["label_noise"] = first.model_.label_noise_
    info["seconds"] = round(time.perf_counter() - started, 1)
    return detectors, info


def _with_simulated(
    sim_X: pd.DataFrame,
    sim_y: pd.Series,
    sim_order: pd.Series,
    X: pd.DataFrame,
    y: pd.Series,
    t: pd.Series,
    eligible: pd.Series,
    weight: pd.Series | None,
    own_calibrates: bool,
) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series, pd.Series]:
    """Simulated rows followed by the province's labelled ones, with order, calibration, weight.

    The order puts the province's rows after every simulated province, in time:
    when the province's labels calibrate, its latest months do; otherwise only
    the simulated rows may, and the last simulated provinces do.
    """
    labelled = y.notna().to_numpy()
    own_X = X[labelled].reset_index(drop=True)
    own_y = y[labelled].reset_index(drop=True)
    n_sim = len(sim_y)
    own_t = seconds(t[labelled]) if len(own_y) else np.zeros(0, np.int64)
    after = int(sim_order.max()) + 1 if n_sim else 0
    order = pd.concat(
        [sim_order, pd.Series(after + own_t - (own_t.min() if len(own_t) else 0))],
        ignore_index=True,
    )
    own_eligible = eligible[labelled].to_numpy(bool)
    cal = pd.Series(
        np.r_[np.full(n_sim, not own_calibrates), own_eligible & own_calibrates], dtype=bool
    )
    w_own = province_weight(len(own_y), n_sim)
    own_w = weight[labelled].to_numpy(float) if weight is not None else np.ones(len(own_y))
    w = pd.Series(np.r_[np.ones(n_sim), own_w * w_own])
    frame = pd.concat([sim_X, own_X.astype(sim_X.dtypes.to_dict())], ignore_index=True)
    return frame, pd.concat([sim_y, own_y], ignore_index=True), order, cal, w
