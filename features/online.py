"""One dossier's per-dossier features, in pure Python, for the scoring API.

:func:`features.compute.compute_features` computes the per-dossier ("static")
features of a whole history, vectorised. The scoring API needs the same
values for ONE dossier in microseconds, so :class:`ReferenceIndex` turns the
reference tables into plain dicts once, and :meth:`ReferenceIndex.dossier`
answers with dict lookups and a little arithmetic: it restates the holder
links (:func:`features.links.holder_links`) for one row, then runs the
``row`` computation of every declaration of the registry (:mod:`features.defs`:
features, the event flags and keys the history counters read, data gaps)
on a :class:`RowInputs`. ``tests/features/test_registry_parity.py`` proves,
declaration by declaration, that the two paths agree on every dossier of a
simulated province.

A missing value is ``None`` in the index, and matches ``None`` in its dicts
exactly where pandas matches NaN with NaN (merges, ``isin``, index lookups);
``==`` between two unknowns is false, as in pandas.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from features import _online_tables as tab
from features._online_tables import NS_PER_S, Key, Validity
from features.contract import LOCAL_TZ
from features.defs import FLAGS, GAPS, KEYS, STATIC
from features.links import TEAM_GRACE_DAYS, TEAM_ROLE, summarise_row
from features.networks import networks_of, office_networks

_NAN = math.nan
_NS_PER_DAY = 86_400 * NS_PER_S
_TEAM_GRACE_NS = TEAM_GRACE_DAYS * _NS_PER_DAY
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_TZ = ZoneInfo(LOCAL_TZ)  # the instance pandas' timestamps carry (zoneinfo caches by key)
#: (name, row computation, categories or None) of every per-dossier feature, in order
_STATIC_ROWS: tuple[tuple[str, Callable[[RowInputs], object], frozenset[str] | None], ...] = tuple(
    (f.name, f.row, frozenset(f.categories) if f.categories else None)
    for f in STATIC
    if f.row is not None  # every one (the registry checks)
)
_EVENT_ROWS = tuple((x.name, x.row) for x in FLAGS)
_KEY_ROWS = tuple((x.name, x.row) for x in KEYS)
_MANDATE_RANK = ("valid", "other_procedure", "expired", "not_yet_valid", "none")
#: distinct IP addresses whose office-network answer is remembered
_IP_CACHE_SIZE = 1 << 16


@dataclass
class RowFeatures:
    """One dossier's per-dossier features, as :func:`features.compute.compute_features` gives them."""

    static: dict[str, object]  # every name of defs.STATIC, in order
    flags: dict[str, bool]  # the event flags of defs.FLAGS (_unlinked, _self, ...)
    keys: dict[str, str | None]  # the event keys of defs.KEYS (None when unknown)
    holder_id: str | None
    gaps: list[str]  # data gap codes, in the registry's order (defs.GAPS)


class RowInputs:
    """What the registry's row computations read for one dossier (:mod:`features.defs._kit`).

    ``d`` the normalised dossier, ``index`` the :class:`ReferenceIndex`,
    ``ts`` its submission time (local), ``year`` ... ``minute`` and
    ``weekday`` (Monday 0) its local clock, ``day`` its local midnight in
    nanoseconds (as naive dates are held), ``leap`` whether February has 29
    days that year; ``account``, ``owner``, ``unit``, ``channel``, ``device``,
    ``ip`` and ``declared`` its text fields (None when unknown); ``acc`` and
    ``unit_row`` their reference rows (None when unknown), ``links`` how the
    holder relates to the owner, and ``values`` the features computed so far.
    """

    d: Mapping[str, object]
    index: ReferenceIndex
    ts: pd.Timestamp
    year: int
    month: int
    mday: int
    hour: int
    minute: int
    weekday: int
    day: int
    leap: bool
    account: Key
    owner: Key
    unit: Key
    channel: Key
    device: Key
    ip: Key
    declared: Key
    acc: tab.Account | None
    unit_row: tuple[Key, float] | None
    links: _Links
    values: dict[str, object]

    __slots__ = (
        "acc", "account", "channel", "d", "day", "declared", "device", "hour", "index", "ip", "leap",
        "links", "mday", "minute", "month", "owner", "ts", "unit", "unit_row", "values", "weekday", "year",
    )  # fmt: skip


