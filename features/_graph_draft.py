"""Collecting nodes and edges from an :class:`EntityIndex` (not part of the public API).

:class:`Draft` gathers, table by table, the rows that a picture needs, as
integer codes; only :meth:`Draft.graph` turns them into string keys and
attribute dicts. :func:`features.graph.build_graph` (every row) and
:func:`features.graph.evidence_subgraph` (a few rows) share it, so the two
always draw the same node for the same entity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from features._graph_index import NO_TIME, NONE, EntityIndex
from features._private import is_missing
from features.contract import LOCAL_TZ
from features.ids import mask_value

NODE_TYPES: tuple[str, ...] = (
    "dossier", "account", "person", "business", "household", "device", "ip", "network",
    "phone", "payment", "staff", "unit", "mandate",
)  # fmt: skip
EDGE_TYPES: tuple[str, ...] = (
    "holds", "owns", "submitted_through", "relation", "member_of", "mandate", "legal_rep",
    "used_device", "from_ip", "in_network", "contact_phone", "paid_by", "received_at",
    "accepted_by", "is_person", "works_at", "visited_desk", "claims_mandate",
)  # fmt: skip
#: node types whose id is personal data: labelled masked (``**********45``) in the graph,
#: pseudonymised by :func:`features.graph.to_json`
PERSONAL_NODE_TYPES = frozenset({"person", "phone", "payment"})

#: edges from a dossier: edge type -> dossier column of the index (``owns`` points in)
_LINK_COLUMN = {
    "owns": "owner", "submitted_through": "account", "used_device": "device", "from_ip": "ip",
    "contact_phone": "phone", "paid_by": "payment", "received_at": "unit",
    "accepted_by": "staff", "claims_mandate": "mandate",
}  # fmt: skip
LINKS: tuple[str, ...] = tuple(_LINK_COLUMN)
_COLUMN_LINK = {column: link for link, column in _LINK_COLUMN.items()}
_KINDS = ("dossier", "party", "account", "household", "device", "ip", "network", "phone",
          "payment", "staff", "unit", "mandate")  # fmt: skip


def _ts(ns: int) -> pd.Timestamp | None:
    """A moment (UTC ns) on the contract's local clock."""
    return None if ns == NO_TIME else pd.Timestamp(int(ns), tz="UTC").tz_convert(LOCAL_TZ)


def _day(ns: int) -> pd.Timestamp | None:
    """A date (naive ns), as the reader gives it."""
    return None if ns == NO_TIME else pd.Timestamp(int(ns))


def _text(values: np.ndarray, i: int) -> str | None:
    return None if i < 0 or is_missing(values[i]) else str(values[i])


def _number(x: float) -> float | int | None:
    if np.isnan(x):
        return None
    return int(x) if float(x).is_integer() else float(x)


def _rows(rows: Iterable[int] | np.ndarray) -> np.ndarray:
    out = np.asarray(rows, dtype=np.int64).reshape(-1)
    return out[out >= 0]


