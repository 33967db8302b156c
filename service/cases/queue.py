"""The review queue, one case, verdicts, assignments and the unit dashboard.

Every function takes a session the caller owns (``with store.session() as
s:``), so a route records its audit entry in the same transaction as the
change or the view it audits. Nothing here logs or returns a personal value
in clear except :func:`case_detail` for the fields the caller asked to reveal
(the route checks the role and audits each reveal).

Errors are :class:`CaseError` subclasses: :class:`CaseNotFound` (HTTP 404),
:class:`CaseInputError` naming the field (422), :class:`CaseForbidden` (403).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from features.contract import PROXY_TYPES
from features.ids import mask_value
from service.cases._private import (
    MONTH,
    PERSONAL_FIELDS,
    VIEWER_MASKED_FIELDS,
    CaseError,
    CaseForbidden,
    CaseInputError,
    CaseNotFound,
    get_case,
    iso,
    reason_codes,
    viewer_graph,
)
from service.cases.dashboard import unit_dashboard, units
from service.cases.models import CASE_STATUSES, Actor, Assignment, Case, User, Verdict
from service.cases.review import assign, record_verdict, verdict_dict

__all__ = [
    "PERSONAL_FIELDS",
    "SORT_KEYS",
    "CaseError",
    "CaseForbidden",
    "CaseInputError",
    "CaseNotFound",
    "QueueFilter",
    "QueuePage",
    "assign",
    "case_detail",
    "export_rows",
    "masked_dossier",
    "queue",
    "record_verdict",
    "unit_dashboard",
    "units",
]

#: the queue's sort keys (prefix ``-`` for descending)
SORT_KEYS: dict[str, Any] = {
    "priority": Case.priority,
    "risk_score": Case.risk_score,
    "submitted_at": Case.submitted_at,
    "unit_id": Case.unit_id,
    "month": Case.month,
    "updated_at": Case.updated_at,
}
MAX_PER_PAGE = 200
#: the last page anyone may ask for (a million pages of the smallest size: far past any queue)
MAX_PAGE = 1_000_000


@dataclass
class QueueFilter:
    """Which cases the queue shows, in which order, which page.

    ``assignee`` is a username, or ``"none"`` for unassigned cases; ``sort``
    one of :data:`SORT_KEYS`, prefixed with ``-`` for descending. The default,
    ``-priority``, is the queue's own order: the risk, with the exploration
    cases spread evenly through it (:mod:`detector.explore`).
    """

    unit_id: str | None = None
    month: str | None = None
    proxy_type: str | None = None
    status: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    assignee: str | None = None
    sort: str = "-priority"
    page: int = 1
    per_page: int = 50

    def validate(self) -> None:
        """Check every field.

        Raises
        ------
        CaseInputError
            Naming the first unusable field and what was expected.
        """
        if self.unit_id is not None and not 0 < len(self.unit_id) <= 64:
            raise CaseInputError("unit_id", f"expected 1-64 characters, found {self.unit_id!r}")
        if self.month is not None and not MONTH.fullmatch(self.month):
            raise CaseInputError("month", f"expected YYYY-MM, found {self.month!r}")
        if self.proxy_type is not None and self.proxy_type not in PROXY_TYPES:
            raise CaseInputError(
                "proxy_type", f"expected one of {', '.join(PROXY_TYPES)}, found {self.proxy_type!r}"
            )
        if self.status is not None and self.status not in CASE_STATUSES:
            raise CaseInputError(
                "status", f"expected one of {', '.join(CASE_STATUSES)}, found {self.status!r}"
            )
        for name in ("min_score", "max_score"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise CaseInputError(name, f"expected a number between 0 and 1, found {value!r}")
        if (
            self.min_score is not None
            and self.max_score is not None
            and self.min_score > self.max_score
        ):
            raise CaseInputError(
                "max_score",
                f"expected at least min_score ({self.min_score}), found {self.max_score}",
            )
        if self.assignee is not None and not 0 < len(self.assignee) <= 64:
            raise CaseInputError(
                "assignee", f"expected a username or 'none', found {self.assignee!r}"
            )
        if self.sort.removeprefix("-") not in SORT_KEYS:
            raise CaseInputError(
                "sort",
                f"expected one of {', '.join(SORT_KEYS)} (prefix '-' for descending), "
                f"found {self.sort!r}",
            )
        if not 1 <= self.page <= MAX_PAGE:  # past it the offset overflows the database's integer
            raise CaseInputError("page", f"expected 1 to {MAX_PAGE:,}, found {self.page}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise CaseInputError("per_page", f"expected 1 to {MAX_PER_PAGE}, found {self.per_page}")


@dataclass
class QueuePage:
    """One page of the queue: the total number of matches and this page's items."""

    total: int
    page: int
    per_page: int
    items: list[dict[str, Any]] = field(default_factory=list)


