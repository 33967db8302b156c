"""The entity graph around dossiers, and the evidence subgraph of one dossier.

A single dossier rarely tells a broker from a kiosk or an officer's proxy from
guided self-service; the graph around it does (``docs/domain.md``): who holds the
account and how they relate to the owner, what else the account, device,
phone or payment token did, whether the device sits on a unit's office network,
and who accepted the dossier. This module draws that graph:

- :func:`build_graph` the whole of it (small data, notebooks);
- :func:`evidence_subgraph` the few hops around one dossier, read from an
  :class:`EntityIndex` in milliseconds even with a million dossiers loaded
  (or a :class:`LiveIndex`, which the scoring API grows by each dossier it scores);
- :func:`mark` flags the edges a caller's rules found suspicious (no scoring
  happens here);
- :func:`to_json` the graph for the workbench, personal values pseudonymised.

Node keys are ``"<type>:<id>"``. Personal values (citizen IDs, phones, payment
tokens) appear only in the keys of their own nodes, never in attributes (their
labels are masked, ``**********45``), so :func:`to_json` can pseudonymise all
of them in one place. Names are not drawn at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeAlias

import networkx as nx
import numpy as np
import pandas as pd

from features._graph_draft import (
    EDGE_TYPES,
    LINKS,
    NODE_TYPES,
    PERSONAL_NODE_TYPES,
    Draft,
)
from features._graph_index import NONE, EntityIndex
from features._graph_live import LiveIndex
from features._private import jsonable
from features.contract import LOCAL_TZ
from features.errors import UsageError
from features.ids import mask_value
from features.reader import Dataset

__all__ = [
    "EDGE_TYPES",
    "NODE_TYPES",
    "PERSONAL_NODE_TYPES",
    "RELATED_VIA",
    "EntityIndex",
    "LiveIndex",
    "build_graph",
    "evidence_subgraph",
    "mark",
    "to_json",
]

#: the shared entities whose other dossiers form the second hop, in drawing order
RELATED_VIA: tuple[str, ...] = ("account", "device", "phone", "payment")
_COUNTED = ("account", "device", "phone", "payment", "ip")
_DAY = 86_400 * 10**9

#: a moment: a Timestamp, a datetime or an ISO 8601 string (naive = local time)
Moment: TypeAlias = pd.Timestamp | dt.datetime | str


def _nanos(moment: Moment, what: str) -> int:
    """A moment as UTC nanoseconds; naive values are local time (the contract's clock)."""
    try:
        ts = pd.Timestamp(moment)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{what} must be a timestamp (got {moment!r})") from exc
    if ts is pd.NaT:
        raise UsageError(f"{what} must be a timestamp (got {moment!r})")
    ts = ts.tz_localize(LOCAL_TZ) if ts.tzinfo is None else ts
    return int(ts.as_unit("ns").value)


def _local(ns: int | None) -> pd.Timestamp | None:
    return None if ns is None else pd.Timestamp(ns, tz="UTC").tz_convert(LOCAL_TZ)


def build_graph(ds: Dataset, *, until: Moment | None = None) -> nx.MultiDiGraph:
    """The whole entity graph of a data folder.

    Parameters
    ----------
    ds
        A normalised data folder (:func:`features.read_dataset`).
    until
        Keep only dossiers submitted strictly before this moment, and only
        the desk visits and acceptances known by then (an acceptance whose
        time is unknown is left out, since it cannot be placed). Reference
        tables (accounts, people, relations, mandates, staff, units,
        businesses) are kept whole: the contract treats them as known at
        every moment. Naive values are local time. Default: everything.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes ``"<type>:<id>"`` with ``type`` and ``label``; edges keyed by
        their ``type`` (suffixed ``:<kind>``, ``:<authorization_id>`` or
        ``:<visit_id>`` for ``relation``, ``mandate`` and ``visited_desk``,
        the types a pair of nodes can carry more than once).

    Notes
    -----
    Builds Python objects for every row: fine for tens of thousands of
    dossiers; for one dossier among millions use :func:`evidence_subgraph`.
    """
    ix = EntityIndex.from_dataset(ds)
    moment = None if until is None else _nanos(until, "until")
    rows = np.arange(len(ix.d["t"]))
    if moment is not None:
        rows = rows[ix.d["t"] < moment]
    draft = Draft(ix)
    draft.dossiers(rows, LINKS, accepted_before=moment)
    draft.accounts(np.arange(len(ix.a["account"])))
    draft.people(np.arange(len(ix.p["person"])))
    draft.relations(np.arange(len(ix.r["person"])))
    draft.mandates(np.arange(len(ix.m["mandate"])))
    draft.businesses(np.arange(len(ix.b["business"])))
    draft.staff(np.arange(len(ix.s["staff"])))
    visits = np.arange(len(ix.v["t"]))
    draft.visits(visits if moment is None else visits[ix.v["t"] < moment])
    draft.networks(np.unique(ix.d["ip"][rows]))
    draft.nodes("unit", ix.u["unit"])
    g = draft.graph()
    g.graph["until"] = _local(moment)
    return g


def _party_context(draft: Draft, party: int, limit: int) -> None:
    """Household, relations, staff posts and businesses of a person; legal rep of a business."""
    ix = draft.ix
    draft.nodes("party", [party])
    if ix.is_business[party]:
        draft.businesses([ix.b["row"][party]])
        return
    draft.people([ix.p["row"][party]])
    draft.relations(ix.by["relation"].rows(party)[:limit])
    draft.staff(ix.by["staff_person"].rows(party))
    draft.businesses(ix.by["rep"].rows(party)[:limit])


def _moment(at: Moment | None, submitted: int) -> int | None:
    if at is None:
        return None
    if isinstance(at, str) and at == "submission":
        return submitted
    return _nanos(at, "at")


def evidence_subgraph(
    index: EntityIndex,
    dossier_id: str,
    *,
    at: Literal["submission"] | Moment | None = None,
    max_related: int = 25,
    via: Iterable[str] = RELATED_VIA,
) -> nx.MultiDiGraph:
    """The few hops around one dossier that explain who really filed it.

    Parameters
    ----------
    index
        Built once with :meth:`EntityIndex.from_dataset`.
    dossier_id
        The dossier to explain.
    at
        ``"submission"``: only what was known when the dossier was submitted
        (other dossiers and desk visits strictly before it, no acceptance);
        a timestamp: the same as of that moment (naive = local time);
        ``None`` (default): everything, as a review team sees it.
    max_related
        At most this many other dossiers per shared entity in ``via``, most
        recent first; the totals are node attributes either way.
    via
        Shared entities whose other dossiers are drawn: any of
        ``account``, ``device``, ``phone``, ``payment``, ``ip``.

    Returns
    -------
    networkx.MultiDiGraph
        The dossier with its owner, account and holder (each person with
        household, relations, staff posts and businesses represented; the
        owner's mandates granted and desk visits to the receiving unit that
        day), the mandate it claims (with its grantor and grantee), device,
        IP (and office network), phone, payment token, unit and accepting
        staff; then, per shared entity, other dossiers with their owners,
        accounts and holders. Relations and household links among all the
        people drawn are added too. Account, device, phone, payment and IP
        nodes carry ``dossier_count`` (dossiers through it within ``at``,
        this one included), ``owner_count`` (distinct known owners among
        them) and ``shown`` (how many are drawn). ``graph.graph`` holds
        ``focus``, ``owner``, ``holder`` (node keys or None) and ``at``.

    Raises
    ------
    UsageError
        Unknown dossier, unknown ``via`` entity, a negative ``max_related``
        or an ``at`` that is not a moment.

    Notes
    -----
    Cost grows with what is drawn (at most ``len(via) * max_related`` other
    dossiers), not with the data: a few milliseconds on a 1M-dossier index.
    """
    via = tuple(via)
    unknown = sorted(set(via) - set(_COUNTED))
    if unknown:
        raise UsageError(f"via: unknown entity {unknown[0]!r}; expected some of {_COUNTED}")
    if max_related < 0:
        raise UsageError(f"max_related must be 0 or more (got {max_related})")
    ix = index
    row = ix.row_of(dossier_id)
    d = ix.d
    moment = _moment(at, int(d["t"][row]))
    at_submission = isinstance(at, str) and at == "submission"
    # at submission the acceptance does not exist yet, whatever its (skewed) clock says
    focus_links = tuple(k for k in LINKS if k != "accepted_by") if at_submission else LINKS
    draft = Draft(ix)
    draft.dossiers([row], focus_links, accepted_before=moment)
    owner, account, unit = int(d["owner"][row]), int(d["account"][row]), int(d["unit"][row])
    a_row = int(ix.a["row"][account]) if account >= 0 else NONE
    holder = int(ix.a["holder"][a_row]) if a_row >= 0 else NONE
    draft.accounts([a_row])
    for party in dict.fromkeys((owner, holder)):
        if party >= 0:
            _party_context(draft, party, max_related)
    if owner >= 0:
        draft.mandates(ix.by["grantor"].rows(owner)[:max_related])
        visits = ix.by["visit"].before(owner, moment)
        day = _local(int(d["t"][row])).normalize().value  # type: ignore[union-attr]
        on_day = (ix.v["unit"][visits] == unit) & (ix.v["t"][visits] >= day)
        draft.visits(visits[on_day & (ix.v["t"][visits] < day + _DAY)])
    mandate = int(d["mandate"][row])
    if mandate >= 0:
        draft.mandates([ix.m["row"][mandate]])
    draft.networks([d["ip"][row]])
    staff = int(d["staff"][row])
    if staff >= 0 and draft.has("staff", staff):  # left out when not yet accepted at ``at``
        draft.staff([ix.s["row"][staff]])
    counts: dict[str, dict[str, int]] = {}
    same = {kind: int(d[kind][row]) for kind in _COUNTED}
    for kind in _COUNTED:
        code = same[kind]
        if code < 0:
            continue
        rows = ix.by[kind].before(code, moment)
        others = rows[rows != row]
        owners = np.unique(np.append(d["owner"][others], owner))
        shown = others[:max_related] if kind in via else others[:0]
        counts[kind] = {
            "dossier_count": len(others) + 1,
            "owner_count": int((owners >= 0).sum()),
            "shown": len(shown),
        }
        if len(shown):
            draft.dossiers(shown, ("owns", "submitted_through"), same=same)
            accounts = ix.a["row"][d["account"][shown]]
            draft.accounts(accounts[d["account"][shown] >= 0])
    draft.induced()
    g = draft.graph()
    for kind, attrs in counts.items():
        g.nodes[draft.key(kind, same[kind])].update(attrs)
    g.graph.update(
        focus=draft.key("dossier", row),
        owner=draft.key("party", owner) if owner >= 0 else None,
        holder=draft.key("party", holder) if holder >= 0 else None,
        at=_local(moment),
    )
    return g


def mark(
    graph: nx.MultiDiGraph, edges: Iterable[tuple[str, str, str]], *, strict: bool = True
) -> nx.MultiDiGraph:
    """Set ``suspicious=True`` on the given edges (in place), for the workbench to highlight.

    Parameters
    ----------
    graph
        A graph from :func:`evidence_subgraph` or :func:`build_graph`.
    edges
        ``(source, target, key)`` triples. ``key`` may be an edge key or a
        bare edge type, which marks every edge of that type between the pair
        (e.g. ``"relation"`` for ``relation:spouse``).
    strict
        Raise when an edge is not in the graph (a typo in a rule should not
        pass silently); ``False`` skips it, for rules that name edges the
        subgraph may have left out.

    Returns
    -------
    networkx.MultiDiGraph
        ``graph`` itself, so calls chain into :func:`to_json`.

    Raises
    ------
    UsageError
        With ``strict``, for an edge the graph does not have (IDs masked).
    """
    for u, v, k in edges:
        data = graph.get_edge_data(u, v) or {}
        keys = [k] if k in data else [key for key, e in data.items() if e.get("type") == k]
        if not keys and strict:
            shown = [_mask_key(u), _mask_key(v)]
            raise UsageError(f"no edge {k!r} from {shown[0]} to {shown[1]} in the graph")
        for key in keys:
            data[key]["suspicious"] = True
    return graph


def _mask_key(node: str) -> str:
    kind, _, raw = node.partition(":")
    return f"{kind}:{mask_value(raw)}" if kind in PERSONAL_NODE_TYPES else node


def _json_value(v: object, secrets: dict[str, str]) -> Any:
    if isinstance(v, str):
        return secrets.get(v, v)
    if isinstance(v, list | tuple | set):
        return [_json_value(x, secrets) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x, secrets) for k, x in v.items()}
    return jsonable(v)


