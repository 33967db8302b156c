"""Cases by actor: review a broker's account, a device, an officer or a unit-month once.

A batch load groups its flagged dossiers with :func:`detector.actors.actor_cases`
and :func:`place_in_actors` writes the grouping: one ``actors`` row per case
key, each dossier case pointing at its actor (``cases.actor_id``). The scoring
API's flags join the open actor of their first matching key
(:func:`join_actor`). An actor's aggregates are recomputed from its dossier
cases by :func:`refresh_actors` whenever one joins, leaves or gets a verdict;
its priority is :func:`detector.actors.rank_cases`' (expected misuse of the
dossiers not yet reviewed, plus a quarter of what a verdict would teach).

A verdict on an actor (:func:`record_actor_verdict`) is one ordinary
:class:`~service.cases.models.Verdict` per dossier case, so
:func:`service.cases.labels.verdict_labels` gives one label per dossier; the
dossiers marked as exceptions get their own decision. Exploration cases have
no actor: they stay cases of their own, drawn to teach the model.

As in :mod:`service.cases.queue`, every function takes a session the caller owns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from detector.actors import candidate_keys, misuse_probability, rank_cases
from features.contract import MISUSE_TYPES, PROXY_TYPES
from service.cases._private import (
    CaseForbidden,
    CaseInputError,
    CaseNotFound,
    iso,
    viewer_graph,
)
from service.cases.models import ACTOR_KINDS, CASE_STATUSES, Actor, Case, User, utcnow
from service.cases.review import assign, check_verdict, record_verdict
from service.cases.security import Who

__all__ = [
    "ActorFilter",
    "actor_detail",
    "actor_queue",
    "assign_actor",
    "join_actor",
    "place_in_actors",
    "record_actor_verdict",
    "refresh_actors",
]

#: rank_cases' weight of what a verdict would teach
TEACH_WEIGHT = 0.25
#: the most exceptions one actor verdict may carry
MAX_EXCEPTIONS = 5000
_IN = 2000  # ids per IN (...) list
_TYPE_ORDER = tuple(dict.fromkeys((*MISUSE_TYPES, *PROXY_TYPES)))
_SEVERITY = ("misuse", "needs_info", "legitimate")


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _IN):
        yield values[start : start + _IN]


def _main(values: pd.Series) -> str:
    """The most frequent value, misuse types first on a tie."""
    counts = values.value_counts()
    if counts.empty:
        return ""
    top = counts[counts == counts.max()].index
    return str(min(top, key=lambda t: _TYPE_ORDER.index(t) if t in _TYPE_ORDER else 99))


def refresh_actors(s: Session, actor_ids: Iterable[int]) -> None:
    """Recompute the aggregates and status of these actors from their dossier cases.

    An actor left with no dossier is deleted. Status: ``open`` while a dossier
    has no verdict; once every one has, the actor's own verdict (when one was
    recorded) or the most serious of its dossiers' (misuse, needs_info,
    legitimate).
    """
    ids = sorted({int(i) for i in actor_ids})
    if not ids:
        return
    parts = []
    for part in _chunks(ids):
        rows = s.execute(
            sa.select(
                Case.actor_id, Case.dossier_id, Case.risk_score, Case.probabilities,
                Case.proxy_type, Case.status, Case.unit_id, Case.month,
                Case.dossier["owner_id"].as_string().label("owner_id"),
            ).where(Case.actor_id.in_(part))
        ).all()  # fmt: skip
        parts.append(pd.DataFrame(rows, columns=["actor_id", "dossier_id", "risk_score",
                                                 "probabilities", "proxy_type", "status",
                                                 "unit_id", "month", "owner_id"]))  # fmt: skip
    f = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    actors = {a.id: a for a in s.scalars(sa.select(Actor).where(Actor.id.in_(ids)))}
    if f.empty:
        for a in actors.values():
            s.delete(a)
        return
    probs = pd.DataFrame(list(f["probabilities"].map(lambda p: p or {})))
    for t in MISUSE_TYPES:
        f[f"p_{t}"] = probs[t].to_numpy(float) if t in probs else 0.0
    f["p_misuse"] = misuse_probability(f)
    f["case_key"] = f["actor_id"].astype(str)
    ranked = rank_cases(f, (f["status"] != "open").to_numpy(), teach_weight=TEACH_WEIGHT)
    ranked = ranked.set_index("case_key")
    owners = f["owner_id"].where(f["owner_id"].notna() & (f["owner_id"] != ""),
                                 "~" + f["dossier_id"].astype(str))  # fmt: skip
    f["owner"] = owners
    now = utcnow()
    for actor_id, g in f.groupby("actor_id"):
        found = actors.get(int(actor_id))
        if found is None:
            continue
        a = found
        r = ranked.loc[str(actor_id)] if str(actor_id) in ranked.index else None
        a.n_dossiers = len(g)
        a.n_owners = int(g["owner"].nunique())
        a.n_months = int(g["month"].replace("", np.nan).nunique())
        a.n_units = int(g["unit_id"].replace("", np.nan).nunique())
        a.unit_id = str(g["unit_id"].mode().iloc[0]) if len(g["unit_id"].mode()) else ""
        a.max_risk = float(g["risk_score"].max())
        a.main_type = _main(g["proxy_type"])
        a.n_open = int(r["n_open"]) if r is not None else 0
        a.expected_misuse = float(r["expected_misuse"]) if r is not None else 0.0
        a.uncertainty = float(r["uncertainty"]) if r is not None else 0.0
        a.priority = float(r["priority"]) if r is not None else 0.0
        if a.n_open:
            a.status, a.verdict_type = "open", None
        elif a.status == "open":  # every dossier reviewed one by one: the most serious
            done = set(g["status"])
            a.status = next((st for st in _SEVERITY if st in done), "legitimate")
        a.updated_at = now
    kept = set(f["actor_id"].astype(int))
    for actor_id, a in actors.items():
        if actor_id not in kept:  # no dossier left
            s.delete(a)


def _ensure_actors(s: Session, rows: Mapping[str, tuple[str, str]]) -> dict[str, int]:
    """The id of each key's actor, creating the missing ones (key -> (kind, label))."""
    keys = list(rows)
    found: dict[str, int] = {}
    for part in _chunks(keys):
        found.update(
            {k: i for k, i in s.execute(sa.select(Actor.key, Actor.id).where(Actor.key.in_(part)))}
        )
    missing = [k for k in keys if k not in found]
    if missing:
        now = utcnow()
        s.execute(
            sa.insert(Actor),
            [
                {"key": k, "kind": rows[k][0], "label": str(rows[k][1] or "")[:200],
                 "created_at": now, "updated_at": now}
                for k in missing
            ],
        )  # fmt: skip
        for part in _chunks(missing):
            found.update(
                {
                    k: i
                    for k, i in s.execute(sa.select(Actor.key, Actor.id).where(Actor.key.in_(part)))
                }
            )
    return found


