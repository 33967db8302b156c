"""Loading a batch run's flagged dossiers into the case store (``detector score --to-db``).

:func:`load_batch` turns each flagged row of
:func:`detector.batch.score_dataset` into a case: the dossier's own fields
(and its account's holder), the reasons with the feature values behind them
(the scorer's own :class:`~detector._scoring.Reason` objects, the
``reason_list`` column: nothing is scored again), the data gaps, the class
probabilities, and the evidence subgraph with the links the reasons point at
marked suspicious and every personal value pseudonymised. It also loads the
unit × month and officer × month figures of
:func:`detector.batch.unit_report` for the dashboard.

Flagged cases are then grouped into actor cases (:mod:`service.cases.actors`):
the account, device, phone, payment token, officer or unit x month that
explains them, or a case of one dossier.

Loading again is safe: a case is keyed by its dossier; an open case gets the
new score, reasons, evidence and actor; a reviewed case (one with a verdict)
keeps what its reviewer saw, its actor included; verdicts and assignments are
never touched.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from detector.actors import actor_cases
from detector.artifacts import ModelError, load_card
from detector.batch import unit_report
from detector.explore import EXPLORE_SHARE, exploration_count, explore, interleave
from detector.scorer import REASON_LIST
from features import Dataset, EntityIndex, evidence_subgraph
from features.contract import LOCAL_TZ, PROXY_TYPES
from features.errors import UsageError
from service.cases import audit
from service.cases._evidence import MAX_RELATED, case_evidence
from service.cases._private import evidence_pseudonymiser, json_safe, to_utc
from service.cases.actors import place_in_actors
from service.cases.db import CaseStore
from service.cases.models import Case, OfficerMonth, UnitMonth, utcnow

__all__ = [
    "DOSSIER_FIELDS",
    "LoadSummary",
    "json_safe",
    "load_batch",
    "refresh_statistics",
    "upsert",
]

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
#: the dossier fields a case keeps (the contract's ``dossiers`` columns), plus ``holder_id``
DOSSIER_FIELDS: tuple[str, ...] = (
    "dossier_id", "procedure_code", "unit_id", "channel", "submitted_at", "synced_at",
    "account_id", "owner_id", "owner_name", "declared_relation", "authorization_id",
    "contact_phone", "contact_email", "ip", "device_id", "attachment_kind", "payer_token",
    "received_by", "accepted_at",
)  # fmt: skip
#: flagged dossiers turned into cases per transaction
CHUNK = 500
_NEEDED = ("dossier_id", "risk_score", "proxy_type", "flagged", "data_gaps")


@dataclass
class LoadSummary:
    """What a load did (counts only: no personal data)."""

    scored: int = 0
    flagged: int = 0
    explored: int = 0
    created: int = 0
    refreshed: int = 0
    kept_reviewed: int = 0
    actors: int = 0
    unit_months: int = 0
    officer_months: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _dossier_fields(ds: Dataset, ids: pd.Index) -> pd.DataFrame:
    """The flagged dossiers' fields as JSON-ready values, with the holder of their account."""
    d = ds.tables["dossiers"].drop_duplicates("dossier_id").set_index("dossier_id", drop=False)
    d = d.reindex(ids)[[c for c in DOSSIER_FIELDS if c in d.columns]]
    accounts = ds.tables["accounts"].drop_duplicates("account_id").set_index("account_id")
    d["holder_id"] = accounts["holder_id"].reindex(d["account_id"].to_numpy()).to_numpy()
    return d


def _month(ts: object) -> str:
    if not isinstance(ts, pd.Timestamp) or pd.isna(ts):
        return ""
    return ts.tz_convert(LOCAL_TZ).strftime("%Y-%m")


