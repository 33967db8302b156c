"""Which links of an evidence subgraph the reasons point at, and the related dossiers.

Shared by the batch load, the scoring engine (the subgraph at submission, for
API cases) and the API feeder (a star for old log entries); not part of the
public API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import networkx as nx

from features import mark, to_json

#: an edge of a MultiDiGraph: (source, target, key or bare edge type)
Edge: TypeAlias = tuple[str, str, str]

#: at most this many other dossiers drawn per shared account, device, phone or payment token
#: (the nodes still carry the totals); 25 made graphs of 300 nodes, too many to read
MAX_RELATED = 10
#: the focus dossier's edge to each entity whose other dossiers are "related"
RELATED_EDGES: dict[str, str] = {
    "account": "submitted_through",
    "device": "used_device",
    "phone": "contact_phone",
    "payment": "paid_by",
}
#: which links a reason's feature points at, by feature name or prefix (first match wins)
FEATURE_LINKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accepted_by_holder", ("acceptance", "holder_is_staff")),
    ("accept", ("acceptance",)),
    ("holder_staff", ("account", "holder_is_staff")),
    ("claim_status", ("mandate",)),
    ("mandate_status", ("mandate",)),
    ("owner_at_desk_today", ("desk_visit",)),
    ("owner_", ("owner",)),
    ("days_since_owner_death", ("owner",)),
    ("acct_", ("account",)),
    ("holder_", ("account",)),
    ("is_self", ("account",)),
    ("declared_self_not_holder", ("account",)),
    ("same_household", ("account",)),
    ("relation_kind", ("account",)),
    ("related_2", ("account",)),
    ("legal_rep", ("account",)),
    ("payer_", ("payment",)),
    ("has_payer", ("payment",)),
    ("phone_", ("phone",)),
    ("has_contact_phone", ("phone",)),
    ("dev_", ("device",)),
    ("ip_", ("ip",)),
)


def _links_of(feature: str) -> tuple[str, ...]:
    for prefix, links in FEATURE_LINKS:
        if feature == prefix or feature.startswith(prefix):
            return links
    return ()


def suspicious_edges(graph: nx.MultiDiGraph, reasons: list[dict[str, Any]]) -> list[Edge]:
    """The edges of an evidence subgraph that a dossier's reasons point at.

    Each reason names features (a rule's evidence features, or the model's
    ``M.<feature>``); each feature points at the link it was computed from:

    - account and holder features (``acct_*``, ``holder_*``, ``is_self``,
      relation features): the dossier → account edge and the holder → account
      edge (who really filed it through whose account);
    - ``dev_*``, ``phone_*``, ``payer_*``, ``ip_*``: the dossier's edge to its
      device, phone, payment token or IP (shared with many owners, or with
      staff accounts), and the IP's office-network edge;
    - ``owner_*``, ``days_since_owner_death``: the owner → dossier edge (e.g.
      a deceased owner); ``owner_at_desk_today``: the owner's desk visits that
      day (the officer-proxy pattern);
    - ``claim_status``, ``mandate_status``: the claimed-mandate edge;
    - ``accept*`` (officer proxies): the accepting-staff edge, and with
      ``accepted_by_holder`` or ``holder_staff_*`` the staff → holder edge
      that shows the holder is an officer.

    Unit context (``unit_target_gap``, ``day_of_month``) points at no link,
    and ``M.pattern`` (no single feature stands out) marks nothing. Edges the
    subgraph left out are skipped by :func:`features.mark` with ``strict=False``.
    """
    focus, owner, holder = (graph.graph.get(k) for k in ("focus", "owner", "holder"))
    if focus is None:
        return []
    out_by_type: dict[str, list[str]] = {}
    for _, target, data in graph.out_edges(focus, data=True):
        out_by_type.setdefault(str(data.get("type")), []).append(target)
    wanted: set[str] = set()
    for reason in reasons:
        code = str(reason.get("code", ""))
        names = [k for k in (reason.get("evidence") or {}) if k != "typical"]
        if code.startswith("M.") and code != "M.pattern":
            names.append(code[2:])
        for name in names:
            wanted.update(_links_of(name))
    edges: list[Edge] = []

    def from_focus(edge_type: str) -> list[str]:
        targets = out_by_type.get(edge_type, [])
        edges.extend((focus, t, edge_type) for t in targets)
        return targets

    if "account" in wanted:
        for account in from_focus("submitted_through"):
            if holder is not None:
                edges.append((holder, account, "holds"))
    for link, edge_type in (("device", "used_device"), ("phone", "contact_phone"),
                            ("payment", "paid_by"), ("mandate", "claims_mandate"),
                            ("acceptance", "accepted_by")):  # fmt: skip
        if link in wanted:
            from_focus(edge_type)
    if "ip" in wanted:
        for ip in from_focus("from_ip"):
            edges.extend((ip, net, "in_network") for net in graph.successors(ip))
    if "owner" in wanted and owner is not None:
        edges.append((owner, focus, "owns"))
    if "desk_visit" in wanted and owner is not None:
        edges.extend((owner, unit, "visited_desk") for unit in out_by_type.get("received_at", []))
    if "holder_is_staff" in wanted and holder is not None:
        edges.extend(
            (staff, holder, "is_person")
            for staff, _, data in graph.in_edges(holder, data=True)
            if data.get("type") == "is_person"
        )
    return list(dict.fromkeys(edges))


def related_dossiers(graph: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """Other dossiers through the focus dossier's account, device, phone or payment token.

    One entry per dossier (``via`` the first shared entity in that order),
    most recent first within each; ``case_id`` is filled when the case page
    is read, since the related dossier may become a case later.
    """
    focus = graph.graph.get("focus")
    if focus is None:
        return []
    out: dict[str, dict[str, Any]] = {}
    for via, edge_type in RELATED_EDGES.items():
        found: list[dict[str, Any]] = []
        for _, entity, data in graph.out_edges(focus, data=True):
            if data.get("type") != edge_type:
                continue
            for other, _, d2 in graph.in_edges(entity, data=True):
                if other == focus or d2.get("type") != edge_type:
                    continue
                node = graph.nodes[other]
                dossier_id = str(other).partition(":")[2]
                if dossier_id not in out:
                    t = node.get("submitted_at")
                    found.append(
                        {
                            "dossier_id": dossier_id,
                            "via": via,
                            "submitted_at": None if t is None else t.isoformat(),
                        }
                    )
        found.sort(key=lambda r: r["submitted_at"] or "", reverse=True)
        for r in found:
            out.setdefault(str(r["dossier_id"]), r)
    return list(out.values())


def case_evidence(
    graph: nx.MultiDiGraph, reasons: list[dict[str, Any]], pseudonymise: Callable[[str], str]
) -> dict[str, Any]:
    """A case's ``evidence``: the graph with the links its reasons point at marked, personal
    values pseudonymised, and the related dossiers (one definition for batch and API cases)."""
    marked = mark(graph, suspicious_edges(graph, reasons), strict=False)
    return {"graph": to_json(marked, pseudonymise), "related": related_dossiers(graph)}