#: the columns of a queue item (never the dossier's fields nor the evidence)
_ITEM_COLUMNS = (
    Case.id,
    Case.dossier_id,
    Case.unit_id,
    Case.month,
    Case.submitted_at,
    Case.channel,
    Case.risk_score,
    Case.proxy_type,
    Case.status,
    Case.verdict_type,
    User.username,
    Case.reasons,
    Case.data_gaps,
    Case.chosen_by,
)


def _where(f: QueueFilter) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = []
    if f.unit_id is not None:
        conds.append(Case.unit_id == f.unit_id)
    if f.month is not None:
        conds.append(Case.month == f.month)
    if f.proxy_type is not None:
        conds.append(Case.proxy_type == f.proxy_type)
    if f.status is not None:
        conds.append(Case.status == f.status)
    if f.min_score is not None:
        conds.append(Case.risk_score >= f.min_score)
    if f.max_score is not None:
        conds.append(Case.risk_score <= f.max_score)
    if f.assignee == "none":
        conds.append(Case.assignee_id.is_(None))
    elif f.assignee is not None:
        user_id = sa.select(User.id).where(User.username == f.assignee).scalar_subquery()
        conds.append(Case.assignee_id == user_id)
    return conds


def _order(f: QueueFilter) -> list[sa.ColumnElement[Any]]:
    """The sort column, then the score (highest first) and the id, so pages never overlap.

    By priority the id alone breaks ties: a load writes its cases in the
    queue's order, so an exploration case follows the flagged case whose
    priority it took, even among equal risks.
    """
    key = f.sort.removeprefix("-")
    col = SORT_KEYS[key]
    first = col.desc() if f.sort.startswith("-") else col.asc()
    if key in ("risk_score", "priority"):
        return [first, Case.id.asc()]
    return [first, Case.risk_score.desc(), Case.id.asc()]


def _item(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "dossier_id": row.dossier_id,
        "unit_id": row.unit_id,
        "month": row.month,
        "submitted_at": iso(row.submitted_at),
        "channel": row.channel,
        "risk_score": float(row.risk_score),
        "proxy_type": row.proxy_type,
        "status": row.status,
        "verdict_type": row.verdict_type,
        "assignee": row.username,
        "reasons": reason_codes(row.reasons),
        "data_gaps": len(row.data_gaps or []),
        "chosen_by": row.chosen_by,
    }


def queue(s: Session, f: QueueFilter) -> QueuePage:
    """One page of the cases matching ``f``, in its order.

    Raises
    ------
    CaseInputError
        When ``f`` does not validate.

    Notes
    -----
    Two steps: the page's ids first (``ORDER BY priority DESC, id LIMIT``
    walks ``ix_cases_priority`` or ``ix_cases_status_priority``, by risk
    ``ix_cases_score`` or a filter's score index, and stops after a
    page, never touching the large JSON columns), then those rows' item
    columns. The count uses the same filters on the indexes. Deep pages cost
    an OFFSET scan, which is fine for a queue read from the top.
    """
    f.validate()
    conds = _where(f)
    total = int(s.scalar(sa.select(sa.func.count(Case.id)).where(*conds)) or 0)
    ids = list(
        s.scalars(
            sa.select(Case.id)
            .where(*conds)
            .order_by(*_order(f))
            .limit(f.per_page)
            .offset((f.page - 1) * f.per_page)
        )
    )
    if not ids:
        return QueuePage(total, f.page, f.per_page, [])
    rows = s.execute(
        sa.select(*_ITEM_COLUMNS)
        .outerjoin(User, User.id == Case.assignee_id)
        .where(Case.id.in_(ids))
    ).all()
    by_id = {r.id: r for r in rows}
    return QueuePage(total, f.page, f.per_page, [_item(by_id[i]) for i in ids if i in by_id])


def export_rows(s: Session, f: QueueFilter) -> Iterator[dict[str, Any]]:
    """Every case matching ``f`` (page and per_page ignored), sorted, as queue items.

    The items hold no personal data (no dossier fields, no evidence), so an
    export can leave the workbench. Rows stream from the database in chunks
    of 1,000, so read them all before the session closes.

    Raises
    ------
    CaseInputError
        When ``f`` does not validate (checked before the first row).
    """
    f.validate()
    stmt = (
        sa.select(*_ITEM_COLUMNS)
        .outerjoin(User, User.id == Case.assignee_id)
        .where(*_where(f))
        .order_by(*_order(f))
        .execution_options(yield_per=1000)
    )

    def rows() -> Iterator[dict[str, Any]]:
        for row in s.execute(stmt):
            yield _item(row)

    return rows()


