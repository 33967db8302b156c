"""Score one dossier at submission time, as the batch scorer would (``--at submission``).

:class:`OnlineScorer` holds what the scoring API needs in memory: the
submission-time detector compiled for one row (:mod:`detector.fastscore`),
the reference tables as dict lookups (:class:`features.online.ReferenceIndex`)
and the history counters (:class:`features.history.OnlineCounters`: the data
folder's dossiers, frozen, plus a live store of the dossiers scored since).

The path of one dossier: normalise it like the batch reader
(:func:`features.normalise.normalise_dossier`), compute its per-dossier
features, its history counters and the derived ratios, score it; then the
caller records it durably and adds its :class:`~features.history.Update` to the
live store. Every step has a batch twin, and tests prove the two agree.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detector.artifacts import load
from detector.fastscore import FastScorer, RowScore
from detector.scorer import Detector
from features import read_dataset
from features.contract import PROXY_TYPES
from features.definitions import derive
from features.errors import ContractError
from features.history import FrozenHistory, LiveStore, OnlineCounters, Update, history_events
from features.normalise import normalise_dossier
from features.online import ReferenceIndex
from features.quality import Issue

log = logging.getLogger(__name__)

#: fields the portal cannot know at submission (they come later); ignored by the online path,
#: as ``detector score --at submission`` ignores them
LATER_FIELDS = ("synced_at", "received_by", "accepted_at")
#: what the API cannot score without (DATA_CONTRACT.md, "The scoring API's request"):
#: absent, or (but for channel, whose unknown value the batch scores too) unusable
SCORABLE = ("dossier_id", "unit_id", "channel", "submitted_at")


class Unscorable(ValueError):
    """A required field is missing or unusable after normalisation; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def epoch_seconds(ts: pd.Timestamp) -> int:
    """Seconds since the epoch, floored like :func:`features.pit.seconds`."""
    return int(ts.value // 1_000_000_000)


@dataclass
class Scored:
    """One dossier's answer and what it adds to the history."""

    dossier_id: str
    score: RowScore
    data_gaps: list[str]
    findings: list[Issue]
    dossier: dict[str, object]  # normalised fields, for the durable log
    update: Update | None  # None when the dossier is already in the data folder's history
    features: dict[str, object] = field(default_factory=dict)


class OnlineScorer:
    """Everything needed to score single dossiers against a data folder's history.

    Parameters
    ----------
    data_dir : the contract data folder (reference tables and dossier history).
    model_dir : the trained model folder (``detector train``).
    live : the live store (memory or Redis) shared by every worker.
    model_from : reuse this scorer's model instead of loading ``model_dir`` (a data-only reload).

    Notes
    -----
    Start-up reads the folder and computes the history's event keys and flags
    vectorised (as the batch does), so its cost is close to ``detector
    validate`` plus one feature pass; scoring one dossier is dict lookups and
    a compiled tree walk.
    """

    def __init__(
        self,
        data_dir: str | Path,
        model_dir: str | Path,
        live: LiveStore,
        model_from: OnlineScorer | None = None,
    ) -> None:
        started = time.perf_counter()
        self.data_dir, self.model_dir = Path(data_dir), Path(model_dir)
        self.detector: Detector
        self.fast: FastScorer
        self.model_version: str
        if model_from is not None:
            self.detector, self.fast = model_from.detector, model_from.fast
            self.model_version = model_from.model_version
        else:
            det, card = load(model_dir, "submission")
            self.detector, self.fast = det, FastScorer.from_detector(det)
            self.model_version = str(card["model_version"])
        self.threshold: float = float(self.detector.threshold_)
        ds = read_dataset(data_dir)
        self.present = ds.present
        self.reference = ReferenceIndex.from_tables(ds.tables, ds.present)
        events, t = history_events(ds.tables, ds.present)
        self.history_ids = frozenset(ds.tables["dossiers"]["dossier_id"].tolist())
        self.counters = OnlineCounters(FrozenHistory(events, t), live)
        self.live = live
        self.quality = ds.report
        self.load_seconds = time.perf_counter() - started
        log.info(
            "online scorer ready: %d history dossiers, model %s, %.1f s",
            len(self.history_ids),
            self.model_version,
            self.load_seconds,
        )

    @property
    def history_size(self) -> int:
        """Dossiers in the data folder's history."""
        return len(self.history_ids)

    def normalise(self, raw: Mapping[str, object]) -> tuple[dict[str, object], list[Issue]]:
        """The dossier as the batch reader would read it; raises :class:`Unscorable`."""
        if any(raw.get(f) is not None for f in LATER_FIELDS):
            raw = {k: v for k, v in raw.items() if k not in LATER_FIELDS}
        try:
            d, issues = normalise_dossier(raw)
        except ContractError as exc:  # text no reader could store (e.g. a lone surrogate)
            raise Unscorable("dossier", f"unreadable value: {exc}") from exc
        for name in SCORABLE:
            value = raw.get(name) if name == "channel" else d.get(name)
            # an unknown channel is dirt (scored, as the batch does); an absent one is unusable
            usable = (
                value.__class__ is pd.Timestamp
                if name == "submitted_at"
                else (isinstance(value, str) and bool(value.strip()))
            )
            if not usable:
                raise Unscorable(name, f"{name}: expected a valid value, found {raw.get(name)!r}")
        return d, issues

    def score(self, raw: Mapping[str, object]) -> Scored:
        """Score one dossier as of its submission (read-only: the caller adds ``update``).

        Raises
        ------
        Unscorable
            When ``dossier_id``, ``unit_id``, ``channel`` or ``submitted_at`` is
            missing or unusable after normalisation.
        """
        d, issues = self.normalise(raw)
        dossier_id = str(d["dossier_id"])
        ts = d["submitted_at"]
        assert isinstance(ts, pd.Timestamp)
        t = epoch_seconds(ts)
        row = self.reference.dossier(d)
        event: dict[str, object] = {
            **{k: v if isinstance(v, str) else None for k, v in d.items()},
            **row.keys,
            **row.flags,
        }
        in_history = dossier_id in self.history_ids
        values: dict[str, Any] = dict(row.static)
        values.update(self.counters.values(event, t, in_history=in_history))
        derive(values)
        gaps = ";".join(row.gaps)
        score = self.fast.score(values, gaps)
        update = None if in_history else self.counters.update(dossier_id, event, t)
        return Scored(dossier_id, score, list(row.gaps), issues, d, update, values)

    def replay(self, raw: Mapping[str, object]) -> None:
        """Add a logged dossier to the live history without scoring it again (restart, reload)."""
        d, _ = self.normalise(raw)
        dossier_id = str(d["dossier_id"])
        if dossier_id in self.history_ids:
            return
        ts = d["submitted_at"]
        assert isinstance(ts, pd.Timestamp)
        row = self.reference.dossier(d)
        event: dict[str, object] = {
            **{k: v if isinstance(v, str) else None for k, v in d.items()},
            **row.keys,
            **row.flags,
        }
        self.live.add(self.counters.update(dossier_id, event, epoch_seconds(ts)))

    def add(self, scored: Scored) -> None:
        """Add a scored dossier to the live history (idempotent)."""
        if scored.update is not None:
            self.live.add(scored.update)


def dossier_record(d: Mapping[str, object]) -> dict[str, str | None]:
    """A normalised dossier as JSON-ready text (timestamps in ISO 8601 with offset, unknown = None)."""
    out: dict[str, str | None] = {}
    for k, v in d.items():
        if isinstance(v, pd.Timestamp):
            out[k] = None if pd.isna(v) else v.isoformat()
        elif isinstance(v, str):
            out[k] = v
        else:
            out[k] = None
    return out


def answer_json(s: Scored, model_version: str, threshold: float) -> dict[str, Any]:
    """The API's answer for a scored dossier (personal values stay out of it, except evidence)."""
    sc = s.score
    return {
        "dossier_id": s.dossier_id,
        "status": "scored",
        "risk_score": sc.risk_score,
        "proxy_type": sc.proxy_type,
        "flagged": sc.flagged,
        "threshold": threshold,
        "probabilities": {c: sc.probabilities[f"p_{c}"] for c in PROXY_TYPES},
        "reasons": [
            {"code": r.code, "vi": r.vi, "en": r.en, "evidence": _plain(r.evidence)}
            for r in sc.reasons
        ],
        "data_gaps": s.data_gaps,
        "input_findings": [
            {"code": i.code, "column": i.column, "count": i.n} for i in s.findings if i.n
        ],
        "model_version": model_version,
        "repeat": False,
        "reason": None,
    }


def _plain(evidence: Mapping[str, object]) -> dict[str, object]:
    """Evidence values as JSON: NaN as null, NumPy scalars as Python numbers."""
    out: dict[str, object] = {}
    for k, v in evidence.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and math.isnan(v):
            v = None
        out[k] = v
    return out
