"""The reference tables as plain Python dicts, for :mod:`features.online` (not public API).

Each builder reads one normalised contract table, vectorised up to the final
``dict(zip(...))``, and keeps what one dossier's features look up. A missing
key is ``None``: ``None`` matches ``None`` in a dict exactly where pandas
matches NaN with NaN (``merge``, ``isin``, index lookups), so the online path
inherits the batch's behaviour on unknown keys without special cases. Times
are int nanoseconds: epoch (UTC) for timestamps, the wall clock for the
contract's naive dates.
"""

from __future__ import annotations

import math

import pandas as pd

from features.links import _both_ways, local_date
from features.pit import seconds

Key = str | None
Time = int | None
#: holder, created at, its local day, created from IP, account type, verification level
Account = tuple[Key, Time, Time, Key, Key, float]
#: household, birth date, death date
Person = tuple[Key, Time, Time]
#: valid from, valid to, procedure scope (None: any)
Validity = tuple[Time, Time, Key]
#: grantor, grantee, valid from, valid to, procedure scope
Mandate = tuple[Key, Key, Time, Time, Key]
#: unit, role, active from, active to
Post = tuple[Key, Key, Time, Time]

NS_PER_S = 1_000_000_000
_NAT = -(2**63)  # pandas' NaT as int64


def text(s: pd.Series) -> list[Key]:
    """A text column as Python values, NaN as None."""
    return s.astype(object).where(s.notna(), None).tolist()


def times(s: pd.Series) -> list[Time]:
    """Timestamps or naive dates as int nanoseconds, NaT as None."""
    ints = s.array.as_unit("ns").asi8.tolist()  # type: ignore[attr-defined]
    return [None if v == _NAT else v for v in ints]


def total_seconds(ns: int) -> float:
    """``pd.Timedelta(ns).total_seconds()``, bit for bit, without building a Timedelta."""
    floor_s, residual = divmod(ns, NS_PER_S)
    out = floor_s + residual / NS_PER_S
    # pandas nudges a value that rounded onto a whole second off it (possible above 2**53 ns)
    if residual and abs(floor_s) < 2**52:
        if out == floor_s:
            out = math.nextafter(out, math.inf)
        elif out == floor_s + 1:
            out = math.nextafter(out, -math.inf)
    return out


def accounts(acc: pd.DataFrame) -> dict[Key, Account]:
    """Account ID -> :data:`Account`, first row per ID."""
    acc = acc.drop_duplicates("account_id")
    created = acc["created_at"]
    values = zip(
        text(acc["holder_id"]),
        times(created),
        times(local_date(created)),
        text(acc["created_ip"]),
        text(acc["account_type"]),
        acc["verification_level"].astype("float64").tolist(),
        strict=True,
    )
    return dict(zip(text(acc["account_id"]), values, strict=True))


def people(ppl: pd.DataFrame) -> dict[Key, Person]:
    """Person ID -> :data:`Person`, first row per ID."""
    ppl = ppl.drop_duplicates("person_id")
    values = zip(
        text(ppl["household_id"]), times(ppl["birth_date"]), times(ppl["death_date"]), strict=True
    )
    return dict(zip(text(ppl["person_id"]), values, strict=True))


def relatives(relations: pd.DataFrame) -> dict[Key, dict[Key, Key]]:
    """Person -> {relative: the person's role towards them}, records read both ways.

    The same pairs as :func:`features.links.relation_between` (the first
    record per ordered pair wins), so one dict answers both the direct role
    and the two-step question (do the two share a relative?).
    """
    both = _both_ways(relations)
    out: dict[Key, dict[Key, Key]] = {}
    for a, b, role in zip(
        text(both["a"]), text(both["b"]), text(both["role"].astype(object)), strict=True
    ):
        known = out.get(a)
        if known is None:
            out[a] = {b: role}
        else:
            known[b] = role
    return out


def _validities(a: pd.DataFrame) -> list[Validity]:
    return list(
        zip(times(a["valid_from"]), times(a["valid_to"]), text(a["procedure_code"]), strict=True)
    )


def mandates_by_pair(a: pd.DataFrame) -> dict[tuple[Key, Key], list[Validity]]:
    """(grantor, grantee) -> the validity of every mandate between them, in table order."""
    out: dict[tuple[Key, Key], list[Validity]] = {}
    pairs = zip(text(a["grantor_id"]), text(a["grantee_id"]), strict=True)
    for pair, validity in zip(pairs, _validities(a), strict=True):
        out.setdefault(pair, []).append(validity)
    return out


def mandates_by_id(a: pd.DataFrame) -> dict[Key, Mandate]:
    """Authorization ID -> :data:`Mandate`, first row per ID."""
    a = a.drop_duplicates("authorization_id")
    rows = zip(
        text(a["authorization_id"]),
        text(a["grantor_id"]),
        text(a["grantee_id"]),
        _validities(a),
        strict=True,
    )
    return {aid: (grantor, grantee, *validity) for aid, grantor, grantee, validity in rows}


def legal_reps(businesses: pd.DataFrame) -> dict[Key, Key]:
    """Business ID -> its legal representative, first row per ID."""
    b = businesses.drop_duplicates("business_id")
    return dict(zip(text(b["business_id"]), text(b["legal_rep_id"]), strict=True))


def posts(staff: pd.DataFrame) -> dict[Key, list[Post]] | None:
    """Person -> their staff posts in table order; None for an empty table (roles unknown)."""
    if staff.empty:
        return None
    out: dict[Key, list[Post]] = {}
    rows = zip(
        text(staff["person_id"]),
        text(staff["unit_id"]),
        text(staff["role"]),
        times(staff["active_from"]),
        times(staff["active_to"]),
        strict=True,
    )
    for person, unit, role, active_from, active_to in rows:
        out.setdefault(person, []).append((unit, role, active_from, active_to))
    return out


def units(u: pd.DataFrame) -> dict[Key, tuple[Key, float]]:
    """Unit ID -> (level, online target), first row per ID."""
    u = u.drop_duplicates("unit_id")
    values = zip(text(u["level"]), u["online_target"].astype("float64").tolist(), strict=True)
    return dict(zip(text(u["unit_id"]), values, strict=True))


def first_visits(visits: pd.DataFrame) -> dict[tuple[str, str, int], int]:
    """(person, unit, local day) -> the day's first desk visit, in epoch seconds.

    The owner was at the desk before filing when that first visit is earlier
    in whole seconds, as :func:`features.defs.account.desk_visit_today` counts; a
    visit without a person or a unit counts for nothing there, nor here.
    """
    v = visits.dropna(subset=["person_id", "unit_id", "visited_at"])
    first = (
        pd.DataFrame(
            {
                "person": v["person_id"].to_numpy(),
                "unit": v["unit_id"].to_numpy(),
                "day": local_date(v["visited_at"]).array.as_unit("ns").asi8,
                "t": seconds(v["visited_at"]),
            }
        )
        .groupby(["person", "unit", "day"], sort=False)["t"]
        .min()
    )
    keys = zip(*(first.index.get_level_values(i).tolist() for i in range(3)), strict=True)
    return dict(zip(keys, first.tolist(), strict=True))