def _case_rows(
    chunk: pd.DataFrame,
    fields: pd.DataFrame,
    index: EntityIndex,
    *,
    at: str,
    pseudonymise: Callable[[str], str],
    model_version: str,
) -> list[dict[str, Any]]:
    """The case columns of a chunk of flagged rows (everything but the case's own state)."""
    moment: str | None = "submission" if at == "submission" else None
    out = []
    for _, r in chunk.iterrows():
        dossier_id = str(r["dossier_id"])
        f = fields.loc[dossier_id]
        reasons = [json_safe(reason.as_dict()) for reason in r[REASON_LIST]]
        graph = evidence_subgraph(index, dossier_id, at=moment, max_related=MAX_RELATED)
        submitted = f["submitted_at"]
        out.append(
            {
                "dossier_id": dossier_id,
                "unit_id": str(f["unit_id"]) if isinstance(f["unit_id"], str) else "",
                "month": _month(submitted),
                "submitted_at": to_utc(submitted.to_pydatetime())
                if isinstance(submitted, pd.Timestamp) and not pd.isna(submitted)
                else None,
                "channel": str(f["channel"]) if isinstance(f["channel"], str) else "",
                "risk_score": float(r["risk_score"]),
                "proxy_type": str(r["proxy_type"]),
                "reasons": reasons,
                "data_gaps": [g for g in str(r["data_gaps"] or "").split(";") if g],
                "probabilities": {c: json_safe(float(r[f"p_{c}"])) for c in PROXY_TYPES},
                "dossier": {k: json_safe(v) for k, v in f.items()},
                "evidence": case_evidence(graph, reasons, pseudonymise),
                "source": "batch",
                "scored_at": at,
                "model_version": model_version,
                "chosen_by": str(r["chosen_by"]),
                "propensity": float(r["propensity"]),
                "priority": float(r["priority"]),
            }
        )
    return out


def _write_cases(s: Session, rows: list[dict[str, Any]], summary: LoadSummary) -> None:
    """Insert new cases; refresh open ones; leave reviewed ones as their reviewer saw them."""
    existing = {
        d: (i, st)
        for d, i, st in s.execute(
            sa.select(Case.dossier_id, Case.id, Case.status).where(
                Case.dossier_id.in_([r["dossier_id"] for r in rows])
            )
        )
    }
    new = [r for r in rows if r["dossier_id"] not in existing]
    now = utcnow()
    refresh = [
        {**r, "id": existing[r["dossier_id"]][0], "updated_at": now}
        for r in rows
        if r["dossier_id"] in existing and existing[r["dossier_id"]][1] == "open"
    ]
    summary.kept_reviewed += len(rows) - len(new) - len(refresh)
    if new:
        s.execute(
            sa.insert(Case),
            [{**r, "status": "open", "created_at": now, "updated_at": now} for r in new],
        )
    if refresh:
        s.execute(sa.update(Case), refresh)
    summary.created += len(new)
    summary.refreshed += len(refresh)