def place_in_actors(s: Session, grouping: pd.DataFrame) -> dict[str, int]:
    """Put each dossier case in its actor case, as :func:`detector.actors.actor_cases` grouped them.

    Open cases (and cases with no actor yet) move to the grouping's actor; a
    reviewed case stays in the actor it was reviewed in. Every actor touched
    (joined or left) is refreshed; one left empty is deleted. Idempotent.

    Returns
    -------
    dict
        ``actors`` (distinct actors in the grouping), ``moved`` (cases whose
        actor changed), ``kept_reviewed`` (reviewed cases left where they were).
    """
    if grouping.empty:
        return {"actors": 0, "moved": 0, "kept_reviewed": 0}
    first = grouping.drop_duplicates("case_key")
    ids = _ensure_actors(s, dict(zip(first["case_key"], zip(first["actor_kind"],
                                                              first["actor_label"], strict=True),
                                     strict=True)))  # fmt: skip
    wanted = dict(
        zip(grouping["dossier_id"].astype(str), grouping["case_key"].map(ids), strict=True)
    )
    touched: set[int] = set()
    changes: list[dict[str, Any]] = []
    kept = 0
    for part in _chunks(list(wanted)):
        for case_id, dossier_id, status, actor_id in s.execute(
            sa.select(Case.id, Case.dossier_id, Case.status, Case.actor_id).where(
                Case.dossier_id.in_(part), Case.chosen_by == "queue"
            )
        ):
            target = int(wanted[dossier_id])
            if actor_id == target:
                touched.add(target)
                continue
            if status != "open" and actor_id is not None:
                kept += 1
                continue
            changes.append({"id": case_id, "actor_id": target})
            touched.update(x for x in (actor_id, target) if x is not None)
    if changes:
        s.execute(sa.update(Case), changes)
    refresh_actors(s, touched)
    return {"actors": len(ids), "moved": len(changes), "kept_reviewed": kept}


