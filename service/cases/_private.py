"""Errors and helpers shared by the case store's modules.

The errors are public through :mod:`service.cases.queue`; the rest is not part of the API.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from features.contract import LOCAL_TZ
from service.cases.models import Case

#: the dossier fields that are personal data: masked in every answer unless revealed
PERSONAL_FIELDS: tuple[str, ...] = (
    "owner_id",
    "owner_name",
    "contact_phone",
    "contact_email",
    "holder_id",
    "payer_token",
)
_LOCAL = ZoneInfo(LOCAL_TZ)
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class CaseError(Exception):
    """Base class of the case store's expected failures."""


class CaseNotFound(CaseError):
    """No case (or unit) with this id."""


class CaseForbidden(CaseError):
    """The user's role may not do this."""


class CaseInputError(CaseError):
    """A value the caller sent is unusable; ``field`` names it, ``message`` says what was expected."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def get_case(s: Session, case_id: int) -> Case:
    """The case with this id.

    Raises
    ------
    CaseNotFound
        When there is none.
    """
    case = s.get(Case, case_id)
    if case is None:
        raise CaseNotFound(f"no case with id {case_id}")
    return case


def aware(value: datetime) -> datetime:
    """A stored timestamp as an aware datetime; SQLite hands back naive UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 on the contract's local clock (``+07:00``), or None."""
    return None if value is None else aware(value).astimezone(_LOCAL).isoformat()


def to_utc(value: datetime | None) -> datetime | None:
    """An aware timestamp in UTC for storage (SQLite keeps no offset: store UTC everywhere)."""
    return None if value is None else aware(value).astimezone(UTC)


def pseudonymiser(secret: bytes) -> Callable[[str], str]:
    """Keyed HMAC-SHA256 of a personal value, first 12 hex characters.

    The same value gives the same pseudonym under the same secret, so a
    reviewer still sees that two cases share a phone, but nobody without the
    secret can recover or test a guessed citizen ID.
    """
    if not secret:
        raise ValueError("the pseudonymisation secret must not be empty")

    def pseudonymise(value: str) -> str:
        return hmac.new(secret, str(value).encode(), hashlib.sha256).hexdigest()[:12]

    return pseudonymise


def reason_codes(reasons: Any) -> list[str]:
    """The codes of a stored reasons list (tolerates an empty or malformed value)."""
    if not isinstance(reasons, list):
        return []
    return [str(r.get("code", "")) for r in reasons if isinstance(r, dict)]


def json_safe(value: Any) -> Any:
    """A value fit for a JSON column: NaN/NaT/inf as None, NumPy as Python, times as ISO."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str | int | bool):
        return value
    return None if pd.isna(value) else str(value)
