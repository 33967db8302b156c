"""Integer-coded arrays behind the entity graph (not part of the public API).

:class:`EntityIndex` turns every identifier of a :class:`~features.reader.Dataset`
into an integer code, one vocabulary per kind of entity, and groups the rows
of each table by the codes they are looked up by (compressed sparse rows: a
permutation of the rows plus the start of each group). Finding everything an
account, device or person touched is then two array reads and a slice, with no
hashing of strings and no per-row Python objects, which is what lets one
dossier's neighbourhood come out in milliseconds from a million loaded dossiers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.errors import UsageError
from features.ids import owner_id_kind

if TYPE_CHECKING:
    from features.reader import Dataset

#: "no value" in every code array (unknown cell, or no row for that key)
NONE = -1
#: "no time" in every nanosecond array (NaT)
NO_TIME = np.iinfo(np.int64).min
_U64 = np.uint64


@dataclass(frozen=True)
class Groups:
    """Rows grouped by an integer key, each group most recent first.

    ``order[starts[k]:starts[k + 1]]`` are the rows whose key is ``k``;
    ``neg_t`` holds minus their time, so a group is sorted ascending on it and
    "rows before a moment" is one ``searchsorted``.
    """

    order: np.ndarray
    starts: np.ndarray
    neg_t: np.ndarray

    @classmethod
    def build(cls, keys: np.ndarray, n_keys: int, t: np.ndarray | None = None) -> Groups:
        """Group row positions by ``keys`` (``NONE`` rows left out), newest first within a key."""
        t = np.zeros(len(keys), np.int64) if t is None else t
        rows = np.flatnonzero(keys >= 0)
        neg = -np.maximum(t[rows], NO_TIME + 1)  # NaT sorts last (oldest)
        perm = np.lexsort((neg, keys[rows]))
        counts = np.bincount(keys[rows], minlength=n_keys)
        starts = np.zeros(n_keys + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
        return cls(rows[perm].astype(np.int32), starts, neg[perm])

    def rows(self, key: int) -> np.ndarray:
        """Rows with this key (empty for ``NONE``)."""
        if key < 0:
            return self.order[:0]
        return self.order[self.starts[key] : self.starts[key + 1]]

    def before(self, key: int, moment: int | None) -> np.ndarray:
        """Rows with this key and a time strictly before ``moment`` (ns), newest first."""
        if key < 0:
            return self.order[:0]
        lo, hi = int(self.starts[key]), int(self.starts[key + 1])
        if moment is not None:
            lo += int(np.searchsorted(self.neg_t[lo:hi], -moment, side="right"))
        return self.order[lo:hi]


def encode(*columns: pd.Series) -> tuple[np.ndarray, list[np.ndarray]]:
    """One vocabulary for several ID columns: (values, codes of each column).

    ``values[code]`` is the ID as a Python ``str``; unknown cells get ``NONE``.
    """
    sizes = [len(c) for c in columns]
    joined = pd.concat([c.astype("str") for c in columns], ignore_index=True)
    codes, uniques = pd.factorize(joined)
    values = np.asarray(uniques, dtype=object)
    codes = codes.astype(np.int32)
    return values, np.split(codes, np.cumsum(sizes)[:-1])


def nanos(s: pd.Series) -> np.ndarray:
    """Timestamps or dates as int64 nanoseconds since the epoch (UTC), NaT as ``NO_TIME``."""
    index = pd.DatetimeIndex(s)
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _ip_numbers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(version, high 64 bits, low 64 bits) of each IP; version 0 where there is none.

    Canonical dotted quads (nearly all of them) are split by Arrow; only IPv6
    goes through :mod:`ipaddress`.
    """
    text = pd.Series(values, dtype="str")
    version = np.zeros(len(text), np.int8)
    hi = np.zeros(len(text), _U64)
    lo = np.zeros(len(text), _U64)
    v4 = text.str.fullmatch(r"\d{1,3}(\.\d{1,3}){3}").fillna(False).to_numpy(bool)
    if v4.any():
        quads = text[v4].str.split(".", expand=True).astype("uint64").to_numpy(_U64)
        lo[v4] = (quads[:, 0] << _U64(24)) | (quads[:, 1] << _U64(16))
        lo[v4] |= (quads[:, 2] << _U64(8)) | quads[:, 3]
        version[v4] = 4
    for i in np.flatnonzero(~v4 & text.notna().to_numpy(bool)):
        try:
            addr = ipaddress.ip_address(values[i])
        except ValueError:
            continue
        number = int(addr)
        version[i], hi[i], lo[i] = addr.version, number >> 64, number & (2**64 - 1)
    return version, hi, lo