def join_actor(s: Session, case: Case, pseudonymise: Callable[[str], str]) -> int:
    """Put a new (API-flagged) case in the open actor of its first matching key, else its own.

    The keys are :func:`detector.actors.candidate_keys`, built as the batch
    builds them: the officer, then the unit x month for an officer proxy; then
    the resource actors, the one with most distinct owners first among those
    that match. The actor's aggregates are refreshed. Returns the actor's id.
    """
    keys = candidate_keys(case.dossier or {}, case.proxy_type, pseudonymise)
    found = {
        a.key: a
        for a in s.scalars(sa.select(Actor).where(Actor.key.in_(keys[:-1]), Actor.status == "open"))
    }
    chosen: Actor | None = None
    for k in keys[:-1]:  # the officer and unit-month keys come first: the first match wins
        if k in found and k.split(":", 1)[0] in ("officer", "unit_month"):
            chosen = found[k]
            break
    if chosen is None:
        resources = [found[k] for k in keys[:-1] if k in found]
        if resources:
            chosen = max(resources, key=lambda a: (a.n_owners, -keys.index(a.key)))
    if chosen is None:
        actor_id = _ensure_actors(s, {keys[-1]: ("dossier", case.dossier_id)})[keys[-1]]
    else:
        actor_id = chosen.id
    case.actor_id = actor_id
    s.flush()
    refresh_actors(s, [actor_id])
    return actor_id


# ----------------------------------------------------------------- the actor queue
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000