def _usernames(s: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = s.execute(sa.select(User.id, User.username).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


#: personal fields that a mask would still give away in part: shown as a fixed mark
_FULLY_MASKED = frozenset({"owner_name", "contact_email"})


def masked_dossier(
    dossier: dict[str, Any], reveal: Iterable[str] = (), *, viewer: bool = False
) -> dict[str, Any]:
    """The dossier's fields with every personal field masked except those in ``reveal``.

    A name or e-mail address shows as ``***`` (a kept letter or domain says too
    much); IDs, phones and tokens keep their last two characters. For a
    ``viewer`` the actors' IDs and the IP address are masked too.
    """
    shown = set(reveal)
    masked = set(PERSONAL_FIELDS) - shown
    if viewer:
        masked.update(VIEWER_MASKED_FIELDS)
    out = {}
    for k, v in dossier.items():
        if k not in masked or v is None:
            out[k] = v
        else:
            out[k] = "***" if k in _FULLY_MASKED else mask_value(v)
    return out


def case_detail(
    s: Session, case_id: int, *, reveal: Iterable[str] = (), viewer: bool = False
) -> dict[str, Any]:
    """Everything the case page shows; personal fields masked unless named in ``reveal``.

    Parameters
    ----------
    s
        A session.
    case_id
        The case.
    reveal
        Personal fields (of :data:`PERSONAL_FIELDS`) to show in clear; the
        caller checks that the role may reveal and audits each field.
    viewer
        The reader may not reveal (a viewer): the actors' IDs are masked in the
        dossier and the evidence graph too (:func:`viewer_graph`).

    Raises
    ------
    CaseInputError
        ``reveal`` names a field that is not a personal field.
    CaseNotFound
        No case with this id.
    """
    reveal = tuple(reveal)
    unknown = [r for r in reveal if r not in PERSONAL_FIELDS]
    if unknown:
        raise CaseInputError(
            "reveal", f"expected some of {', '.join(PERSONAL_FIELDS)}, found {unknown[0]!r}"
        )
    case = get_case(s, case_id)
    verdicts = list(
        s.scalars(sa.select(Verdict).where(Verdict.case_id == case_id).order_by(Verdict.id))
    )
    assignments = list(
        s.scalars(
            sa.select(Assignment).where(Assignment.case_id == case_id).order_by(Assignment.id)
        )
    )
    names = _usernames(
        s,
        [case.assignee_id]
        + [v.user_id for v in verdicts]
        + [a.assignee_id for a in assignments]
        + [a.assigned_by_id for a in assignments],
    )
    evidence = dict(case.evidence or {"graph": None, "related": []})
    related = [dict(r) for r in evidence.get("related") or []]
    if related:  # which related dossiers are cases now (they may have been loaded later)
        rows = s.execute(
            sa.select(Case.dossier_id, Case.id).where(
                Case.dossier_id.in_({str(r.get("dossier_id")) for r in related})
            )
        )
        found = {dossier_id: i for dossier_id, i in rows}
        for r in related:
            r["case_id"] = found.get(str(r.get("dossier_id")))
    evidence["related"] = related
    if viewer:
        evidence["graph"] = viewer_graph(evidence.get("graph"))
    actor = s.get(Actor, case.actor_id) if case.actor_id is not None else None
    return {
        "id": case.id,
        "dossier_id": case.dossier_id,
        "unit_id": case.unit_id,
        "month": case.month,
        "submitted_at": iso(case.submitted_at),
        "channel": case.channel,
        "risk_score": float(case.risk_score),
        "proxy_type": case.proxy_type,
        "status": case.status,
        "verdict_type": case.verdict_type,
        "assignee": names.get(case.assignee_id) if case.assignee_id is not None else None,
        "source": case.source,
        "scored_at": case.scored_at,
        "model_version": case.model_version,
        "chosen_by": case.chosen_by,
        "propensity": float(case.propensity),
        "actor": None
        if actor is None
        else {
            "id": actor.id,
            "kind": actor.kind,
            "label": actor.label,
            "n_dossiers": actor.n_dossiers,
            "status": actor.status,
        },
        "reasons": list(case.reasons or []),
        "data_gaps": list(case.data_gaps or []),
        "probabilities": dict(case.probabilities or {}),
        "dossier": masked_dossier(dict(case.dossier or {}), reveal, viewer=viewer),
        "evidence": evidence,
        "verdicts": [verdict_dict(v, names.get(v.user_id, "")) for v in verdicts],
        "assignments": [
            {
                "assignee": names.get(a.assignee_id) if a.assignee_id is not None else None,
                "assigned_by": names.get(a.assigned_by_id, ""),
                "created_at": iso(a.created_at),
            }
            for a in assignments
        ],
    }
