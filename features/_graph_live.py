"""An :class:`EntityIndex` that grows by one dossier at a time (not part of the public API).

The scoring API keeps the data folder's index and adds every dossier it
scores, so :func:`features.graph.evidence_subgraph` draws an API dossier's
neighbourhood from the same state, and the same code, as a batch case's.
The data folder's arrays stay as they are. An added dossier waits in a list
(the scoring path pays one append); before a drawing, the waiting ones are
written into buffers that double when full, and into a small overlay next to
the frozen groups of the shared entities (account, device, phone, payment,
IP). Only flagged dossiers are drawn, so that work is theirs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features._graph_index import NO_TIME, NONE, EntityIndex, Groups
from features.ids import owner_id_kind
from features.reader import Dataset

#: the index's dossier column -> (vocabulary, contract column)
_CODED = {
    "owner": ("party", "owner_id"), "account": ("account", "account_id"),
    "unit": ("unit", "unit_id"), "staff": ("staff", "received_by"),
    "mandate": ("mandate", "authorization_id"), "device": ("device", "device_id"),
    "ip": ("ip", "ip"), "phone": ("phone", "contact_phone"),
    "payment": ("payment", "payer_token"), "procedure": ("procedure", "procedure_code"),
    "channel": ("channel", "channel"), "declared": ("declared", "declared_relation"),
    "attachment": ("attachment", "attachment_kind"),
}  # fmt: skip
#: per-code arrays of a vocabulary: (table, column, value of a code no reference row has)
_PER_CODE: dict[str, tuple[tuple[str, str, Any], ...]] = {
    "party": (("p", "row", NONE), ("b", "row", NONE)),
    "account": (("a", "row", NONE),),
    "staff": (("s", "row", NONE),),
    "mandate": (("m", "row", NONE),),
    "unit": (("u", "row", NONE),),
}
SHARED = ("account", "device", "phone", "payment", "ip")


@dataclass(frozen=True)
class LiveGroups(Groups):
    """:class:`Groups` of the frozen rows, plus rows added since (any key, also new ones)."""

    added: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # key -> [(-t, row)]

    def _merged(self, key: int, base: np.ndarray, base_neg: np.ndarray, lo: int) -> np.ndarray:
        extra = self.added.get(key)
        if not extra:
            return base
        neg = np.array([e[0] for e in extra if e[0] > lo], np.int64)
        rows = np.array([e[1] for e in extra if e[0] > lo], np.int32)
        if not len(rows):
            return base
        all_neg = np.concatenate([base_neg, neg])
        all_rows = np.concatenate([base, rows])
        return all_rows[np.lexsort((all_rows, all_neg))]  # newest first; ties in row order

    def _base(self, key: int) -> tuple[int, int]:
        if 0 <= key < len(self.starts) - 1:
            return int(self.starts[key]), int(self.starts[key + 1])
        return 0, 0

    def rows(self, key: int) -> np.ndarray:
        if key < 0:
            return self.order[:0]
        lo, hi = self._base(key)
        return self._merged(key, self.order[lo:hi], self.neg_t[lo:hi], np.iinfo(np.int64).min)

    def before(self, key: int, moment: int | None) -> np.ndarray:
        if key < 0:
            return self.order[:0]
        lo, hi = self._base(key)
        floor = np.iinfo(np.int64).min
        if moment is not None:
            lo += int(np.searchsorted(self.neg_t[lo:hi], -moment, side="right"))
            floor = -moment
        return self._merged(key, self.order[lo:hi], self.neg_t[lo:hi], floor)


class LiveIndex(EntityIndex):
    """The data folder's :class:`EntityIndex`, to which scored dossiers are added one by one.

    Build it with :meth:`from_dataset`; :meth:`add` a normalised dossier (as
    :func:`features.normalise.normalise_dossier` gives it) once it is part of
    the history, or draw one that is not yet inside :meth:`including`.

    Notes
    -----
    A new value of a vocabulary (an account, a device, a citizen ID never seen
    before) gets a new code with no reference row, as
    :meth:`EntityIndex.from_dataset` gives a value found only in the dossiers.
    """

    _n: int
    _codes: dict[str, dict[Any, int]]
    _buffers: dict[tuple[str, str], np.ndarray]
    _sizes: dict[str, int]
    _waiting: dict[str, Mapping[str, object]]
    _unsettled: dict[str, list[int]]

    @classmethod
    def from_dataset(cls, ds: Dataset) -> LiveIndex:
        base = EntityIndex.from_dataset(ds)
        ix = cls(**{f: getattr(base, f) for f in base.__dataclass_fields__})
        for kind in SHARED:
            g = ix.by[kind]
            ix.by[kind] = LiveGroups(g.order, g.starts, g.neg_t)
        for kind in ("relation", "staff_person", "grantor", "rep", "visit"):
            g = ix.by[kind]  # keyed by party: a new citizen ID has none of these rows
            ix.by[kind] = LiveGroups(g.order, g.starts, g.neg_t)
        ix._n = len(ix.d["t"])
        # the values' codes, built now: the first scored dossier should not pay for them
        kinds = dict.fromkeys(kind for kind, _ in _CODED.values())
        ix._codes = {kind: {v: i for i, v in enumerate(ix.values[kind].tolist())} for kind in kinds}
        ix._buffers = {}
        ix._waiting = {}
        ix._unsettled = {"party": [], "ip": []}
        ix._sizes = {kind: len(v) for kind, v in ix.values.items()}
        return ix

    # ------------------------------------------------------------------ growing arrays
    def _put(self, table: dict[str, np.ndarray], name: str, key: str, i: int, value: Any) -> None:
        """Write ``table[key][i]``, growing its buffer (doubling) when ``i`` is past it."""
        arr = table[key]
        buf = self._buffers.get((name, key))
        if buf is None or i >= len(buf):
            size = max(2 * (i + 1), 1024)
            grown = np.empty(size, arr.dtype)
            grown[: len(arr)] = arr
            self._buffers[(name, key)] = buf = grown
        buf[i] = value
        table[key] = buf[: i + 1] if i + 1 > len(arr) else buf[: len(arr)]

    def _code(self, kind: str, value: object) -> int:
        """The code of ``value`` in vocabulary ``kind``; a new code when it has none yet."""
        if not isinstance(value, str):
            return NONE
        codes = self._codes[kind]
        code = codes.get(value)
        if code is not None:
            return code
        code = codes[value] = self._sizes[kind]
        self._sizes[kind] += 1
        self._put(self.values, "values", kind, code, value)
        for table, column, empty in _PER_CODE.get(kind, ()):
            self._put(getattr(self, table), table, column, code, empty)
        if kind == "party":  # whether it is a tax code: settled for all new IDs at once
            self._put({"x": self.is_business}, "is_business", "x", code, False)
            self.is_business = self._buffers[("is_business", "x")][: code + 1]
            self._unsettled["party"].append(code)
        elif kind == "ip":  # the office network holding it: likewise
            self._put({"x": self.ip_net}, "ip_net", "x", code, NONE)
            self.ip_net = self._buffers[("ip_net", "x")][: code + 1]
            self._unsettled["ip"].append(code)
        return code

    # ------------------------------------------------------------------ dossiers
    def add(self, dossier: Mapping[str, object]) -> None:
        """Add a normalised dossier (a dossier ID already inside is left as it is).

        It waits until the next drawing (:meth:`including`), which writes every
        waiting dossier into the arrays: adding costs the scoring path a list append.
        """
        dossier_id = str(dossier["dossier_id"])
        if dossier_id not in self.dossier_row and dossier_id not in self._waiting:
            self._waiting[dossier_id] = dossier

    def _flush(self) -> None:
        """Write the waiting dossiers into the arrays and groups, and settle their new codes."""
        for dossier in self._waiting.values():
            self._append(dossier)
        self._waiting.clear()
        party, ips = self._unsettled["party"], self._unsettled["ip"]
        if party:
            ids = pd.Series(self.values["party"][party], dtype="str")
            self.is_business[party] = (owner_id_kind(ids) == "business").to_numpy(bool)
            party.clear()
        if ips:
            self.ip_net[ips] = self.networks.match(self.values["ip"][ips])
            ips.clear()

    def _append(self, dossier: Mapping[str, object]) -> None:
        dossier_id = str(dossier["dossier_id"])
        if dossier_id in self.dossier_row:
            return
        row = self._n
        for column, (kind, field_name) in _CODED.items():
            self._put(self.d, "d", column, row, self._code(kind, dossier.get(field_name)))
        self._put(self.d, "d", "t", row, _ns(dossier.get("submitted_at")))
        self._put(self.d, "d", "accepted_at", row, _ns(dossier.get("accepted_at")))
        self._put(self.values, "values", "dossier", row, dossier_id)
        self._sizes["dossier"] = row + 1
        self.dossier_row[dossier_id] = row
        neg = -max(int(self.d["t"][row]), NO_TIME + 1)
        for kind in SHARED:
            code = int(self.d[kind][row])
            if code >= 0:
                groups = self.by[kind]
                assert isinstance(groups, LiveGroups)
                groups.added.setdefault(code, []).append((neg, row))
        self._n = row + 1

    def _drop_last(self) -> None:
        """Undo the last :meth:`_append` (its new vocabulary codes stay: unused, harmless)."""
        row = self._n - 1
        for kind in SHARED:
            code = int(self.d[kind][row])
            if code >= 0:
                groups = self.by[kind]
                assert isinstance(groups, LiveGroups)
                groups.added[code].pop()
        del self.dossier_row[str(self.values["dossier"][row])]
        self._n = row
        self._sizes["dossier"] = row
        for key in self.d:
            self.d[key] = self.d[key][:row]
        self.values["dossier"] = self.values["dossier"][:row]

    @contextlib.contextmanager
    def including(self, dossier: Mapping[str, object]) -> Iterator[None]:
        """The index with ``dossier`` in it for the block, as it was after (a draw before
        the dossier is committed to the history)."""
        self._flush()
        added = str(dossier["dossier_id"]) not in self.dossier_row
        if added:
            self._append(dossier)
            self._flush()  # its own new codes
        try:
            yield
        finally:
            if added:
                self._drop_last()


def _ns(value: object) -> int:
    """A normalised timestamp as UTC nanoseconds (``NO_TIME`` when unknown)."""
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        return int(value.as_unit("ns").value)
    return NO_TIME
