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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from detector.artifacts import load
from detector.fastscore import FastScorer, RowScore
from detector.scorer import Detector
from features import LiveIndex, evidence_subgraph, read_dataset
from features.checks import dossier_id_issues
from features.contract import CHANNELS, PROXY_TYPES
from features.defs import derive
from features.errors import ContractError
from features.history import (
    FrozenHistory,
    LiveStore,
    OnlineCounters,
    Update,
    hide_personal_keys,
    history_events,
)
from features.normalise import normalise_dossier
from features.online import ReferenceIndex
from features.quality import Issue

log = logging.getLogger(__name__)

#: fields the portal cannot know at submission (they come later); ignored by the online path,
#: as ``detector score --at submission`` ignores them
LATER_FIELDS = ("synced_at", "received_by", "accepted_at")
#: what the API cannot score without (docs/data_contract.md, "The scoring API's request"):
#: absent or unusable (a channel outside the contract's three, once case and spaces are forgiven)
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
    dossier: dict[str, object]  # normalised fields (a flagged one becomes a case)
    update: Update | None  # None when the dossier is already in the data folder's history
    features: dict[str, object] = field(default_factory=dict)
    #: what a replay needs: the counters' keys (personal ones pseudonymised) and flags
    event: dict[str, object] = field(default_factory=dict)


