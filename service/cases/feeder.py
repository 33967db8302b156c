"""Flagged answers of the scoring API become cases (source ``api``, scored at submission).

:class:`CaseFeeder` reads the durable scoring log from the last sequence
number it processed (kept in the ``feeder_state`` table, migration 0002),
turns every flagged answer into a case and moves its mark forward in the same
transaction. A case is unique by dossier: a dossier that already has a case
(from the batch or an earlier run) is left alone, so running twice, or after
a crash between two steps, creates nothing twice and never overwrites a batch
case. A new case joins the open actor case (account, device, officer, ...)
its dossier shares, as :func:`detector.actors.candidate_keys` finds it.

The evidence of an API case is the one the engine drew when it flagged the
dossier (:meth:`service.engine.Engine._case_fields`): the same evidence
subgraph as a batch case's, from the online state at submission, marked and
pseudonymised, carried in the log entry's ``case_fields`` under
:data:`service.log.EVIDENCE`. A log entry written before the engine drew it
(or whose drawing failed) gets a star instead: the dossier and its own fields
(owner, account, device, IP, phone, payment token, unit, claimed mandate),
with the node keys of :mod:`features.graph`, through :func:`features.to_json`.
A later ``detector score --to-db`` over the data folder refreshes an open
API case with the batch's evidence.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import networkx as nx
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from features import mask_value
from features.contract import LOCAL_TZ
from features.ids import owner_id_kind
from service.cases._evidence import case_evidence
from service.cases._private import evidence_pseudonymiser, to_utc
from service.cases.actors import join_actor
from service.cases.db import CaseStore
from service.cases.models import Case, utcnow
from service.log import EVIDENCE, ScoringLog, scoring_log

__all__ = [
    "FEEDER_NAME",
    "CaseFeeder",
    "cases_from_api",
    "feed_round",
    "feeder_state",
    "star_graph",
]

log = logging.getLogger(__name__)

#: the feeder's mark in ``feeder_state`` (one row per feeder)
FEEDER_NAME = "api"
#: log entries read past per transaction (only the flagged ones among them are parsed)
BATCH = 500

feeder_state = sa.Table(
    "feeder_state",
    sa.MetaData(),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: dossier field -> (node type, edge type from the dossier), as :mod:`features.graph` draws them
_STAR: dict[str, tuple[str, str]] = {
    "account_id": ("account", "submitted_through"),
    "device_id": ("device", "used_device"),
    "ip": ("ip", "from_ip"),
    "contact_phone": ("phone", "contact_phone"),
    "payer_token": ("payment", "paid_by"),
    "unit_id": ("unit", "received_at"),
    "authorization_id": ("mandate", "claims_mandate"),
}
_PERSONAL_STAR = {"phone", "payment"}


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def star_graph(dossier: Mapping[str, Any]) -> nx.MultiDiGraph:
    """The dossier and its own fields as a graph in :mod:`features.graph`'s format.

    Node keys are ``"<type>:<id>"``; personal nodes (the owner, phone,
    payment token) are labelled masked, and :func:`features.to_json` replaces
    their keys with pseudonyms. No name or email is drawn.
    """
    g = nx.MultiDiGraph()
    dossier_id = str(dossier["dossier_id"])
    focus = f"dossier:{dossier_id}"
    g.add_node(
        focus,
        type="dossier",
        label=dossier_id,
        **{k: _text(dossier.get(k)) for k in ("submitted_at", "channel", "procedure_code",
                                               "unit_id", "declared_relation",
                                               "attachment_kind")},
    )  # fmt: skip
    owner_key = None
    owner = _text(dossier.get("owner_id"))
    if owner is not None:
        kind = str(owner_id_kind(pd.Series([owner])).iloc[0])
        node_type = "business" if kind == "business" else "person"
        owner_key = f"{node_type}:{owner}"
        label = owner if node_type == "business" else mask_value(owner)
        g.add_node(owner_key, type=node_type, label=label, known=None)
        g.add_edge(owner_key, focus, key="owns", type="owns")
    for field, (node_type, edge_type) in _STAR.items():
        value = _text(dossier.get(field))
        if value is None:
            continue
        key = f"{node_type}:{value}"
        label = mask_value(value) if node_type in _PERSONAL_STAR else value
        g.add_node(key, type=node_type, label=label)
        g.add_edge(focus, key, key=edge_type, type=edge_type)
    g.graph.update(focus=focus, owner=owner_key, holder=None, at=_text(dossier.get("submitted_at")))
    return g


def _submitted(dossier: Mapping[str, Any]) -> tuple[Any, str]:
    """(UTC datetime or None, YYYY-MM local) of a logged dossier's ``submitted_at``."""
    text = _text(dossier.get("submitted_at"))
    if text is None:
        return None, ""
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        return None, ""
    ts = ts.tz_localize(LOCAL_TZ) if ts.tzinfo is None else ts
    return to_utc(ts.to_pydatetime()), ts.tz_convert(LOCAL_TZ).strftime("%Y-%m")