def to_json(graph: nx.MultiDiGraph, pseudonymise: Callable[[str], str | None]) -> dict[str, Any]:
    """Nodes and edges as JSON-ready lists, with every personal value pseudonymised.

    Parameters
    ----------
    graph
        A graph from :func:`evidence_subgraph` or :func:`build_graph`.
    pseudonymise
        Maps a citizen ID, phone or payment token to what the reader may see
        (the service passes a keyed HMAC; tests pass :func:`features.mask_value`).

    Returns
    -------
    dict
        ``{"nodes": [{"id", "type", "label", ...}], "edges": [{"source",
        "target", "type", "key", "suspicious", ...}], "graph": {...}}``;
        timestamps as ISO 8601 strings, unknown values as None.

    Notes
    -----
    Personal nodes (``person``, ``phone``, ``payment``) get the id
    ``"<type>:<pseudonym>"`` and the pseudonym as label; when two values share
    a pseudonym (a masking function can collide), ``#2``, ``#3``... keep the
    ids apart. Any attribute equal to a raw personal value is replaced too,
    so nothing personal leaves in clear even if an attribute carries one.
    """
    ids: dict[str, str] = {}
    secrets: dict[str, str] = {}
    taken: set[str] = set()
    for node, data in graph.nodes(data=True):
        kind, _, raw = str(node).partition(":")
        if data.get("type", kind) in PERSONAL_NODE_TYPES:
            pseudonym = pseudonymise(raw) or "*" * len(raw)  # None: mask it all
            secrets[raw] = pseudonym
            new, n = f"{kind}:{pseudonym}", 1
            while new in taken:
                n += 1
                new = f"{kind}:{pseudonym}#{n}"
            ids[node] = new
        else:
            ids[node] = str(node)
        taken.add(ids[node])
    secrets.update(ids)
    nodes = []
    for node, data in graph.nodes(data=True):
        item = {"id": ids[node], "type": data.get("type"), "label": data.get("label")}
        item.update({k: v for k, v in data.items() if k not in item})
        if item["type"] in PERSONAL_NODE_TYPES:
            item["label"] = secrets[str(node).partition(":")[2]]
        nodes.append({k: _json_value(v, secrets) for k, v in item.items()})
    edges = []
    for u, v, key, data in graph.edges(keys=True, data=True):
        item = {"source": ids[u], "target": ids[v], "type": data.get("type"), "key": key}
        item["suspicious"] = bool(data.get("suspicious", False))
        item.update({k: x for k, x in data.items() if k not in item})
        edges.append({k: _json_value(x, secrets) for k, x in item.items()})
    meta = {k: _json_value(v, secrets) for k, v in graph.graph.items()}
    return {"nodes": nodes, "edges": edges, "graph": meta}
