"""The case store's tables (SQLAlchemy 2 declarative); Alembic migrations create them.

One row per flagged dossier (``cases``), with what the scorer said (score,
predicted type, reasons with their evidence, data gaps), the dossier's own
fields and the evidence subgraph; the team's verdicts and assignments; the
users and their web sessions; the unit × month and officer × month figures of
the dashboard; and an append-only audit log (the database refuses UPDATE and
DELETE on it, see the first migration).

Personal data (citizen IDs, phones) lives only in ``cases.dossier``; pages and
API answers mask it unless the reader's role needs it and asks, which is
itself audited. The evidence graph is stored already pseudonymised.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: roles of workbench users, least to most privileged
USER_ROLES: tuple[str, ...] = ("viewer", "reviewer", "admin")
#: where a case stands: no verdict yet, or its latest verdict's decision
CASE_STATUSES: tuple[str, ...] = ("open", "needs_info", "misuse", "legitimate")
#: what a verdict may decide, and the proxy types each decision admits
DECISION_TYPES: dict[str, tuple[str, ...]] = {
    "misuse": ("identity_misuse", "officer_proxy"),
    "legitimate": ("self", "family", "authorized", "assisted"),
    "needs_info": (),
}
#: who an actor case is about (detector.actors.ACTOR_KINDS; ``dossier``: a case of one dossier)
ACTOR_KINDS: tuple[str, ...] = (
    "account", "device", "phone", "payment_token", "officer", "unit_month", "dossier",
)  # fmt: skip
#: where a case came from
CASE_SOURCES: tuple[str, ...] = ("batch", "api")
#: why a case is in the queue: flagged (its risk put it there), or drawn to teach the model
#: (an unflagged dossier drawn at random with a known chance, see detector.explore)
CHOSEN_BY: tuple[str, ...] = ("queue", "exploration")


def _risk_as_priority(ctx: Any) -> float:
    """A new case's default queue priority: its risk (exploration cases are given theirs)."""
    return float(ctx.get_current_parameters()["risk_score"])


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: sa.JSON, list[Any]: sa.JSON}  # noqa: RUF012


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(128), default="")
    role: Mapped[str] = mapped_column(sa.String(16))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (sa.CheckConstraint(f"role IN {USER_ROLES!r}", name="ck_users_role"),)


