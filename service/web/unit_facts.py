"""Units by their names: what the stored evidence graphs know of each receiving unit.

The case store keeps unit ids; the names and online targets are in the data
contract's ``units`` table, which the batch load draws into every case's
evidence graph as the unit's node (label = name, ``online_target``). The pages
read them from there, one graph per unit, and keep them for a few minutes:
units are renamed, and targets changed, far more rarely than pages are drawn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.orm import Session

from service.cases.models import Case

#: seconds the names are kept before they are read again
TTL = 300.0


@dataclass(frozen=True)
class UnitFacts:
    """A unit's name and online target (a share in 0..1), each None when the data has none."""

    name: str | None
    online_target: float | None


def unit_facts(request: Request, s: Session) -> dict[str, UnitFacts]:
    """Every unit with cases: its name and target, read at most every :data:`TTL` seconds."""
    cached = getattr(request.app.state, "unit_facts", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < TTL:
        return dict(cached[1])
    facts = read_unit_facts(s)
    request.app.state.unit_facts = (now, facts)
    return dict(facts)


def read_unit_facts(s: Session) -> dict[str, UnitFacts]:
    """Each unit's facts from the evidence graph of its latest case.

    Notes
    -----
    One grouped scan of an indexed column, then one evidence document per
    unit (a province has tens to a few hundred units), never one per case.
    """
    latest = s.execute(sa.select(sa.func.max(Case.id)).group_by(Case.unit_id)).scalars().all()
    out: dict[str, UnitFacts] = {}
    rows = s.execute(sa.select(Case.unit_id, Case.evidence).where(Case.id.in_(latest)))
    for unit_id, evidence in rows:
        node = _unit_node(evidence, str(unit_id))
        if node is None:
            continue
        name = node.get("label")
        target = node.get("online_target")
        out[str(unit_id)] = UnitFacts(
            str(name) if name and str(name) != str(unit_id) else None,
            float(target) if isinstance(target, int | float) and 0 <= target <= 1 else None,
        )
    return out


def _unit_node(evidence: Any, unit_id: str) -> dict[str, Any] | None:
    graph = evidence.get("graph") if isinstance(evidence, dict) else None
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    for node in nodes or []:
        is_unit = isinstance(node, dict) and node.get("type") == "unit"
        if is_unit and str(node.get("id", "")).partition(":")[2] == unit_id:
            return node  # type: ignore[no-any-return]
    return None