@dataclass(slots=True)
class _Links:
    """One row of :func:`features.links.holder_links` (None where the batch has NaN)."""

    holder_id: Key
    is_self: bool | None
    same_household: bool | None
    relation_kind: Key
    related_2: bool
    mandate_status: str
    claim_status: str
    legal_rep: bool
    holder_staff_role: Key
    holder_staff_same_unit: bool | None
    holder_team_lapsed: bool
    owner_in_people: bool | None
    holder_in_people: bool | None
    owner_deceased: bool | None
    days_since_owner_death: float
    owner_age: float
    holder_age: float
    has_account: bool
    has_owner: bool
    owner_is_business: bool
    #: the summary (:func:`features.links.summarise_row`), set once the rest is known
    holder_relation: str = "unknown"


def _text(v: object) -> Key:
    return v if isinstance(v, str) else None


def _judge(validity: Validity, day: int, procedure: Key) -> str:
    """A mandate's status on ``day`` for ``procedure``, as ``links.mandate_status`` judges it."""
    valid_from, valid_to, scope = validity
    started = valid_from is None or valid_from <= day
    not_ended = valid_to is None or day <= valid_to
    if started and not_ended:
        return "valid" if scope is None or scope == procedure else "other_procedure"
    return "expired" if started else "not_yet_valid"


def _years(day: int, born: int | None) -> float:
    return _NAN if born is None else (day - born) // _NS_PER_DAY / 365.25