class WebSession(Base):
    """A logged-in browser or API client; only the SHA-256 of its token is kept."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dossier_id: Mapped[str] = mapped_column(sa.String(128), unique=True)
    unit_id: Mapped[str] = mapped_column(sa.String(64), default="")
    month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM of submitted_at, local time
    submitted_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    channel: Mapped[str] = mapped_column(sa.String(16), default="")
    risk_score: Mapped[float]
    proxy_type: Mapped[str] = mapped_column(sa.String(32))  # predicted
    #: [{"code", "vi", "en", "evidence": {feature: value}}], most important first
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    data_gaps: Mapped[list[Any]] = mapped_column(default=list)
    probabilities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: the dossier's fields as the data folder holds them (personal: served masked)
    dossier: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: {"graph": features.to_json(...) (pseudonymised), "related": [...]} or None
    evidence: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
    source: Mapped[str] = mapped_column(sa.String(8))  # batch | api
    scored_at: Mapped[str] = mapped_column(sa.String(16))  # review | submission
    model_version: Mapped[str] = mapped_column(sa.String(64), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    verdict_type: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    assignee_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    #: queue (flagged) or exploration (drawn below the threshold to teach the model); 0004
    chosen_by: Mapped[str] = mapped_column(sa.String(16), default="queue", server_default="queue")
    #: the chance the case had of being drawn: 1 for flagged cases; a verdict counts 1/propensity
    propensity: Mapped[float] = mapped_column(default=1.0, server_default="1")
    #: the queue's order, highest first then id: the risk, or for an exploration case the
    #: risk of the flagged case it follows (detector.explore.interleave)
    priority: Mapped[float] = mapped_column(default=_risk_as_priority)
    #: the actor case this dossier is reviewed in (0005); None for an exploration case
    actor_id: Mapped[int | None] = mapped_column(sa.Integer, default=None, index=True)

    __table_args__ = (
        sa.CheckConstraint(f"status IN {CASE_STATUSES!r}", name="ck_cases_status"),
        sa.CheckConstraint(f"source IN {CASE_SOURCES!r}", name="ck_cases_source"),
        sa.CheckConstraint(f"chosen_by IN {CHOSEN_BY!r}", name="ck_cases_chosen_by"),
        sa.CheckConstraint("propensity > 0 AND propensity <= 1", name="ck_cases_propensity"),
        sa.Index("ix_cases_priority", sa.text("priority DESC"), "id"),  # 0004
        sa.Index("ix_cases_status_priority", "status", sa.text("priority DESC"), "id"),  # 0004
        sa.Index("ix_cases_status_score", "status", sa.text("risk_score DESC")),
        sa.Index("ix_cases_score", sa.text("risk_score DESC")),
        sa.Index("ix_cases_unit_month_status", "unit_id", "month", "status"),  # 0003
        sa.Index("ix_cases_month", "month"),
        sa.Index("ix_cases_type", "proxy_type"),
        sa.Index("ix_cases_assignee", "assignee_id"),
        # migration 0002: a score-ordered index per filter, one wide index for counts,
        # and the other sort orders (see the migration for why)
        sa.Index("ix_cases_unit_score", "unit_id", sa.text("risk_score DESC")),
        sa.Index("ix_cases_month_score", "month", sa.text("risk_score DESC")),
        sa.Index("ix_cases_type_score", "proxy_type", sa.text("risk_score DESC")),
        sa.Index("ix_cases_assignee_score", "assignee_id", sa.text("risk_score DESC")),
        sa.Index(
            "ix_cases_filters",
            "status",
            "unit_id",
            "month",
            "proxy_type",
            "assignee_id",
            "risk_score",
        ),
        sa.Index("ix_cases_submitted", "submitted_at"),
        sa.Index("ix_cases_updated", "updated_at"),
    )


class Actor(Base):
    """A case around an actor (account, device, phone, payment token, officer, unit x month),
    or around one dossier that fits none; its dossiers' cases point here (``cases.actor_id``).

    ``key`` is :func:`detector.actors.actor_cases`' case key (pseudonymised, the
    evidence graphs' node name); ``label`` the actor's value masked. The
    aggregates are recomputed from the dossier cases whenever one joins, leaves
    or gets a verdict (:func:`service.cases.actors.refresh_actors`).
    """

    __tablename__ = "actors"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    #: the unit most of its dossiers went to
    unit_id: Mapped[str] = mapped_column(sa.String(64), default="")
    n_dossiers: Mapped[int] = mapped_column(default=0)
    n_owners: Mapped[int] = mapped_column(default=0)
    n_months: Mapped[int] = mapped_column(default=0)
    n_units: Mapped[int] = mapped_column(default=0)
    #: dossiers without a verdict, the sum of their misuse probabilities and of p(1-p)
    n_open: Mapped[int] = mapped_column(default=0)
    expected_misuse: Mapped[float] = mapped_column(default=0.0)
    uncertainty: Mapped[float] = mapped_column(default=0.0)
    #: detector.actors.rank_cases' priority (0 once every dossier has a verdict)
    priority: Mapped[float] = mapped_column(default=0.0)
    max_risk: Mapped[float] = mapped_column(default=0.0)
    main_type: Mapped[str] = mapped_column(sa.String(32), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    verdict_type: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    assignee_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        sa.CheckConstraint(f"status IN {CASE_STATUSES!r}", name="ck_actors_status"),
        sa.CheckConstraint(f"kind IN {ACTOR_KINDS!r}", name="ck_actors_kind"),
        sa.Index("ix_actors_status_priority", "status", sa.text("priority DESC"), "id"),
        sa.Index("ix_actors_priority", sa.text("priority DESC"), "id"),
        sa.Index("ix_actors_kind", "kind"),
    )


class Verdict(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(sa.String(16))
    proxy_type: Mapped[str | None] = mapped_column(sa.String(32), default=None)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(
            "decision IN ('misuse', 'legitimate', 'needs_info')", name="ck_verdicts_decision"
        ),
    )


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: unassigned
    assigned_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class UnitMonth(Base):
    """One row of ``detector report``: claimed vs estimated genuine online share."""

    __tablename__ = "unit_months"

    unit_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    dossiers: Mapped[int]
    claimed_online_share: Mapped[float]
    estimated_genuine_online_share: Mapped[float]
    suspected_officer_proxy: Mapped[float]
    flagged_officer_proxy: Mapped[int] = mapped_column(default=0)


class OfficerMonth(Base):
    """Suspected officer proxies by accepting officer, unit and month."""

    __tablename__ = "officer_months"

    staff_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    unit_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    dossiers_accepted: Mapped[int]
    suspected_officer_proxy: Mapped[float]
    flagged_officer_proxy: Mapped[int] = mapped_column(default=0)


class AuditEntry(Base):
    """Who did what and when; append-only (UPDATE and DELETE are refused by the database).

    ``detail`` never holds a citizen ID, name or phone: a reveal records which
    field was revealed, not its value.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), default=None)
    username: Mapped[str] = mapped_column(sa.String(64), default="")
    role: Mapped[str] = mapped_column(sa.String(16), default="")
    action: Mapped[str] = mapped_column(sa.String(32), index=True)
    case_id: Mapped[int | None] = mapped_column(default=None, index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