class OnlineScorer:
    """Everything needed to score single dossiers against a data folder's history.

    Parameters
    ----------
    data_dir : the contract data folder (reference tables and dossier history).
    model_dir : the trained model folder (``detector train``).
    live : the live store (memory or Redis) shared by every worker.
    model_from : reuse this scorer's model instead of loading ``model_dir`` (a data-only reload).
    pseudonymise : keyed hash of the owner IDs, phones and payment tokens the history keeps
        (:data:`features.history.PERSONAL_KEYS`); None keeps them as they are.

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
        pseudonymise: Callable[[str], str] | None = None,
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
        ds = read_dataset(data_dir)
        self.present = ds.present
        self.reference = ReferenceIndex.from_tables(ds.tables, ds.present)
        self.pseudonymise = pseudonymise
        events, t = history_events(ds.tables, ds.present, pseudonymise)
        self.history_ids = frozenset(ds.tables["dossiers"]["dossier_id"].tolist())
        self.counters = OnlineCounters(FrozenHistory(events, t), live)
        self.live = live
        #: the entity graph of the history, grown by every dossier added: the evidence of a
        #: flagged dossier is drawn from it as a batch case's is from the data folder's
        self.graph = LiveIndex.from_dataset(ds)
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
        issues += dossier_id_issues(d)  # what the batch reader's ID checks would find
        for name in SCORABLE:
            value = d.get(name)
            usable = (
                value.__class__ is pd.Timestamp
                if name == "submitted_at"
                else (isinstance(value, str) and bool(value.strip()))
            )
            if usable:
                continue
            if name == "channel":
                # the batch scores an unknown channel as dirt, but a portal that sends one is
                # misconfigured: scored, it would read as "not online" and hide a broker
                raise Unscorable(
                    name,
                    f"channel: expected one of {', '.join(CHANNELS)} (case and surrounding "
                    f"spaces are forgiven), found {_shown(raw.get(name))}",
                )
            raise Unscorable(name, f"{name}: expected a valid value, found {_shown(raw.get(name))}")
        if "units" in self.present and d["unit_id"] not in self.reference.units:
            # a case is opened under the receiving unit: one the data folder does not list
            # would put made-up units on the dashboards (a new unit: reload the data folder)
            raise Unscorable(
                "unit_id",
                f"unit_id: expected a unit of the data folder's units table, found "
                f"{_shown(raw.get('unit_id'))}; if the unit is new, reload the data folder",
            )
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
        event = self._event(d, row.keys, row.flags)
        in_history = dossier_id in self.history_ids
        values: dict[str, Any] = dict(row.static)
        values.update(self.counters.values(event, t, in_history=in_history))
        derive(values)
        gaps = ";".join(row.gaps)
        score = self.fast.score(values, gaps)
        update = None if in_history else self.counters.update(dossier_id, event, t)
        kept = {c: event.get(c) for c in self.counters.event_columns}
        return Scored(dossier_id, score, list(row.gaps), issues, d, update, values, kept)

    def _event(
        self, d: Mapping[str, object], keys: Mapping[str, object], flags: Mapping[str, bool]
    ) -> dict[str, object]:
        """The dossier as a counter event: its keys (personal ones pseudonymised) and flags."""
        event: dict[str, object] = {k: v if isinstance(v, str) else None for k, v in d.items()}
        event.update(keys)
        event.update(flags)
        return hide_personal_keys(event, self.pseudonymise)

    def replay(self, record: Mapping[str, Any]) -> None:
        """Add a logged dossier to the live history without scoring it again (restart, reload).

        ``record`` is what :func:`replay_record` wrote: the counters' event as
        it was at scoring time, so the replay adds exactly what the answer
        added, without the personal values. (A log written before records
        held events has the normalised dossier instead; it is read the old way.)
        """
        if "event" not in record:
            self._replay_dossier(record)
            return
        dossier_id = str(record["dossier_id"])
        if dossier_id in self.history_ids:
            return
        self.live.add(self.counters.update(dossier_id, record["event"], int(record["t"])))

    def _replay_dossier(self, raw: Mapping[str, object]) -> None:
        d, _ = self.normalise(raw)
        dossier_id = str(d["dossier_id"])
        if dossier_id in self.history_ids:
            return
        ts = d["submitted_at"]
        assert isinstance(ts, pd.Timestamp)
        row = self.reference.dossier(d)
        event = self._event(d, row.keys, row.flags)
        self.live.add(self.counters.update(dossier_id, event, epoch_seconds(ts)))

    def add(self, scored: Scored) -> None:
        """Add a scored dossier to the live history and the entity graph (idempotent)."""
        if scored.update is not None:
            self.live.add(scored.update)
            self.graph.add(scored.dossier)

    def evidence(self, scored: Scored, max_related: int) -> nx.MultiDiGraph:
        """The evidence subgraph of a scored dossier at its submission, from the online state.

        The same :func:`features.evidence_subgraph` as a batch case's, on the
        data folder's graph plus the dossiers this process has scored since
        (this one included, even before :meth:`add`): other dossiers strictly
        before its submission, as the batch at submission draws them.

        Notes
        -----
        Dossiers the live history holds only as replayed log records (after a
        restart or reload), or that another worker scored, carry no clear
        values and are not in the graph until the data folder holds them.
        """
        with self.graph.including(scored.dossier):
            return evidence_subgraph(
                self.graph, scored.dossier_id, at="submission", max_related=max_related
            )


#: submission fields no purpose of the service needs: never kept (the scorer does not read
#: them, and a case names its owner by ID, which a reviewer may reveal)
UNKEPT_FIELDS = ("owner_name", "contact_email")


def replay_record(s: Scored) -> dict[str, Any]:
    """What the durable log keeps to rebuild the history: no personal value in clear.

    The dossier's ID, its submission time (epoch seconds) and the counters'
    event, whose owner ID, phone and payment token are pseudonyms when the
    scorer was given a key.
    """
    ts = s.dossier["submitted_at"]
    assert isinstance(ts, pd.Timestamp)
    return {"dossier_id": s.dossier_id, "t": epoch_seconds(ts), "event": s.event}


def _shown(value: object) -> str:
    """A refused value for an error message: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def dossier_record(d: Mapping[str, object]) -> dict[str, str | None]:
    """A normalised dossier as JSON-ready text (timestamps in ISO 8601 with offset, unknown = None).

    The name and e-mail (:data:`UNKEPT_FIELDS`) are left out.
    """
    out: dict[str, str | None] = {}
    for k, v in d.items():
        if k in UNKEPT_FIELDS:
            continue
        if isinstance(v, pd.Timestamp):
            out[k] = None if pd.isna(v) else v.isoformat()
        elif isinstance(v, str):
            out[k] = v
        else:
            out[k] = None
    return out


def answer_json(s: Scored, model_version: str) -> dict[str, Any]:
    """The API's answer for a scored dossier (personal values stay out of it, except evidence)."""
    sc = s.score
    return {
        "dossier_id": s.dossier_id,
        "status": "scored",
        "risk_score": sc.risk_score,
        "proxy_type": sc.proxy_type,
        "flagged": sc.flagged,
        # the threshold this dossier was judged by: its owner's group's (detector._lookalike)
        "threshold": sc.threshold,
        "probabilities": {c: sc.probabilities[f"p_{c}"] for c in PROXY_TYPES},
        "reasons": [r.as_dict() | {"evidence": _plain(r.evidence)} for r in sc.reasons],
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
