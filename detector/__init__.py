"""Rules, models, the combined scorer, reports, the simulator and the command line.

Public names are imported lazily, so ``detector --help`` does not pay for
scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Detector": "detector.scorer",
    "actor_cases": "detector.actors",
    "candidate_keys": "detector.actors",
    "dossier_cases": "detector.actors",
    "rank_cases": "detector.actors",
    "MisuseModel": "detector.model",
    "Reason": "detector._scoring",
    "RuleSet": "detector.rules",
    "RuleError": "detector.rules",
    "load_rules": "detector.rules",
    "backtest": "detector.rules",
    "ModelError": "detector.artifacts",
    "train": "detector.batch",
    "score": "detector.batch",
    "score_dataset": "detector.batch",
    "unit_report": "detector.batch",
    "SimConfig": "detector.simulate",
    "simulate": "detector.simulate",
    "write_province": "detector.simulate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'detector' has no attribute {name!r}")