class ReferenceIndex:
    """The reference tables as plain dicts, to compute one dossier's per-dossier features.

    Build it once with :meth:`from_tables`; :meth:`dossier` only reads it
    (apart from a bounded cache of office-network answers per IP address),
    so threads can share it.

    Notes
    -----
    Memory is about 200 bytes per account, person, relation record (each
    way) and desk-visit day.
    """

    def __init__(self, tables: dict[str, pd.DataFrame], present: frozenset[str]) -> None:
        self.present = present
        self.accounts = tab.accounts(tables["accounts"])
        self.people = tab.people(tables["people"])
        self.relatives = tab.relatives(tables["relations"])
        self.mandates = tab.mandates_by_pair(tables["authorizations"])
        self.mandate_ids = tab.mandates_by_id(tables["authorizations"])
        self.legal_reps = tab.legal_reps(tables["businesses"])
        self.businesses = frozenset(tab.text(tables["businesses"]["business_id"]))
        self.posts = tab.posts(tables["staff"])
        self.units = tab.units(tables["units"])
        self.networks = office_networks(tables["units"])
        self.network_units = frozenset(u for _, _, us in self.networks.values() for u in us)
        self.visits = tab.first_visits(tables["counter_visits"])
        self._ip_units: dict[str, frozenset[str] | None] = {}
        # the data gaps to check, in order; None: an absent table's, which always holds
        self._gap_rows = [
            (g.code, g.row) for g in GAPS if g.absent_table is None or g.absent_table not in present
        ]

    def __repr__(self) -> str:
        return (
            f"ReferenceIndex({len(self.accounts)} accounts, {len(self.people)} people, "
            f"{len(self.relatives)} people with relations, {len(self.mandate_ids)} mandates, "
            f"{len(self.units)} units, {len(self.visits)} desk visit days)"
        )

    @classmethod
    def from_tables(
        cls, tables: dict[str, pd.DataFrame], present: frozenset[str]
    ) -> ReferenceIndex:
        """Index the normalised reference tables.

        Parameters
        ----------
        tables : ``Dataset.tables`` from :func:`features.read_dataset` (an
            absent table is an empty frame with the contract's columns);
            ``dossiers`` is not read.
        present : ``Dataset.present``, which optional tables the folder had.

        Notes
        -----
        Vectorised up to the final ``dict(zip(...))``; Python loops run once
        per relation, mandate and staff record. Keyed tables keep their first
        row per key, as the batch does. For a province of 1M dossiers (540k
        people, 318k accounts, 404k relation records) it takes about 3 s and
        0.4 GB.
        """
        return cls(tables, present)

    def units_at(self, ip: str) -> frozenset[str] | None:
        """Units whose office network holds ``ip`` (None when it is not an address); cached."""
        try:
            return self._ip_units[ip]
        except KeyError:
            pass
        found = networks_of(ip, self.networks)
        hit = None if found is None else frozenset(found)
        if len(self._ip_units) >= _IP_CACHE_SIZE:
            self._ip_units.clear()
        self._ip_units[ip] = hit
        return hit

    def dossier(self, d: Mapping[str, object]) -> RowFeatures:
        """The per-dossier features of one normalised dossier, as of its submission.

        Parameters
        ----------
        d : the ``dossiers`` contract columns of one dossier, normalised like a
            row of ``Dataset.tables["dossiers"]``: text as ``str`` (anything
            else is unknown), ``submitted_at`` a tz-aware ``pd.Timestamp``.

        Returns
        -------
        RowFeatures
            ``static`` holds, for every name of :data:`features.defs.STATIC`,
            the value ``compute_features(..., at="submission")`` gives: flags
            and numbers as float (NaN when unknown), categories as str or NaN.

        Raises
        ------
        ValueError
            When ``submitted_at`` is not a timestamp.

        Notes
        -----
        Pure Python, a few dozen dict lookups: about 20 µs on a small 2-CPU
        machine (median over a simulated province).
        """
        ts = d["submitted_at"]
        if not isinstance(ts, pd.Timestamp):
            raise ValueError(f"submitted_at: expected a tz-aware timestamp, found {ts!r}")
        if ts.tzinfo is not _TZ:
            if ts.tzinfo is None:
                raise ValueError(f"submitted_at: expected a tz-aware timestamp, found {ts!r}")
            ts = ts.tz_convert(_TZ)
        r = RowInputs()
        r.d, r.index, r.ts = d, self, ts
        r.account = account = _text(d.get("account_id"))
        r.owner = owner = _text(d.get("owner_id"))
        r.unit = unit = _text(d.get("unit_id"))
        r.channel, r.device = _text(d.get("channel")), _text(d.get("device_id"))
        r.ip = _text(d.get("ip"))
        r.declared = _text(d.get("declared_relation"))
        year, month, mday = ts.year, ts.month, ts.day
        r.year, r.month, r.mday, r.hour, r.minute = year, month, mday, ts.hour, ts.minute
        ordinal = dt.date(year, month, mday).toordinal()
        r.day = day = (ordinal - _EPOCH_ORDINAL) * _NS_PER_DAY  # local midnight, as dates are held
        r.weekday = (ordinal - 1) % 7  # ordinal 1 (0001-01-01) was a Monday
        r.leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        r.acc = acc = self.accounts.get(account)
        r.unit_row = self.units.get(unit)
        r.links = ln = self._links(d, acc, owner, unit, day)
        r.values = static = {}
        for name, row, categories in _STATIC_ROWS:
            value = row(r)
            # as the batch frame's Categorical keeps it: NaN outside the categories
            static[name] = value if categories is None or value in categories else _NAN
        flags = {name: row(r) for name, row in _EVENT_ROWS}
        keys = {name: row(r) for name, row in _KEY_ROWS}
        gaps = [code for code, row in self._gap_rows if row is None or row(r)]
        return RowFeatures(static, flags, keys, ln.holder_id, gaps)

    def _links(
        self, d: Mapping[str, object], acc: tab.Account | None, owner: Key, unit: Key, day: int
    ) -> _Links:
        """How the holder relates to the owner: one row of :func:`features.links.holder_links`."""
        present, people = self.present, self.people
        holder = acc[0] if acc is not None else None
        has_account = holder is not None
        is_self = holder == owner if has_account and owner is not None else None
        h_person, o_person = people.get(holder), people.get(owner)
        h_hh = h_person[0] if h_person is not None else None
        o_hh = o_person[0] if o_person is not None else None
        same_household = h_hh == o_hh if h_hh is not None and o_hh is not None else None
        # relation_between: the direct role either way, else a relative in common
        h_rel = self.relatives.get(holder)
        role = h_rel.get(owner) if h_rel is not None else None
        related_2 = False
        if role is None and h_rel is not None and owner is not None and holder != owner:
            o_rel = self.relatives.get(owner)
            related_2 = o_rel is not None and not h_rel.keys().isdisjoint(o_rel.keys())
        mandate, claim = self._mandate_status(
            owner, holder, _text(d.get("authorization_id")), day, _text(d.get("procedure_code"))
        )
        rep = self.legal_reps.get(owner)
        legal_rep = has_account and rep is not None and rep == holder
        staff_role, same_unit, team_lapsed = self._staff_role(holder, unit, day)
        in_people = "people" in present
        owner_in = owner in people
        death = o_person[2] if o_person is not None else None
        died = death is not None and death < day
        owner_age = _years(day, o_person[1] if o_person is not None else None)
        holder_age = _years(day, h_person[1] if h_person is not None else None)
        links = _Links(
            holder_id=holder,
            is_self=is_self,
            same_household=same_household,
            relation_kind=role,
            related_2=related_2,
            mandate_status=mandate,
            claim_status=claim,
            legal_rep=legal_rep,
            holder_staff_role=staff_role,
            holder_staff_same_unit=same_unit,
            holder_team_lapsed=team_lapsed,
            owner_in_people=owner_in if in_people else None,
            holder_in_people=(holder in people if has_account else None) if in_people else None,
            # death dates are only as complete as the extract: unknown unless the owner is in it
            owner_deceased=(died if owner_in else None) if in_people else None,
            days_since_owner_death=float((day - death) // _NS_PER_DAY) if died else _NAN,  # type: ignore[operator]
            owner_age=owner_age,
            holder_age=holder_age,
            has_account=has_account,
            has_owner=owner is not None,
            owner_is_business="businesses" in present and owner in self.businesses,
        )
        links.holder_relation = summarise_row(links)
        return links

    def _mandate_status(
        self, owner: Key, holder: Key, claimed: Key, day: int, procedure: Key
    ) -> tuple[str, str]:
        """``mandate_status`` and ``claim_status``, as :func:`features.links.mandate_status`."""
        if "authorizations" not in self.present:
            return "unknown", "none" if claimed is None else "unknown"
        best = len(_MANDATE_RANK) - 1
        for validity in self.mandates.get((owner, holder), ()):
            best = min(best, _MANDATE_RANK.index(_judge(validity, day, procedure)))
        mandate = _MANDATE_RANK[best]
        if claimed is None:
            return mandate, "none"
        found = self.mandate_ids.get(claimed)
        if found is None or (found[0] is None and found[1] is None):
            return mandate, "unknown_id"
        grantor, grantee, valid_from, valid_to, scope = found
        # without an account (desk or postal filings) only the grantor can be checked;
        # an unknown party never matches (NaN != anything, as in pandas)
        if grantor is None or grantor != owner or (holder is not None and grantee != holder):
            return mandate, "wrong_parties"
        return mandate, _judge((valid_from, valid_to, scope), day, procedure)

    def _staff_role(self, holder: Key, unit: Key, day: int) -> tuple[Key, bool | None, bool]:
        """The holder's staff role on the day, whether at ``unit``, and whether a lapsed team post.

        As ``links.staff_roles``: among the posts active on the day, one at the
        receiving unit wins, then the first in table order; a community digital
        team post stays active ``links.TEAM_GRACE_DAYS`` after it ends (the
        third value says it has). (None, None, False) when the staff table is empty.
        """
        if self.posts is None:
            return None, None, False
        chosen: tuple[Key, bool, bool] | None = None
        for post_unit, role, active_from, active_to in self.posts.get(holder, ()):
            grace = _TEAM_GRACE_NS if role == TEAM_ROLE else 0
            if (active_from is None or active_from <= day) and (
                active_to is None or day <= active_to + grace
            ):
                lapsed = role == TEAM_ROLE and active_to is not None and day > active_to
                if post_unit is not None and post_unit == unit:
                    chosen = (role, True, lapsed)
                    break
                if chosen is None:
                    chosen = (role, False, lapsed)
        if chosen is None:
            return "none", False, False
        return chosen[0] or "none", chosen[1], chosen[2]  # a post without a role reads as "none"