@dataclass
class ActorFilter:
    """Which actor cases the actor queue shows (highest priority first), which page.

    ``unit_id`` keeps the actors with at least one dossier at that unit.
    """

    status: str | None = None
    kind: str | None = None
    unit_id: str | None = None
    page: int = 1
    per_page: int = 50

    def validate(self) -> None:
        """Raises :class:`CaseInputError` naming the first unusable field."""
        if self.status is not None and self.status not in CASE_STATUSES:
            raise CaseInputError(
                "status", f"expected one of {', '.join(CASE_STATUSES)}, found {self.status!r}"
            )
        if self.kind is not None and self.kind not in ACTOR_KINDS:
            raise CaseInputError(
                "kind", f"expected one of {', '.join(ACTOR_KINDS)}, found {self.kind!r}"
            )
        if self.unit_id is not None and not 0 < len(self.unit_id) <= 64:
            raise CaseInputError("unit_id", f"expected 1-64 characters, found {self.unit_id!r}")
        if not 1 <= self.page <= MAX_PAGE:
            raise CaseInputError("page", f"expected 1 to {MAX_PAGE:,}, found {self.page}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise CaseInputError("per_page", f"expected 1 to {MAX_PER_PAGE}, found {self.per_page}")


def _actor_item(a: Actor, assignee: str | None) -> dict[str, Any]:
    return {
        "id": a.id,
        "key": a.key,
        "kind": a.kind,
        "label": a.label,
        "unit_id": a.unit_id,
        "n_dossiers": a.n_dossiers,
        "n_owners": a.n_owners,
        "n_months": a.n_months,
        "n_units": a.n_units,
        "n_open": a.n_open,
        "expected_misuse": float(a.expected_misuse),
        "uncertainty": float(a.uncertainty),
        "priority": float(a.priority),
        "max_risk": float(a.max_risk),
        "main_type": a.main_type,
        "status": a.status,
        "verdict_type": a.verdict_type,
        "assignee": assignee,
    }


def actor_queue(s: Session, f: ActorFilter) -> dict[str, Any]:
    """One page of actor cases, by priority (highest first), then id.

    Returns ``{"total", "page", "per_page", "items"}``.

    Raises
    ------
    CaseInputError
        When ``f`` does not validate.
    """
    f.validate()
    conds: list[sa.ColumnElement[bool]] = []
    if f.status is not None:
        conds.append(Actor.status == f.status)
    if f.kind is not None:
        conds.append(Actor.kind == f.kind)
    if f.unit_id is not None:
        conds.append(Actor.id.in_(sa.select(Case.actor_id).where(Case.unit_id == f.unit_id)))
    total = int(s.scalar(sa.select(sa.func.count(Actor.id)).where(*conds)) or 0)
    rows = s.execute(
        sa.select(Actor, User.username)
        .outerjoin(User, User.id == Actor.assignee_id)
        .where(*conds)
        .order_by(Actor.priority.desc(), Actor.id.asc())
        .limit(f.per_page)
        .offset((f.page - 1) * f.per_page)
    ).all()
    return {
        "total": total,
        "page": f.page,
        "per_page": f.per_page,
        "items": [_actor_item(a, name) for a, name in rows],
    }


def _get_actor(s: Session, actor_id: int) -> Actor:
    actor = s.get(Actor, actor_id)
    if actor is None:
        raise CaseNotFound(f"no actor case with id {actor_id}")
    return actor


def _union_graph(graphs: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The union of the dossiers' evidence graphs: nodes by id, edges by (source, target, type)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    meta: dict[str, Any] = {}
    for g in graphs:
        if not g:
            continue
        meta = meta or dict(g.get("graph") or {})
        for n in g.get("nodes", []):
            nodes.setdefault(str(n.get("id")), dict(n))
        for e in g.get("edges", []):
            k = (str(e.get("source")), str(e.get("target")), str(e.get("type")))
            if k in edges:
                edges[k]["suspicious"] = bool(edges[k].get("suspicious")) or bool(
                    e.get("suspicious")
                )
            else:
                edges[k] = dict(e)
    if not nodes:
        return None
    return {"directed": True, "multigraph": True, "graph": meta, "nodes": list(nodes.values()),
            "edges": list(edges.values())}  # fmt: skip


#: actor kind -> the type of its node in the evidence graphs (:data:`features.NODE_TYPES`)
_NODE_TYPE = {
    "account": "account", "device": "device", "phone": "phone", "payment_token": "payment",
    "officer": "staff", "unit_month": "unit", "dossier": "dossier",
}  # fmt: skip


def _focus(actor: Actor, graph: dict[str, Any] | None, dossier_ids: Iterable[str]) -> str:
    """The graph node the actor is: of its kind, linked to most of its dossiers (``""``: none).

    Found by the links, not by the key: an officer's node is named by its staff
    id, a person's by a pseudonym, and either way it is the one node of the
    kind that all the actor's dossiers point at.
    """
    if not graph:
        return ""
    if actor.kind == "dossier":
        return actor.key
    wanted = _NODE_TYPE.get(actor.kind, "")
    kinds = {str(n.get("id")): n.get("type") for n in graph.get("nodes", [])}
    mine = {f"dossier:{d}" for d in dossier_ids}
    links: dict[str, int] = {}
    for e in graph.get("edges", []):
        a, b = str(e.get("source")), str(e.get("target"))
        for one, other in ((a, b), (b, a)):
            if one in mine and kinds.get(other) == wanted:
                links[other] = links.get(other, 0) + 1
    return max(links, key=lambda n: (links[n], n)) if links else ""


#: how many dossiers' graphs an actor's graph unites (a broker's 169 would not be readable)
GRAPH_DOSSIERS = 8


def actor_detail(s: Session, actor_id: int, *, viewer: bool = False) -> dict[str, Any]:
    """Everything the actor page shows: the actor, its dossiers with their reasons, the graph.

    The graph is the union of the evidence graphs of its :data:`GRAPH_DOSSIERS`
    riskiest dossiers, focused on the actor's node; for a ``viewer`` the
    actors' ids are masked in it (:func:`viewer_graph`). No dossier field is
    returned beyond its id, unit, month and channel: personal values stay on
    the dossier's own case page, masked.

    Raises
    ------
    CaseNotFound
        No actor case with this id.
    """
    actor = _get_actor(s, actor_id)
    name = (
        s.scalar(sa.select(User.username).where(User.id == actor.assignee_id))
        if actor.assignee_id
        else None
    )
    cases = list(
        s.scalars(
            sa.select(Case)
            .where(Case.actor_id == actor_id)
            .order_by(Case.risk_score.desc(), Case.id.asc())
        )
    )
    dossiers = []
    for c in cases:
        p = c.probabilities or {}
        dossiers.append(
            {
                "case_id": c.id,
                "dossier_id": c.dossier_id,
                "unit_id": c.unit_id,
                "month": c.month,
                "submitted_at": iso(c.submitted_at),
                "channel": c.channel,
                "procedure_code": str((c.dossier or {}).get("procedure_code") or ""),
                "risk_score": float(c.risk_score),
                "p_misuse": float(sum(float(p.get(t) or 0.0) for t in MISUSE_TYPES)),
                "proxy_type": c.proxy_type,
                "status": c.status,
                "verdict_type": c.verdict_type,
                "source": c.source,
                "reasons": list(c.reasons or []),
                "data_gaps": list(c.data_gaps or []),
                "probabilities": dict(p),
            }
        )
    graph = _union_graph((c.evidence or {}).get("graph") for c in cases[:GRAPH_DOSSIERS])
    focus = _focus(actor, graph, (c.dossier_id for c in cases))
    if graph is not None:
        graph["graph"] = {**graph.get("graph", {}), "focus": focus}
    if viewer:
        graph = viewer_graph(graph)
    months = sorted({c.month for c in cases if c.month})
    units = sorted({c.unit_id for c in cases if c.unit_id})
    return {
        **_actor_item(actor, name),
        "months": months,
        "units": units,
        "dossiers": dossiers,
        "graph": graph,
        "graph_dossiers": min(len(cases), GRAPH_DOSSIERS),
    }


@dataclass
class ActorVerdict:
    """What one verdict on an actor recorded."""

    actor_id: int
    decision: str
    proxy_type: str | None
    applied: int = 0
    exceptions: int = 0
    verdicts: list[dict[str, Any]] = field(default_factory=list)


def record_actor_verdict(
    s: Session,
    actor_id: int,
    who: Who,
    decision: str,
    proxy_type: str | None,
    note: str = "",
    exceptions: Mapping[int, tuple[str, str | None]] | None = None,
) -> ActorVerdict:
    """One decision on an actor: a verdict on each of its open dossier cases, exceptions apart.

    Every open dossier case of the actor gets ``decision`` and ``proxy_type``;
    a case named in ``exceptions`` (case id -> (decision, type); any of the
    actor's cases, open or not) gets its own instead. Each is an ordinary
    :class:`Verdict` (checked by :func:`service.cases.review.record_verdict`),
    so each becomes one label. The actor's status becomes the decision once
    none of its dossiers is left open.

    Raises
    ------
    CaseForbidden
        ``who`` may not write.
    CaseInputError
        A decision or type a verdict refuses; an exception that is not one of
        the actor's cases; nothing left to decide (no open dossier and no exception).
    CaseNotFound
        No actor case with this id.
    """
    if not who.may("write"):
        raise CaseForbidden(f"role {who.role!r} may not record verdicts")
    exceptions = dict(exceptions or {})
    if len(exceptions) > MAX_EXCEPTIONS:
        raise CaseInputError(
            "exceptions", f"expected at most {MAX_EXCEPTIONS}, found {len(exceptions)}"
        )
    actor = _get_actor(s, actor_id)
    members = {
        i: st
        for i, st in s.execute(sa.select(Case.id, Case.status).where(Case.actor_id == actor_id))
    }
    strangers = sorted(set(exceptions) - set(members))
    if strangers:
        raise CaseInputError(
            "exceptions", f"expected cases of actor {actor_id}, found case {strangers[0]}"
        )
    targets = [i for i, st in sorted(members.items()) if st == "open" and i not in exceptions]
    if not targets and not exceptions:
        raise CaseInputError("decision", f"actor {actor_id} has no dossier left without a verdict")
    out = ActorVerdict(actor_id, decision, proxy_type or None)
    check_verdict(decision, proxy_type, note)  # even when only exceptions are left to apply
    for case_id in targets:
        out.verdicts.append(
            record_verdict(s, case_id, who, decision, proxy_type, note, refresh_actor=False)
        )
    for case_id, (d, t) in sorted(exceptions.items()):
        out.verdicts.append(record_verdict(s, case_id, who, d, t, note, refresh_actor=False))
    out.applied, out.exceptions = len(targets), len(exceptions)
    refresh_actors(s, [actor_id])  # updates ``actor`` in place (the same identity)
    if actor.n_open == 0:
        actor.status, actor.verdict_type = decision, proxy_type or None
    s.flush()
    return out


def assign_actor(s: Session, actor_id: int, who: Who, assignee: str | None) -> dict[str, Any]:
    """Give an actor case to a reviewer or admin (``None`` takes it back), with its open dossiers.

    Each open dossier case is assigned too (:func:`service.cases.review.assign`,
    so each keeps the change in its history), and the dossier queue's
    assignee filter finds them.

    Returns
    -------
    dict
        ``actor_id``, ``assignee``, ``assigned_by``, ``cases`` (dossier cases assigned).

    Raises
    ------
    CaseForbidden
        ``who`` may not write.
    CaseInputError
        ``assignee`` is not an active user who may write verdicts.
    CaseNotFound
        No actor case with this id.
    """
    if not who.may("write"):
        raise CaseForbidden(f"role {who.role!r} may not assign cases")
    actor = _get_actor(s, actor_id)
    open_cases = list(
        s.scalars(
            sa.select(Case.id)
            .where(Case.actor_id == actor_id, Case.status == "open")
            .order_by(Case.id)
        )
    )
    user_id = None
    if assignee is not None:
        user_id = s.scalar(sa.select(User.id).where(User.username == assignee))
    for case_id in open_cases:
        assign(s, case_id, who, assignee)  # checks the assignee (the first time)
    if assignee is not None and not open_cases:  # nothing to assign: check the name all the same
        user = s.scalar(sa.select(User).where(User.username == assignee))
        if user is None or not user.active or user.role == "viewer":
            raise CaseInputError(
                "assignee", f"expected an active reviewer or admin, found {assignee!r}"
            )
    actor.assignee_id = user_id
    actor.updated_at = utcnow()
    s.flush()
    return {"actor_id": actor_id, "assignee": assignee, "assigned_by": who.username,
            "cases": len(open_cases)}  # fmt: skip