class Draft:
    """Nodes and edges gathered from an index, as codes, until :meth:`graph` is called."""

    def __init__(self, ix: EntityIndex) -> None:
        self.ix = ix
        self.codes: dict[str, set[int]] = {kind: set() for kind in _KINDS}
        self.edges: dict[tuple[str, str, str], dict[str, Any]] = {}

    # ------------------------------------------------------------------ keys
    def key(self, kind: str, code: int) -> str:
        """The node key ``"<type>:<id>"`` of a code of vocabulary ``kind``."""
        ix = self.ix
        if kind == "party":
            prefix = "business" if ix.is_business[code] else "person"
            return f"{prefix}:{ix.values['party'][code]}"
        if kind == "network":
            return f"network:{ix.networks.cidr[code]}"
        return f"{kind}:{ix.values[kind][code]}"

    def has(self, kind: str, code: int) -> bool:
        return code in self.codes[kind]

    def nodes(self, kind: str, codes: Iterable[int] | np.ndarray) -> None:
        self.codes[kind].update(_rows(codes).tolist())

    def _link(
        self,
        kinds: tuple[str, str],
        src: np.ndarray,
        dst: np.ndarray,
        etype: str,
        attrs: dict[str, list[Any]] | None = None,
        suffix: list[Any] | None = None,
    ) -> None:
        """Edges ``src[i] -> dst[i]`` of one type; rows with an unknown end are skipped."""
        keep = np.flatnonzero((src >= 0) & (dst >= 0))
        attrs = attrs or {}
        for i in keep.tolist():
            u, v = int(src[i]), int(dst[i])
            self.codes[kinds[0]].add(u)
            self.codes[kinds[1]].add(v)
            key = etype if suffix is None else f"{etype}:{suffix[i]}"
            data = {"type": etype, **{name: values[i] for name, values in attrs.items()}}
            self.edges[(self.key(kinds[0], u), self.key(kinds[1], v), key)] = data

    # ---------------------------------------------------------------- tables
    def dossiers(
        self,
        rows: Iterable[int] | np.ndarray,
        links: Iterable[str],
        *,
        accepted_before: int | None = None,
        same: dict[str, int] | None = None,
    ) -> None:
        """Dossier nodes and their edges of the types in ``links``.

        ``same`` adds, beyond ``links``, the edges to the given entity codes
        (e.g. the focus dossier's device) where a dossier shares them.
        """
        rows = _rows(rows)
        d = self.ix.d
        self.nodes("dossier", rows)
        wanted = {link: rows for link in links}
        for column, code in (same or {}).items():
            link = _COLUMN_LINK[column]
            if code >= 0 and link not in wanted:
                wanted[link] = rows[d[column][rows] == code]
        for link, r in wanted.items():
            column = _LINK_COLUMN[link]
            kind = "party" if column == "owner" else column
            codes = d[column][r]
            if link == "owns":
                self._link((kind, "dossier"), codes, r, link)
                continue
            attrs = None
            if link == "accepted_by":
                at = d["accepted_at"][r]
                if accepted_before is not None:
                    codes = np.where((at != NO_TIME) & (at < accepted_before), codes, NONE)
                attrs = {"accepted_at": [_ts(x) for x in at]}
            self._link(("dossier", kind), r, codes, link, attrs)

    def accounts(self, rows: Iterable[int] | np.ndarray) -> None:
        rows = _rows(rows)
        a = self.ix.a
        self.nodes("account", a["account"][rows])
        self._link(("party", "account"), a["holder"][rows], a["account"][rows], "holds")

    def people(self, rows: Iterable[int] | np.ndarray) -> None:
        rows = _rows(rows)
        p = self.ix.p
        self.nodes("party", p["person"][rows])
        self._link(("party", "household"), p["person"][rows], p["household"][rows], "member_of")

    def relations(self, rows: Iterable[int] | np.ndarray) -> None:
        rows = _rows(rows)
        r = self.ix.r
        kinds = [None if is_missing(k) else str(k) for k in r["kind"][rows]]
        self._link(("party", "party"), r["person"][rows], r["related"][rows], "relation",
                   {"kind": kinds}, suffix=kinds)  # fmt: skip

    def mandates(self, rows: Iterable[int] | np.ndarray) -> None:
        rows = _rows(rows)
        m, ix = self.ix.m, self.ix
        self.nodes("mandate", m["mandate"][rows])
        ids = [ix.values["mandate"][c] for c in m["mandate"][rows]]
        attrs = {
            "valid_from": [_day(x) for x in m["valid_from"][rows]],
            "valid_to": [_day(x) for x in m["valid_to"][rows]],
            "procedure_code": [None if is_missing(x) else x for x in m["procedure"][rows]],
            "authorization_id": ids,
        }
        self._link(("party", "party"), m["grantor"][rows], m["grantee"][rows], "mandate",
                   attrs, suffix=ids)  # fmt: skip

    def businesses(self, rows: Iterable[int] | np.ndarray) -> None:
        rows = _rows(rows)
        b = self.ix.b
        self.nodes("party", b["business"][rows])
        self._link(("party", "party"), b["rep"][rows], b["business"][rows], "legal_rep")

    def staff(self, rows: Iterable[int] | np.ndarray) -> None:
        rows = _rows(rows)
        s = self.ix.s
        self.nodes("staff", s["staff"][rows])
        self._link(("staff", "party"), s["staff"][rows], s["person"][rows], "is_person")
        roles = [None if is_missing(x) else x for x in s["role"][rows]]
        self._link(("staff", "unit"), s["staff"][rows], s["unit"][rows], "works_at",
                   {"role": roles})  # fmt: skip

    def visits(self, rows: Iterable[int] | np.ndarray) -> None:
        rows = _rows(rows)
        v = self.ix.v
        ids = [str(x) for x in v["visit"][rows]]
        attrs: dict[str, list[Any]] = {
            "visited_at": [_ts(x) for x in v["t"][rows]],
            "visit_id": ids,
        }
        self._link(("party", "unit"), v["person"][rows], v["unit"][rows], "visited_desk",
                   attrs, suffix=ids)  # fmt: skip

    def networks(self, ip_codes: Iterable[int] | np.ndarray) -> None:
        codes = _rows(ip_codes)
        self._link(("ip", "network"), codes, self.ix.ip_net[codes], "in_network")

    def induced(self) -> None:
        """Relations, household and legal-rep links among the people already drawn."""
        ix = self.ix
        parties = np.fromiter(self.codes["party"], np.int64)
        present = set(parties.tolist())
        rel = [ix.by["relation"].rows(c) for c in parties.tolist()]
        if rel:
            r = np.unique(np.concatenate(rel))
            ends = zip(ix.r["person"][r].tolist(), ix.r["related"][r].tolist(), strict=True)
            self.relations(r[[a in present and b in present for a, b in ends]])
        p_rows = _rows(ix.p["row"][parties])
        households = ix.p["household"][p_rows]
        self.people(p_rows[np.isin(households, list(self.codes["household"]))])
        b_rows = _rows(ix.b["row"][parties])
        self.businesses(b_rows[np.isin(ix.b["rep"][b_rows], parties)])

    # ----------------------------------------------------------------- nodes
    def _attrs(self, kind: str, code: int) -> dict[str, Any]:
        ix = self.ix
        if kind == "dossier":
            d = ix.d
            return {
                "type": "dossier", "label": str(ix.values["dossier"][code]),
                "submitted_at": _ts(d["t"][code]),
                "channel": _text(ix.values["channel"], d["channel"][code]),
                "procedure_code": _text(ix.values["procedure"], d["procedure"][code]),
                "unit_id": _text(ix.values["unit"], d["unit"][code]),
                "declared_relation": _text(ix.values["declared"], d["declared"][code]),
                "attachment_kind": _text(ix.values["attachment"], d["attachment"][code]),
            }  # fmt: skip
        label = str(ix.networks.cidr[code] if kind == "network" else ix.values[kind][code])
        if kind == "party":
            if ix.is_business[code]:
                row = ix.b["row"][code]
                registered = _day(ix.b["registered_at"][row]) if row >= 0 else None
                return {"type": "business", "label": label, "known": bool(row >= 0),
                        "registered_at": registered}  # fmt: skip
            row = ix.p["row"][code]
            birth = _day(ix.p["birth"][row]) if row >= 0 else None
            return {"type": "person", "label": mask_value(label), "known": bool(row >= 0),
                    "birth_year": None if birth is None else birth.year,
                    "death_date": _day(ix.p["death"][row]) if row >= 0 else None}  # fmt: skip
        if kind == "account":
            row, a = ix.a["row"][code], ix.a
            if row < 0:
                return {"type": "account", "label": label, "known": False}
            net = a["created_net"][row]
            return {"type": "account", "label": label, "known": True,
                    "account_type": None if is_missing(a["type"][row]) else a["type"][row],
                    "verification_level": _number(a["level"][row]),
                    "created_at": _ts(a["created_at"][row]),
                    "created_in_unit": None if net < 0
                    else _text(ix.values["unit"], ix.networks.unit[net])}  # fmt: skip
        if kind == "unit":
            row, u = ix.u["row"][code], ix.u
            if row < 0:
                return {"type": "unit", "label": label, "known": False}
            return {"type": "unit", "label": _text(u["name"], row) or label, "known": True,
                    "level": _text(u["level"], row), "parent_unit_id": _text(u["parent"], row),
                    "online_target": _number(u["target"][row])}  # fmt: skip
        if kind == "staff":
            row, s = ix.s["row"][code], ix.s
            if row < 0:
                return {"type": "staff", "label": label, "known": False}
            return {"type": "staff", "label": label, "known": True, "role": _text(s["role"], row),
                    "unit_id": _text(ix.values["unit"], s["unit"][row]),
                    "active_from": _day(s["active_from"][row]),
                    "active_to": _day(s["active_to"][row])}  # fmt: skip
        if kind == "mandate":
            row, m = ix.m["row"][code], ix.m
            if row < 0:  # claimed on a form, but no such registered mandate
                return {"type": "mandate", "label": label, "listed": False}
            return {"type": "mandate", "label": label, "listed": True,
                    "procedure_code": _text(m["procedure"], row),
                    "valid_from": _day(m["valid_from"][row]),
                    "valid_to": _day(m["valid_to"][row])}  # fmt: skip
        if kind == "network":
            unit = _text(ix.values["unit"], ix.networks.unit[code])
            return {"type": "network", "label": label, "unit_id": unit}
        if kind in PERSONAL_NODE_TYPES:  # phone, payment token
            return {"type": kind, "label": mask_value(label)}
        return {"type": kind, "label": label}

    def graph(self) -> nx.MultiDiGraph:
        """The collected nodes (with attributes) and edges as a MultiDiGraph."""
        g = nx.MultiDiGraph()
        for kind in _KINDS:
            g.add_nodes_from(
                (self.key(kind, code), self._attrs(kind, code)) for code in sorted(self.codes[kind])
            )
        g.add_edges_from((u, v, k, data) for (u, v, k), data in self.edges.items())
        return g