def case_from_answer(
    dossier: Mapping[str, Any],
    answer: Mapping[str, Any],
    model_version: str,
    pseudonymise: Callable[[str], str],
) -> dict[str, Any]:
    """The columns of a new API case from a logged dossier and its (flagged) answer.

    ``dossier`` is the log entry's ``case_fields``: the evidence drawn at
    scoring time under :data:`service.log.EVIDENCE`, else a star is drawn here.
    """
    reasons = [dict(r) for r in answer.get("reasons") or []]
    evidence = dossier.get(EVIDENCE)
    dossier = {k: v for k, v in dossier.items() if k != EVIDENCE}
    if not isinstance(evidence, dict):  # an entry from before the engine drew it
        evidence = case_evidence(star_graph(dossier), reasons, pseudonymise)
    submitted_at, month = _submitted(dossier)
    now = utcnow()
    return {
        "dossier_id": str(dossier["dossier_id"]),
        "unit_id": _text(dossier.get("unit_id")) or "",
        "month": month,
        "submitted_at": submitted_at,
        "channel": _text(dossier.get("channel")) or "",
        "risk_score": float(answer.get("risk_score") or 0.0),
        "proxy_type": str(answer.get("proxy_type") or ""),
        "reasons": reasons,
        "data_gaps": list(answer.get("data_gaps") or []),
        "probabilities": dict(answer.get("probabilities") or {}),
        "dossier": {
            k: (v if isinstance(v, str) or v is None else str(v)) for k, v in dossier.items()
        },
        "evidence": evidence,
        "source": "api",
        "scored_at": "submission",
        "model_version": str(answer.get("model_version") or model_version),
        "status": "open",
        "created_at": now,
        "updated_at": now,
    }


def cases_from_api(
    s: Session,
    entries: Sequence[tuple[int, Mapping[str, Any], Mapping[str, Any], str]],
    pseudonymise: Callable[[str], str],
) -> int:
    """Create a case for each flagged entry whose dossier has none yet; the count created.

    Each new case joins the open actor case of its first matching key
    (:func:`service.cases.actors.join_actor`), or opens one of its own.

    Parameters
    ----------
    s
        A session of the case store (the caller commits).
    entries
        ``(seq, dossier, answer, model_version)`` from the scoring log.
    pseudonymise
        The keyed hash for the evidence graph's personal values.
    """
    flagged = [e for e in entries if e[2].get("flagged")]
    if not flagged:
        return 0
    ids = [str(e[1]["dossier_id"]) for e in flagged]
    have = set(s.scalars(sa.select(Case.dossier_id).where(Case.dossier_id.in_(ids))))
    rows: dict[str, dict[str, Any]] = {}
    for _seq, dossier, answer, version in flagged:
        dossier_id = str(dossier["dossier_id"])
        if dossier_id not in have and dossier_id not in rows:
            rows[dossier_id] = case_from_answer(dossier, answer, version, pseudonymise)
    if rows:
        s.execute(sa.insert(Case), list(rows.values()))
        new = s.scalars(sa.select(Case).where(Case.dossier_id.in_(list(rows))).order_by(Case.id))
        for case in new:  # in log order: an actor one of them opens is there for the next
            join_actor(s, case, pseudonymise)
    return len(rows)


