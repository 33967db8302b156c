"""Verdicts and assignments: the review team's decisions on a case.

The caller owns the transaction and records the audit entry in it (see
:mod:`service.cases.queue`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.cases._private import CaseForbidden, CaseInputError, get_case, iso
from service.cases.models import DECISION_TYPES, Assignment, User, Verdict, utcnow
from service.cases.security import Who

__all__ = ["MAX_NOTE", "assign", "check_verdict", "record_verdict", "verdict_dict"]

MAX_NOTE = 2000


def verdict_dict(v: Verdict, username: str) -> dict[str, Any]:
    """A verdict as answers show it (``username`` is its author's)."""
    return {
        "id": v.id,
        "case_id": v.case_id,
        "decision": v.decision,
        "proxy_type": v.proxy_type,
        "note": v.note,
        "username": username,
        "created_at": iso(v.created_at),
    }


def check_verdict(decision: str, proxy_type: str | None, note: str = "") -> str | None:
    """The verdict's type (None for none) once the decision, type and note are usable.

    Raises
    ------
    CaseInputError
        An unknown decision, a type the decision does not admit, a note over
        :data:`MAX_NOTE` characters.
    """
    if decision not in DECISION_TYPES:
        raise CaseInputError(
            "decision", f"expected one of {', '.join(DECISION_TYPES)}, found {decision!r}"
        )
    admitted = DECISION_TYPES[decision]
    proxy_type = proxy_type or None
    if admitted and proxy_type not in admitted:
        raise CaseInputError(
            "proxy_type",
            f"a {decision} verdict expects one of {', '.join(admitted)}, found {proxy_type!r}",
        )
    if not admitted and proxy_type is not None:
        raise CaseInputError(
            "proxy_type", f"a {decision} verdict expects no type, found {proxy_type!r}"
        )
    if len(note or "") > MAX_NOTE:
        raise CaseInputError(
            "note", f"expected at most {MAX_NOTE} characters, found {len(note or '')}"
        )
    return proxy_type


def record_verdict(
    s: Session,
    case_id: int,
    who: Who,
    decision: str,
    proxy_type: str | None,
    note: str = "",
    *,
    refresh_actor: bool = True,
) -> dict[str, Any]:
    """Record a verdict; the case's status and verdict type become the verdict's.

    The case's actor case is refreshed (its open dossiers and priority) unless
    ``refresh_actor`` is false (an actor verdict refreshes it once at the end).

    ``misuse`` takes ``identity_misuse`` or ``officer_proxy``; ``legitimate``
    takes ``self``, ``family``, ``authorized`` or ``assisted``; ``needs_info``
    takes no type. Any status may follow any other: the latest verdict is the
    case's standing, and the earlier ones stay in its history.

    Returns
    -------
    dict
        The verdict: ``id``, ``case_id``, ``decision``, ``proxy_type``, ``note``,
        ``username``, ``created_at``.

    Raises
    ------
    CaseForbidden
        ``who`` may not write (a viewer).
    CaseInputError
        An unknown decision, a type the decision does not admit, a note over
        2000 characters.
    CaseNotFound
        No case with this id.
    """
    if not who.may("write"):
        raise CaseForbidden(f"role {who.role!r} may not record verdicts")
    proxy_type = check_verdict(decision, proxy_type, note)
    note = note or ""
    case = get_case(s, case_id)
    verdict = Verdict(
        case_id=case.id, user_id=who.id, decision=decision, proxy_type=proxy_type, note=note
    )
    s.add(verdict)
    case.status = decision
    case.verdict_type = proxy_type
    case.updated_at = utcnow()
    s.flush()
    if refresh_actor and case.actor_id is not None:
        from service.cases.actors import refresh_actors  # actors builds on this module

        refresh_actors(s, [case.actor_id])
    return verdict_dict(verdict, who.username)


def assign(s: Session, case_id: int, who: Who, assignee: str | None) -> dict[str, Any]:
    """Give a case to a reviewer or admin (``None`` takes it back); kept in its history.

    Returns
    -------
    dict
        ``case_id``, ``assignee`` (username or None), ``assigned_by``, ``created_at``.

    Raises
    ------
    CaseForbidden
        ``who`` may not write.
    CaseInputError
        ``assignee`` is not an active user who may write verdicts.
    CaseNotFound
        No case with this id.
    """
    if not who.may("write"):
        raise CaseForbidden(f"role {who.role!r} may not assign cases")
    user_id = None
    if assignee is not None:
        user = s.scalar(sa.select(User).where(User.username == assignee))
        if user is None or not user.active:
            raise CaseInputError("assignee", f"expected an active username, found {assignee!r}")
        if user.role == "viewer":
            raise CaseInputError(
                "assignee", f"expected a reviewer or admin, found viewer {assignee!r}"
            )
        user_id = user.id
    case = get_case(s, case_id)
    row = Assignment(case_id=case.id, assignee_id=user_id, assigned_by_id=who.id)
    s.add(row)
    case.assignee_id = user_id
    case.updated_at = utcnow()
    s.flush()
    return {
        "case_id": case.id,
        "assignee": assignee,
        "assigned_by": who.username,
        "created_at": iso(row.created_at),
    }