@dataclass(frozen=True)
class Networks:
    """The units' office networks (CIDRs), for telling office IPs from the rest."""

    cidr: np.ndarray  # object: canonical CIDR text
    unit: np.ndarray  # unit code of each network
    version: np.ndarray
    prefix: np.ndarray
    bounds: np.ndarray  # (n, 4) uint64: start hi, start lo, end hi, end lo

    @classmethod
    def build(cls, cells: np.ndarray, unit_codes: np.ndarray) -> Networks:
        """Parse ``;``-separated CIDR cells (already canonical) of each unit."""
        cidr, unit, version, prefix, bounds = [], [], [], [], []
        for cell, code in zip(cells, unit_codes, strict=True):
            if not isinstance(cell, str):
                continue
            for part in filter(None, cell.split(";")):
                try:
                    net = ipaddress.ip_network(part, strict=False)
                except ValueError:
                    continue
                first, last = int(net.network_address), int(net.broadcast_address)
                cidr.append(str(net))
                unit.append(code)
                version.append(net.version)
                prefix.append(net.prefixlen)
                bounds.append([first >> 64, first & (2**64 - 1), last >> 64, last & (2**64 - 1)])
        return cls(
            np.asarray(cidr, dtype=object),
            np.asarray(unit, np.int32),
            np.asarray(version, np.int8),
            np.asarray(prefix, np.int16),
            np.asarray(bounds, _U64).reshape(-1, 4),
        )

    def match(self, ips: np.ndarray) -> np.ndarray:
        """For each IP (text or None), the index of the most specific network holding it, or -1."""
        out = np.full(len(ips), NONE, np.int32)
        if not len(ips) or not len(self.cidr):
            return out
        version, hi, lo = _ip_numbers(ips)
        best = np.full(len(ips), -1, np.int16)
        for i in range(len(self.cidr)):
            s_hi, s_lo, e_hi, e_lo = self.bounds[i]
            inside = (
                (version == self.version[i])
                & ((hi > s_hi) | ((hi == s_hi) & (lo >= s_lo)))
                & ((hi < e_hi) | ((hi == e_hi) & (lo <= e_lo)))
                & (self.prefix[i] > best)
            )
            out[inside] = i
            best[inside] = self.prefix[i]
        return out


def _row_of(codes: np.ndarray, n_keys: int) -> np.ndarray:
    """Row position of each key code in a table keyed by ``codes`` (``NONE`` if absent)."""
    out = np.full(n_keys, NONE, np.int32)
    rows = np.flatnonzero(codes >= 0)
    out[codes[rows][::-1]] = rows[::-1].astype(np.int32)  # the first row wins on repeats
    return out