class CaseFeeder:
    """Follows the scoring log and turns its flagged answers into cases.

    Parameters
    ----------
    store
        The case store.
    log
        The scoring API's durable log.
    secret
        Key of the pseudonymising HMAC (``Settings.secret()``; read from the
        settings when None).
    pause
        Seconds to sleep between batches.

    Notes
    -----
    Entries of dossiers already in the data folder's history are skipped, as
    :meth:`ScoringLog.entries` skips them: the batch load covers those.

    It runs in a thread of the scoring process, so its Python work competes
    with ``POST /v1/score`` for the interpreter: parsing every answer of a
    busy log took the p99 at 500 requests/s from 14 ms to 730 ms in
    ``make bench-api``. It therefore reads past the unflagged answers in SQL,
    works in batches, and sleeps between them.
    """

    def __init__(
        self,
        store: CaseStore,
        log: ScoringLog,
        secret: bytes | None = None,
        pause: float = 0.02,
    ) -> None:
        if secret is None:
            from service.settings import Settings

            secret = Settings().secret()
        self.store = store
        self.log = log
        self.pause = pause
        self._pseudonymise = evidence_pseudonymiser(secret)

    def last_seq(self) -> int:
        """The last log sequence number processed (0 before the first run)."""
        with self.store.session() as s:
            return _last_seq(s)

    def _read(
        self, after: int
    ) -> tuple[int, list[tuple[int, dict[str, Any], dict[str, Any], str]]]:
        """The last sequence number read after ``after`` (``after`` when none), and its entries.

        Entries of dossiers already in the history are read past but not returned.
        """
        t = scoring_log.c
        with self.log.engine.connect() as conn:
            window = sa.select(t.seq).where(t.seq > after).order_by(t.seq).limit(BATCH).subquery()
            last = conn.execute(sa.select(sa.func.max(window.c.seq))).scalar()
            if last is None:
                return after, []
            # only flagged answers become cases: the others are read past in SQL, not parsed
            # here (this runs beside the scoring path and shares its interpreter)
            # a flagged answer's clear fields; a log from before they were kept apart has
            # the whole dossier in ``dossier``
            fields = sa.func.coalesce(t.case_fields, t.dossier)
            rows = conn.execute(
                sa.select(t.seq, fields, t.answer, t.model_version)
                .where(
                    t.seq > after,
                    t.seq <= last,
                    t.in_history.is_(False),
                    t.answer.like('%"flagged":true%'),
                )
                .order_by(t.seq)
            ).all()
        entries = [
            (int(str(seq)), json.loads(str(d)), json.loads(str(a)), str(v)) for seq, d, a, v in rows
        ]
        return int(str(last)), entries

    def run_once(self) -> int:
        """Process every log entry after the mark; the number of cases created."""
        made = 0
        while True:
            with self.store.session() as s:
                after = _last_seq(s)
                last, entries = self._read(after)
                if last == after:
                    return made
                made += cases_from_api(s, entries, self._pseudonymise)
                _set_last_seq(s, last)
            self._forget(after, last)
            log.debug("scoring log read up to seq %d; %d cases made so far", last, made)
            time.sleep(self.pause)  # hand the interpreter back to the scoring path

    def _forget(self, after: int, last: int) -> None:
        """Empty the clear fields of the entries just read: their cases hold them now.

        A range of the primary key, so the update touches only those rows
        (the scoring path writes to the same table).
        """
        t = scoring_log.c
        with self.log.engine.begin() as conn:
            conn.execute(
                sa.update(scoring_log)
                .where(t.seq > after, t.seq <= last, t.case_fields.is_not(None))
                .values(case_fields=None)
            )


def feed_round(feeder: CaseFeeder) -> int:
    """One :meth:`CaseFeeder.run_once` that never raises: the number of cases made.

    Shared by the app's feeder thread and ``detector serve``'s feeder process,
    which try again next round. Two feeders may read the same new entries at
    once: the second to commit hits the unique dossier and rolls back whole.
    Errors are logged by type only, since a database error's text may quote a
    dossier's values.
    """
    try:
        made = feeder.run_once()
    except sa.exc.IntegrityError:
        log.info("another worker turned the same answers into cases first")
        return 0
    except Exception as exc:
        log.error("turning flagged answers into cases failed (%s)", type(exc).__name__)
        return 0
    if made:
        log.info("%d flagged answers became cases", made)
    return made


def _last_seq(s: Session) -> int:
    value = s.scalar(sa.select(feeder_state.c.last_seq).where(feeder_state.c.name == FEEDER_NAME))
    return int(value or 0)


def _set_last_seq(s: Session, seq: int) -> None:
    done = s.execute(
        sa.update(feeder_state)
        .where(feeder_state.c.name == FEEDER_NAME)
        .values(last_seq=seq, updated_at=utcnow())
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        s.execute(
            sa.insert(feeder_state).values(name=FEEDER_NAME, last_seq=seq, updated_at=utcnow())
        )
