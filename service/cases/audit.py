"""The audit log: who did what, when, from where; append-only.

Every case view, reveal, verdict, assignment, export, login and logout, and
every change to a user (``detector user ...``), goes here (the database refuses UPDATE and DELETE on the table). ``detail`` must
never carry a citizen ID, name or phone: a reveal records the field, not
the value.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.cases._private import iso
from service.cases.models import AuditEntry
from service.cases.security import Who

#: the actions recorded; anything else is a programming error
ACTIONS: tuple[str, ...] = (
    "login",
    "login_failed",
    "logout",
    "queue_view",
    "case_view",
    "reveal",
    "verdict",
    "actor_view",
    "actor_verdict",
    "assign",
    "export",
    "dashboard_view",
    "audit_view",
    "user_create",
    "user_disable",
    "user_enable",
    "user_password_reset",
    "cases_load",
)


def record(
    s: Session,
    who: Who | None,
    action: str,
    *,
    case_id: int | None = None,
    detail: dict[str, Any] | None = None,
    ip: str = "",
    username: str = "",
) -> None:
    """Append one entry (in the caller's transaction, so it commits with the change)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; expected one of {ACTIONS}")
    s.add(
        AuditEntry(
            user_id=who.id if who else None,
            username=who.username if who else username[:64],
            role=who.role if who else "",
            action=action,
            case_id=case_id,
            detail=detail or {},
            ip=ip[:64],
        )
    )


def entries(
    s: Session,
    *,
    action: str | None = None,
    case_id: int | None = None,
    username: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest first, filtered; ``before_id`` pages back through older entries."""
    q = sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        q = q.where(AuditEntry.action == action)
    if case_id is not None:
        q = q.where(AuditEntry.case_id == case_id)
    if username:
        q = q.where(AuditEntry.username == username)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    return list(s.scalars(q))


def as_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry as the review API answers it.

    ``at`` goes through the same :func:`service.cases._private.iso` as every
    other moment the API answers: ISO 8601 on the contract's local clock,
    with its offset (``+07:00``). SQLite hands the stored UTC back without
    one, which the reader would take for their own clock.
    """
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "username": entry.username,
        "role": entry.role,
        "action": entry.action,
        "case_id": entry.case_id,
        "detail": entry.detail,
        "ip": entry.ip,
    }
