"""Saving and loading trained detectors, with a model card that is checked on load.

A model folder holds one fitted :class:`~detector.scorer.Detector` per moment
(``detector-submission.joblib``, ``detector-review.joblib``) and
``model_card.json``: versions, feature names, the rule file used, the
training data's fingerprint, thresholds and their policy, and metrics on the
calibration months. Loading refuses an artefact that does not match the code
(other scikit-learn version, other feature set), with a message saying what
to do.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from detector.rules import DEFAULT_RULES_PATH
from detector.scorer import Detector
from features.defs import feature_names
from features.errors import DetectorError

CARD = "model_card.json"
MOMENTS = ("submission", "review")
FORMAT_VERSION = 1


class ModelError(DetectorError):
    """The model folder is missing, incomplete or does not match this version of the code."""

    exit_code = 2


def model_file(at: str) -> str:
    return f"detector-{at}.joblib"


def fingerprint(dossier_ids: pd.Series, labels: pd.Series) -> str:
    """A short hash of which dossiers and labels a model was trained on."""
    h = hashlib.sha256()
    h.update(
        pd.util.hash_pandas_object(
            pd.DataFrame({"id": dossier_ids.astype(str), "y": labels.astype(str)}), index=False
        )
        .to_numpy()
        .tobytes()
    )
    return h.hexdigest()[:16]


def _calibration_metrics(det: Detector) -> dict[str, float]:
    risk, target = det.model_.calibration_risk_, det.model_.calibration_target_
    flagged = risk >= det.threshold_
    tp = float((flagged & target).sum())
    from sklearn.metrics import average_precision_score

    return {
        "rows": len(risk),
        "misuse_share": float(target.mean()),
        "average_precision": float(average_precision_score(target, risk))
        if target.any()
        else float("nan"),
        "precision_at_threshold": tp / max(1.0, float(flagged.sum())),
        "recall_at_threshold": tp / max(1.0, float(target.sum())),
        "flag_rate": float(flagged.mean()),
    }


def save(
    out_dir: str | Path, detectors: dict[str, Detector], training: dict[str, Any]
) -> dict[str, Any]:
    """Write the detectors and their card; return the card."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    digests = {}
    for at, det in detectors.items():
        path = out / model_file(at)
        joblib.dump(det, path, compress=3)
        digests[at] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    first = next(iter(detectors.values()))
    rules_bytes = Path(first.rules_path or DEFAULT_RULES_PATH).read_bytes()
    card = {
        "format_version": FORMAT_VERSION,
        "model_version": "-".join(digests[a] for a in sorted(digests)),
        "intended_use": "Ranks e-government dossiers for review by provincial inspection teams; advisory only, "
        "never blocks a submission. Data gaps are listed apart and never raise a score.",
        "versions": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
        "training": training,
        "rules": {
            "sha256": hashlib.sha256(rules_bytes).hexdigest()[:16],
            "ids": sorted({r.id for d in detectors.values() for r in d.rules_}),
        },
        "moments": {
            at: {
                "file": model_file(at),
                "sha256": digests[at],
                "features": list(det.feature_names_in_),
                "threshold": det.threshold_,
                "threshold_policy": det.threshold_policy_,
                # owners relatives file for: each group's own threshold and what it rests on
                "lookalike_thresholds": det.lookalike_,
                "explained_by": list(det.explain_features_),
                "rules": [r.id for r in det.rules_],
                "calibration_months": _calibration_metrics(det),
            }
            for at, det in detectors.items()
        },
    }
    (out / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False, default=float) + "\n")
    return card


def load_card(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / CARD
    if not path.is_file():
        raise ModelError(
            f"{path}: no model card; train a model first with `detector train DATA_DIR --labels LABELS_CSV --out {model_dir}`"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"{path}: the model card is not valid JSON ({exc.msg}); retrain the model"
        ) from exc


def load(model_dir: str | Path, at: str) -> tuple[Detector, dict[str, Any]]:
    """Load the detector for a moment, refusing one that does not match this code or its card.

    Raises
    ------
    ModelError
        No card or model file, another format, scikit-learn version or
        feature set; a file that does not match its digest or cannot be
        unpickled; a card whose threshold or ``model_version`` is not the
        model's (an edited card would show one model and score with another).

    Notes
    -----
    ``model_version`` is checked against the digests the card lists; the
    loaded moment's file is checked against its own digest, so an edit of
    either is refused.
    """
    card = load_card(model_dir)
    card_path = Path(model_dir) / CARD
    if card.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{model_dir}: model format {card.get('format_version')} is not {FORMAT_VERSION}; retrain the model"
        )
    moments = card.get("moments")
    if not isinstance(moments, dict) or not isinstance(moments.get(at), dict):
        raise ModelError(
            f"{model_dir}: has no model for --at {at} (has: {', '.join(moments or {})})"
        )
    moment = moments[at]
    trained_with = card["versions"]["scikit-learn"]
    if trained_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelError(
            f"{model_dir}: trained with scikit-learn {trained_with}, this is {sklearn.__version__}; "
            "retrain with `detector train`"
        )
    if moment["features"] != feature_names(at):
        raise ModelError(
            f"{model_dir}: trained on a different feature set than this version computes; "
            "retrain with `detector train`"
        )
    restore = "retrain, or restore the card written with the model"
    expected_version = "-".join(str(m.get("sha256")) for _, m in sorted(moments.items()))
    if card.get("model_version") != expected_version:
        raise ModelError(
            f"{card_path}: model_version is {card.get('model_version')!r}, expected "
            f"{expected_version!r} (the digests of the model files); {restore}"
        )
    threshold = moment.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        threshold = None  # a string, null or absent: not a threshold
    if threshold is None or not 0 <= threshold <= 1:
        raise ModelError(
            f"{card_path}: moments.{at}.threshold must be a number in [0, 1], found "
            f"{moment.get('threshold')!r}; {restore}"
        )
    path = Path(model_dir) / moment["file"]
    if not path.is_file():
        raise ModelError(f"{path}: missing; the model folder is incomplete, retrain the model")
    if hashlib.sha256(path.read_bytes()).hexdigest()[:12] != moment["sha256"]:
        raise ModelError(
            f"{path}: does not match its model card (changed or corrupted); retrain the model"
        )
    try:
        det = joblib.load(path)
    except MemoryError:
        raise
    except Exception as exc:  # unpickling damaged bytes can raise almost any exception
        raise ModelError(
            f"{path}: cannot be loaded ({type(exc).__name__}); the file is damaged, retrain the model"
        ) from exc
    if not isinstance(det, Detector):
        raise ModelError(f"{path}: is not a detector model")
    if abs(threshold - float(det.threshold_)) > 1e-12:
        raise ModelError(
            f"{card_path}: moments.{at}.threshold is {threshold!r} but the model flags at "
            f"{float(det.threshold_)!r}; {restore}"
        )
    return det, card