@dataclass
class EntityIndex:
    """Every entity of a data folder as integer codes, grouped for one-dossier look-ups.

    Build it once with :meth:`from_dataset`; :func:`features.graph.evidence_subgraph`
    then reads one dossier's neighbourhood from it, and
    :func:`features.graph.build_graph` draws all of it.

    Attributes
    ----------
    values
        Per vocabulary (``party``, ``account``, ``device``, ``ip``, ``phone``,
        ``payment``, ``unit``, ``staff``, ``household``, ``mandate``,
        ``dossier`` and the dossiers' small enumerations), ``values[kind][code]``
        is the text of the code. ``party`` holds citizen IDs and tax codes
        together, because an owner, a holder or a grantor may be either.
    d, a, p, r, s, m, b, v, u
        Columns of dossiers, accounts, people, relations, staff, mandates
        (authorizations), businesses, counter visits and units as NumPy
        arrays of codes, nanoseconds (``NO_TIME`` when unknown) or numbers.
    networks, ip_net
        The units' office networks, and for each ``ip`` code the most
        specific network holding it (``NONE`` outside every office network).
    by
        :class:`Groups` of those rows, by the key they are looked up with.
    is_business
        Per ``party`` code, whether the ID has the shape of a tax code.

    Notes
    -----
    Memory is about 500 bytes per dossier: the text of each distinct ID once
    (most of it), and 4–8 bytes per cell and per grouping.
    """

    values: dict[str, np.ndarray]
    d: dict[str, np.ndarray]
    a: dict[str, np.ndarray]
    p: dict[str, np.ndarray]
    r: dict[str, np.ndarray]
    s: dict[str, np.ndarray]
    m: dict[str, np.ndarray]
    b: dict[str, np.ndarray]
    v: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    networks: Networks
    ip_net: np.ndarray
    by: dict[str, Groups]
    is_business: np.ndarray
    dossier_row: dict[str, int] = field(repr=False)

    @classmethod
    def from_dataset(cls, ds: Dataset) -> EntityIndex:
        """Encode and group every table of ``ds``.

        Parameters
        ----------
        ds
            A normalised data folder (:func:`features.read_dataset`); absent
            optional tables are empty frames and simply give empty groups.

        Returns
        -------
        EntityIndex

        Notes
        -----
        Linear in the number of rows apart from a few sorts: about 4 s and
        0.5 GB for a million dossiers on two cores (``bench/bench_graph.py``).
        """
        t = ds.tables
        D, A, P, R = t["dossiers"], t["accounts"], t["people"], t["relations"]
        S, M, B, V, U = (
            t["staff"], t["authorizations"], t["businesses"], t["counter_visits"], t["units"]
        )  # fmt: skip
        values: dict[str, np.ndarray] = {}

        def vocab(kind: str, *columns: pd.Series) -> list[np.ndarray]:
            values[kind], codes = encode(*columns)
            return codes

        (d_owner, a_holder, p_person, r_person, r_related, s_person,
         m_grantor, m_grantee, b_business, b_rep, v_person) = vocab(
            "party", D["owner_id"], A["holder_id"], P["person_id"], R["person_id"],
            R["related_id"], S["person_id"], M["grantor_id"], M["grantee_id"],
            B["business_id"], B["legal_rep_id"], V["person_id"],
        )  # fmt: skip
        d_account, a_account = vocab("account", D["account_id"], A["account_id"])
        d_unit, s_unit, v_unit, u_unit = vocab(
            "unit", D["unit_id"], S["unit_id"], V["unit_id"], U["unit_id"]
        )
        d_staff, s_staff = vocab("staff", D["received_by"], S["staff_id"])
        d_mandate, m_mandate = vocab("mandate", D["authorization_id"], M["authorization_id"])
        (p_household,) = vocab("household", P["household_id"])
        values["dossier"] = D["dossier_id"].to_numpy(object)
        d = {
            "t": nanos(D["submitted_at"]),
            "accepted_at": nanos(D["accepted_at"]),
            "owner": d_owner,
            "account": d_account,
            "unit": d_unit,
            "staff": d_staff,
            "mandate": d_mandate,
        }
        for kind, column in (("device", "device_id"), ("ip", "ip"), ("phone", "contact_phone"),
                             ("payment", "payer_token"), ("procedure", "procedure_code"),
                             ("channel", "channel"), ("declared", "declared_relation"),
                             ("attachment", "attachment_kind")):  # fmt: skip
            d[kind] = vocab(kind, D[column])[0]
        n = {kind: len(v) for kind, v in values.items()}
        networks = Networks.build(U["office_networks"].to_numpy(object), u_unit)
        ip_cells = np.concatenate([values["ip"], A["created_ip"].to_numpy(object)])
        ip_net = networks.match(ip_cells)
        a = {
            "account": a_account,
            "holder": a_holder,
            "type": A["account_type"].to_numpy(object),
            "level": A["verification_level"].to_numpy("float64", na_value=np.nan),
            "created_at": nanos(A["created_at"]),
            "created_net": ip_net[len(values["ip"]) :],
            "row": _row_of(a_account, n["account"]),
        }
        p = {
            "person": p_person,
            "household": p_household,
            "birth": nanos(P["birth_date"]),
            "death": nanos(P["death_date"]),
            "row": _row_of(p_person, n["party"]),
        }
        r = {"person": r_person, "related": r_related, "kind": R["relation"].to_numpy(object)}
        s = {
            "staff": s_staff,
            "person": s_person,
            "unit": s_unit,
            "role": S["role"].to_numpy(object),
            "active_from": nanos(S["active_from"]),
            "active_to": nanos(S["active_to"]),
            "row": _row_of(s_staff, n["staff"]),
        }
        m = {
            "mandate": m_mandate,
            "grantor": m_grantor,
            "grantee": m_grantee,
            "procedure": M["procedure_code"].to_numpy(object),
            "valid_from": nanos(M["valid_from"]),
            "valid_to": nanos(M["valid_to"]),
            "row": _row_of(m_mandate, n["mandate"]),
        }
        b = {
            "business": b_business,
            "rep": b_rep,
            "registered_at": nanos(B["registered_at"]),
            "row": _row_of(b_business, n["party"]),
        }
        v = {
            "person": v_person,
            "unit": v_unit,
            "t": nanos(V["visited_at"]),
            "visit": V["visit_id"].to_numpy(object),
        }
        u = {
            "unit": u_unit,
            "name": U["name"].to_numpy(object),
            "level": U["level"].to_numpy(object),
            "parent": U["parent_unit_id"].to_numpy(object),
            "target": U["online_target"].to_numpy("float64", na_value=np.nan),
            "row": _row_of(u_unit, n["unit"]),
        }
        by = {kind: Groups.build(d[kind], n[kind], d["t"])
              for kind in ("account", "device", "phone", "payment", "ip")}  # fmt: skip
        # a relation is found from either end; both ends point back to the same record
        either = Groups.build(np.concatenate([r_person, r_related]), n["party"])
        by["relation"] = Groups(either.order % max(len(r_person), 1), either.starts, either.neg_t)
        by["staff_person"] = Groups.build(s_person, n["party"])
        by["grantor"] = Groups.build(m_grantor, n["party"], m["valid_from"])
        by["rep"] = Groups.build(b_rep, n["party"])
        by["visit"] = Groups.build(v_person, n["party"], v["t"])
        is_business = owner_id_kind(pd.Series(values["party"], dtype="str")) == "business"
        return cls(
            values=values, d=d, a=a, p=p, r=r, s=s, m=m, b=b, v=v, u=u, networks=networks,
            ip_net=ip_net[: len(values["ip"])], by=by, is_business=is_business.to_numpy(bool),
            dossier_row=dict(zip(values["dossier"].tolist(), range(len(D)), strict=True)),
        )  # fmt: skip

    def row_of(self, dossier_id: str) -> int:
        """Position of a dossier in the index.

        Raises
        ------
        UsageError
            When no dossier has this ID.
        """
        try:
            return self.dossier_row[dossier_id]
        except (KeyError, TypeError) as exc:
            raise UsageError(f"no dossier with dossier_id {dossier_id!r} in the index") from exc

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the index, in bytes (arrays plus the ID text)."""
        total = self.ip_net.nbytes + self.is_business.nbytes
        for table in (self.d, self.a, self.p, self.r, self.s, self.m, self.b, self.v, self.u):
            total += sum(arr.nbytes for arr in table.values())
        for g in self.by.values():
            total += g.order.nbytes + g.starts.nbytes + g.neg_t.nbytes
        for vals in self.values.values():
            total += vals.nbytes + sum(len(x) + 49 for x in vals if isinstance(x, str))
        return total + 100 * len(self.dossier_row)
