"""Errors and helpers shared by the case store's modules.

The errors are public through :mod:`service.cases.queue`; the rest is not part of the API.
"""

from __future__ import annotations

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
from features.ids import mask_value, pseudonymiser
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
#: what a viewer (who may not reveal) also sees masked: the actors' IDs and the addresses
#: the evidence names, which a reviewer needs to act on and a viewer does not
VIEWER_MASKED_FIELDS: tuple[str, ...] = ("account_id", "device_id", "ip", "received_by")
VIEWER_MASKED_NODES = frozenset({"account", "device", "ip", "staff"})
#: person attributes a viewer does not see: with a masked ID, a birth year narrows a guess
VIEWER_HIDDEN_ATTRS = frozenset({"birth_year", "death_date"})
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


def evidence_pseudonymiser(secret: bytes) -> Callable[[str], str]:
    """Pseudonyms of the evidence graphs: 12 hex characters, short enough to compare by eye.

    The key is the installation's secret (``Settings.secret()``), which no
    reader of the workbench holds, so a masked ID beside its pseudonym cannot
    be tested against guesses.
    """
    return pseudonymiser(secret, digest_size=6)


def viewer_graph(graph: dict[str, Any] | None) -> dict[str, Any] | None:
    """An evidence graph as a viewer may see it (least access, Decree 13/2023).

    Accounts, devices, IP addresses and officers get numbered ids
    (``account:1``) and masked labels, everywhere they appear (nodes, edges,
    attributes); a person's birth year and death date go, and a death shows
    only as ``deceased: true``. The shape of the graph, what the reasons point
    at and the pseudonyms of people, phones and payment tokens stay, so a
    viewer still sees that two dossiers share an account.
    """
    if not graph:
        return graph
    swap: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for node in graph.get("nodes", []):
        kind = node.get("type")
        if kind in VIEWER_MASKED_NODES:
            numbers[kind] = numbers.get(kind, 0) + 1
            node_id = str(node.get("id"))
            swap[node_id] = f"{kind}:{numbers[kind]}"
            raw = node_id.partition(":")[2]
            if raw:
                swap[raw] = mask_value(raw) or ""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return swap.get(value, value)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    nodes = []
    for node in graph.get("nodes", []):
        out = {k: clean(v) for k, v in node.items() if k not in VIEWER_HIDDEN_ATTRS}
        if node.get("type") in VIEWER_MASKED_NODES:
            out["label"] = mask_value(node.get("label")) or ""
        if node.get("death_date"):
            out["deceased"] = True
        nodes.append(out)
    return {
        **{k: clean(v) for k, v in graph.items() if k not in ("nodes", "edges")},
        "nodes": nodes,
        "edges": [clean(e) for e in graph.get("edges", [])],
    }


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