def upsert(s: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert rows, replacing those with the same primary key (SQLite and PostgreSQL)."""
    if not rows:
        return
    table = model.__table__
    keys = [c.name for c in table.primary_key.columns]
    from sqlalchemy.dialects import postgresql, sqlite

    pg = s.get_bind().dialect.name == "postgresql"
    for start in range(0, len(rows), 2000):
        part = rows[start : start + 2000]
        stmt = postgresql.insert(table).values(part) if pg else sqlite.insert(table).values(part)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys},
        )
        s.execute(stmt)


def refresh_statistics(s: Session) -> None:
    """Let the query planner see the new cases (it picks the queue's indexes from them).

    Both databases sample (SQLite 1,000 rows per index): well under a second at
    100,000 cases.
    """
    if s.get_bind().dialect.name == "sqlite":
        s.execute(sa.text("PRAGMA analysis_limit=1000"))
    s.execute(sa.text("ANALYZE cases"))


def _queue_order(
    store: CaseStore,
    scored: pd.DataFrame,
    threshold: float,
    share: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The flagged rows and the exploration draw, in the queue's order, with why and priority.

    Flagged rows come by risk (priority = risk). Beside them
    :func:`detector.explore.exploration_count` unflagged dossiers are drawn
    by :func:`detector.explore.explore` (never one that already has a case)
    and spread through the queue by :func:`detector.explore.interleave`.
    Columns added: ``chosen_by``, ``propensity``, ``priority``.
    """
    rows = scored.drop_duplicates("dossier_id")
    is_flagged = rows["flagged"].astype(bool).to_numpy()
    flagged = rows[is_flagged].sort_values("risk_score", ascending=False, kind="stable")
    flagged = flagged.assign(chosen_by="queue", propensity=1.0, priority=flagged["risk_score"])
    k = exploration_count(len(flagged), share)
    if k == 0:
        return flagged
    pool = rows[~is_flagged]
    with store.session() as s:
        have = set(s.scalars(sa.select(Case.dossier_id)))
    taken = pool["dossier_id"].astype(str).isin(have).to_numpy()
    idx, chance = explore(pool["risk_score"].to_numpy(float), threshold, k, taken, rng)
    if len(idx) == 0:
        return flagged
    drawn = pool.iloc[idx].assign(chosen_by="exploration", propensity=chance)
    drawn = drawn.iloc[rng.permutation(len(drawn))]  # any first page: a random part of the draw
    after = interleave(len(flagged), len(drawn), share)
    # an exploration case takes the priority of the flagged case it follows (none: its own risk)
    risk = flagged["risk_score"].to_numpy(float)
    drawn["priority"] = risk[after] if len(risk) else drawn["risk_score"].to_numpy(float)
    # flagged i sorts at 2i + 1; exploration j right after flagged after[j] (-1: before all)
    order = np.r_[np.arange(len(flagged)) * 2 + 1, (after + 1) * 2]
    both = pd.concat([flagged, drawn], ignore_index=True)
    return both.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def _report_rows(
    ds: Dataset, scored: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The unit × month and officer × month rows, for the months this run scored."""
    units, officers = unit_report(ds, scored)
    d = ds.tables["dossiers"]
    t = d.loc[d["dossier_id"].isin(scored["dossier_id"]), "submitted_at"]
    months = set(t.dt.tz_convert(LOCAL_TZ).dt.strftime("%Y-%m").dropna())
    units = units[units["month"].isin(months)]
    officers = officers[officers["month"].isin(months)]
    return (
        [json_safe(r) for r in units.to_dict("records")],
        [json_safe(r) for r in officers.to_dict("records")],
    )


def _group_by_actor(
    store: CaseStore, ds: Dataset, queued: pd.DataFrame, pseudonymise: Callable[[str], str]
) -> int:
    """Group the flagged cases around their actors (:func:`detector.actors.actor_cases`).

    Exploration cases stay cases of their own, with no actor: they were drawn
    one by one to teach the model. Returns the number of actor cases.
    """
    flagged = queued[queued["chosen_by"] == "queue"].reset_index(drop=True)
    if flagged.empty:
        return 0
    grouping = actor_cases(flagged, ds.tables["dossiers"], pseudonymise,
                           chosen=np.ones(len(flagged), bool))  # fmt: skip
    with store.session() as s:
        return int(place_in_actors(s, grouping)["actors"])


def _scored_by(model_dir: str | Path, at: str) -> tuple[float, str]:
    """The threshold of the moment and the model version, from the model folder's card.

    Raises
    ------
    ModelError
        No card, or one without a threshold for ``at``.
    """
    card = load_card(model_dir)
    try:
        return float(card["moments"][at]["threshold"]), str(card["model_version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"{model_dir}: the model card has no threshold for --at {at} or no model_version; "
            "retrain the model"
        ) from exc


def load_batch(
    store: CaseStore,
    ds: Dataset,
    scored: pd.DataFrame,
    model_dir: str | Path,
    *,
    at: str,
    secret: bytes,
    progress: Progress | None = None,
    index: EntityIndex | None = None,
    explore_share: float = EXPLORE_SHARE,
    seed: int | None = None,
) -> LoadSummary:
    """Create or refresh a case for every flagged dossier of a batch run, and the dashboard.

    Beside the flagged dossiers, ``explore_share`` of the queue is drawn below
    the threshold to teach the model (:mod:`detector.explore`): such cases are
    marked ``chosen_by = "exploration"``, keep their chance of being drawn and
    are spread evenly through the queue.

    Parameters
    ----------
    store
        The case store.
    ds
        The data folder that was scored.
    scored
        :func:`detector.batch.score_dataset`'s frame over ``ds``: its data
        gaps, probabilities and the reasons as the scorer made them (the
        ``reason_list`` column of :meth:`detector.scorer.Detector.score_frame`).
    model_dir
        The model folder that scored it (its card gives the threshold and the
        model version; the model itself is not loaded).
    at
        The moment scored: ``review`` or ``submission``; the evidence graph is
        drawn as of the same moment.
    secret
        Key of the HMAC that pseudonymises personal values in the evidence.
    progress
        Called with a message at each stage and after each chunk of cases.
    index
        An :class:`EntityIndex` of ``ds`` to reuse.
    explore_share
        Share of the queue drawn for exploration (0 for none; below 1).
    seed
        Seed of the exploration draw (None: a fresh one, recorded in the
        audit entry so the draw can be repeated).

    Returns
    -------
    LoadSummary

    Raises
    ------
    UsageError
        ``at`` is not a moment, ``explore_share`` is not in [0, 1), or
        ``scored`` lacks the details columns or the reasons (a scores file
        read back holds the reasons joined, not their evidence).
    ModelError
        The model folder's card is missing or has no threshold for ``at``.

    Notes
    -----
    Cost: the index (seconds at 100k dossiers), then a few milliseconds per
    flagged dossier for its subgraph; cases are
    written :data:`CHUNK` per transaction, so reviewers keep working during
    a load. One ``cases_load`` audit entry records the counts.
    """
    started = time.perf_counter()
    if at not in ("review", "submission"):
        raise UsageError(f"at must be review or submission (got {at!r})")
    needed = [*_NEEDED, *[f"p_{c}" for c in PROXY_TYPES], REASON_LIST]
    missing = [c for c in needed if c not in scored.columns]
    if missing:
        raise UsageError(
            f"scores: expected the details columns of score_dataset, missing {', '.join(missing)}"
        )
    if not 0 <= explore_share < 1:
        raise UsageError(f"explore share must be from 0 to below 1 (got {explore_share})")
    threshold, model_version = _scored_by(model_dir, at)
    summary = LoadSummary(scored=len(scored))
    seed = int(secrets.randbits(32)) if seed is None else seed
    queued = _queue_order(store, scored, threshold, explore_share,
                          np.random.default_rng(seed))  # fmt: skip
    summary.explored = int((queued["chosen_by"] == "exploration").sum())
    summary.flagged = len(queued) - summary.explored
    if index is None:
        _say(progress, "entity index")
        index = EntityIndex.from_dataset(ds)
    fields = _dossier_fields(ds, pd.Index(queued["dossier_id"].astype(str)))
    pseudonymise = evidence_pseudonymiser(secret)
    for start in range(0, len(queued), CHUNK):  # in the queue's order: ids break equal priorities
        chunk = queued.iloc[start : start + CHUNK]
        rows = _case_rows(
            chunk, fields, index,
            at=at, pseudonymise=pseudonymise, model_version=model_version,
        )  # fmt: skip
        with store.session() as s:
            _write_cases(s, rows, summary)
        _say(progress, f"cases {min(start + CHUNK, len(queued)):,}/{len(queued):,}")
    _say(progress, "cases by actor")
    summary.actors = _group_by_actor(store, ds, queued, pseudonymise)
    _say(progress, "unit and officer months")
    unit_rows, officer_rows = _report_rows(ds, scored)
    summary.unit_months, summary.officer_months = len(unit_rows), len(officer_rows)
    summary.seconds = round(time.perf_counter() - started, 3)
    with store.session() as s:
        refresh_statistics(s)
        upsert(s, UnitMonth, unit_rows)
        upsert(s, OfficerMonth, officer_rows)
        audit.record(
            s,
            None,
            "cases_load",
            username="detector score --to-db",
            detail={
                "source": "batch",
                "at": at,
                "model_version": model_version,
                "explore_share": explore_share,
                "explore_seed": seed,
                **summary.as_dict(),
            },
        )
    log.info(
        "cases loaded: %d flagged, %d drawn to explore, %d new, %d refreshed, %d reviewed kept",
        summary.flagged, summary.explored, summary.created, summary.refreshed,
        summary.kept_reviewed,
    )  # fmt: skip
    return summary
