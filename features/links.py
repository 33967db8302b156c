"""How the account's holder relates to the dossier's owner.

This is the question the domain turns on (docs/domain.md): a dossier filed through
someone else's account is legitimate when the holder is the owner's parent,
spouse or household member, holds a valid mandate for this procedure and date,
is the owning business's legal representative, or is a community digital team
member helping; it is suspicious when none of these holds *and the data would
have shown it*. When the data cannot show it (the owner is not in the
population extract, a household ID is missing, the relations table is absent)
the answer is ``unknown``, never ``none_known``: a missing record is not proof
of no relation.

Civil-status links are only partly shared with the one-stop systems, so even
with both people and their households in the extract, no record between an
elderly owner and a holder one or two generations younger (or a child and a
holder one or two generations older) does not show that they are unrelated: relatives filing for
elderly parents are exactly what the domain says must never be flagged. Such
a pair is ``unknown`` too (:func:`kin_plausible`), and the model's benefit of
the doubt reads it innocently; what else the account did still counts.

All functions take and return frames; nothing here reads files.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features._private import index_of, on_threads, str_isin, values_at
from features._private import lookup as lookup_first
from features.contract import LOCAL_TZ

#: holder's role towards the owner, from a relation record read either way
_HOLDER_ROLE = {
    "parent_of": "parent",
    "child_of": "child",
    "spouse": "spouse",
    "guardian_of": "guardian",
    "ward_of": "ward",
    "sibling": "sibling",
    "household": "household",
}
_INVERSE = {
    "parent_of": "child_of",
    "child_of": "parent_of",
    "spouse": "spouse",
    "guardian_of": "ward_of",
    "ward_of": "guardian_of",
    "sibling": "sibling",
    "household": "household",
}


@dataclass(frozen=True)
class Rung:
    """One summary category and when it holds: on a frame of links and on one dossier's links.

    ``frame`` takes :func:`holder_links`'s frame (with ``has_account`` and
    ``has_owner`` beside its columns) and returns a boolean Series; ``row``
    takes one dossier's links (``ReferenceIndex``'s, the same names as
    attributes, None where the frame has NaN) and returns a bool. The two
    sit side by side so that a change to one is seen beside the other;
    ``tests/features/test_registry_parity.py`` holds them equal.
    """

    relation: str
    frame: Callable[[pd.DataFrame], pd.Series]
    row: Callable[[Any], bool]


def _staff(role: pd.Series) -> pd.Series:
    return role.notna() & ~role.isin(["none", TEAM_ROLE])


def _is_staff(role: object) -> bool:
    return role is not None and role not in ("none", TEAM_ROLE)


def _true(s: pd.Series) -> pd.Series:
    return s.fillna(False).astype(bool)


def _no_link_shown(v: pd.DataFrame) -> pd.Series:
    """The data would have shown a link, and none is there (see the module docstring)."""
    # enough data to say "no link": households known, or a business owner in the register
    sufficient = v["same_household"].notna() | v["owner_is_business"]
    # no record between generations is not proof of no relation
    kin = kin_plausible(v["owner_age"].to_numpy(), v["holder_age"].to_numpy())
    return sufficient & v["has_owner"] & ~kin


#: the summary category of :func:`holder_links`, in priority order: the first rung that holds
#: wins, and a dossier no rung holds for is ``unknown``
LADDER = (
    Rung("not_applicable", lambda v: ~v["has_account"], lambda r: not r.has_account),
    Rung("self", lambda v: _true(v["is_self"]), lambda r: bool(r.is_self)),
    Rung("legal_rep", lambda v: _true(v["legal_rep"]), lambda r: bool(r.legal_rep)),
    Rung(
        "mandate",
        lambda v: (v["mandate_status"] == "valid") | (v["claim_status"] == "valid"),
        lambda r: r.mandate_status == "valid" or r.claim_status == "valid",
    ),
    Rung("household", lambda v: _true(v["same_household"]), lambda r: bool(r.same_household)),
    Rung(
        "relative",
        lambda v: v["relation_kind"].notna() | _true(v["related_2"]),
        lambda r: r.relation_kind is not None or bool(r.related_2),
    ),
    Rung(
        "community_team",
        lambda v: v["holder_staff_role"] == TEAM_ROLE,
        lambda r: r.holder_staff_role == TEAM_ROLE,
    ),
    Rung(
        "staff_same_unit",
        lambda v: _staff(v["holder_staff_role"]) & v["holder_staff_same_unit"].eq(True),
        lambda r: _is_staff(r.holder_staff_role) and r.holder_staff_same_unit is True,
    ),
    Rung(
        "staff_other_unit",
        lambda v: _staff(v["holder_staff_role"]),
        lambda r: _is_staff(r.holder_staff_role),
    ),
    Rung(
        "none_known",
        _no_link_shown,
        lambda r: (
            r.has_owner
            and (r.same_household is not None or r.owner_is_business)
            and not kin_plausible(r.owner_age, r.holder_age)
        ),
    ),
)
#: the summary categories, in priority order (:data:`LADDER`, then ``unknown``)
HOLDER_RELATIONS = (*(rung.relation for rung in LADDER), "unknown")


def summarise_row(links: Any) -> str:
    """One dossier's summary category (:data:`LADDER` on ``ReferenceIndex``'s links)."""
    for rung in LADDER:
        if rung.row(links):
            return rung.relation
    return HOLDER_RELATIONS[-1]


#: categories that explain a filing for someone else
EXPLAINED = frozenset({"self", "legal_rep", "mandate", "household", "relative"})


#: one or two generations between relatives, in years (holder older or younger than the owner):
#: a grandchild files for a 90-year-old as a child does for a 70-year-old
KIN_GAP = (16.0, 70.0)
#: owners this old, or this young, are the ones relatives file for
KIN_ELDER, KIN_MINOR = 60.0, 18.0
#: days a community digital team member still reads as one after their roster entry ends
TEAM_GRACE_DAYS = 365
TEAM_ROLE = "community_digital_team"


def kin_plausible(owner_age: Any, holder_age: Any) -> Any:
    """Whether the holder could be the owner's child or grandchild (an elderly owner), or
    parent or grandparent (a minor).

    Works on floats and on arrays alike; an unknown age (NaN) gives False.
    The elderly owner's holder is 16-70 years younger; the minor's 16-70 years older.
    """
    gap = np.asarray(owner_age, dtype=float) - np.asarray(holder_age, dtype=float)
    low, high = KIN_GAP
    with np.errstate(invalid="ignore"):
        elder = (np.asarray(owner_age, dtype=float) >= KIN_ELDER) & (gap >= low) & (gap <= high)
        minor = (np.asarray(owner_age, dtype=float) < KIN_MINOR) & (-gap >= low) & (-gap <= high)
    return elder | minor


def lookup(keys: pd.Series, mapping: pd.Series) -> pd.Series:
    """``keys.map(mapping)`` that keeps the mapping's dtype and works on empty tables.

    ``mapping`` must have a unique index (the tables are de-duplicated on read).
    """
    (got,) = lookup_first(keys, mapping.index.to_series(), mapping)
    if got.dtype != mapping.dtype:  # an integer or boolean mapping with unknown keys
        return pd.Series(got.to_numpy(), index=keys.index, dtype=mapping.dtype)
    return got


def local_date(ts: pd.Series) -> pd.Series:
    """The local calendar day of tz-aware timestamps, as naive midnight datetimes."""
    return ts.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).dt.normalize()


def _both_ways(relations: pd.DataFrame) -> pd.DataFrame:
    """Relation records as (a, b, role of a towards b), in both directions."""
    r = relations.dropna(subset=["person_id", "related_id", "relation"])
    fwd = pd.DataFrame({"a": r["person_id"], "b": r["related_id"], "kind": r["relation"]})
    back = pd.DataFrame(
        {"a": r["related_id"], "b": r["person_id"], "kind": r["relation"].map(_INVERSE)}
    )
    both = pd.concat([fwd, back], ignore_index=True)
    both["role"] = both["kind"].map(_HOLDER_ROLE)
    return both.drop_duplicates(["a", "b"])[["a", "b", "role"]]


def relation_between(holder: pd.Series, owner: pd.Series, relations: pd.DataFrame) -> pd.DataFrame:
    """Direct relation role of the holder towards the owner, and whether they are two steps apart.

    Returns a frame aligned on ``holder``'s index with ``relation_kind`` (the
    holder's role: parent, child, spouse, sibling, guardian, ward, household;
    NaN when no record) and ``related_2`` (a common relative links them, e.g.
    grandparent or in-law).
    """
    out = pd.DataFrame(index=holder.index)
    if relations.empty:
        out["relation_kind"] = np.nan
        out["related_2"] = False
        return out
    both = _both_ways(relations)
    # people as codes over one vocabulary (-1: unknown), a pair as a * people + b
    columns = [holder, owner, both["a"], both["b"]]
    codes, people = pd.factorize(pd.concat(columns, ignore_index=True), use_na_sentinel=True)
    a, b, edge_a, edge_b = np.split(
        codes.astype(np.int64), np.cumsum([len(c) for c in columns])[:-1]
    )
    n = max(len(people), 1)
    pair = np.where((a >= 0) & (b >= 0), a * n + b, -1)
    at = pd.Index(edge_a * n + edge_b).get_indexer(pair)  # (a, b) is unique in ``both``
    role = both["role"].to_numpy(dtype=object)
    out["relation_kind"] = pd.Series(
        np.where(at >= 0, role[np.maximum(at, 0)], np.nan), index=holder.index, dtype=object
    )
    # two steps: holder - m - owner (grandparent, in-law, ...), on distinct pairs only
    no_role = out["relation_kind"].isna().to_numpy()
    todo = np.unique(pair[no_role & (pair >= 0) & (a != b)])
    edges = pd.DataFrame({"a": edge_a, "m": edge_b})
    step = pd.DataFrame({"a": todo // n, "b": todo % n}).merge(edges, on="a")
    step = step.merge(edges.rename(columns={"a": "m", "m": "b2"}), on="m")
    linked = step.loc[step["b2"] == step["b"]]
    out["related_2"] = np.isin(pair, linked["a"].to_numpy() * n + linked["b"].to_numpy())
    return out


def mandate_status(
    dossiers: pd.DataFrame, holder: pd.Series, authorizations: pd.DataFrame, present: bool
) -> pd.DataFrame:
    """Whether a registered mandate covers this filing, and what the claimed one says.

    ``mandate_status``: ``valid`` (a mandate from the owner to the holder covers
    the date and procedure), ``expired``, ``not_yet_valid``, ``other_procedure``,
    ``none`` (no mandate between them), ``unknown`` (no mandates table).
    ``claim_status`` for the dossier's own ``authorization_id``: ``none`` (no
    claim), ``valid``, ``unknown_id``, ``wrong_parties``, ``expired``,
    ``not_yet_valid``, ``other_procedure``; ``unknown`` without the table.
    """
    out = pd.DataFrame(index=dossiers.index)
    if not present:
        out["mandate_status"] = "unknown"
        out["claim_status"] = np.where(dossiers["authorization_id"].isna(), "none", "unknown")
        return out
    day = local_date(dossiers["submitted_at"])
    base = pd.DataFrame(
        {
            "owner": dossiers["owner_id"],
            "holder": holder,
            "day": day,
            "proc": dossiers["procedure_code"],
        },
        index=dossiers.index,
    ).reset_index()
    a = authorizations.rename(
        columns={"grantor_id": "owner", "grantee_id": "holder", "procedure_code": "scope"}
    )

    def judge(m: pd.DataFrame) -> pd.Series:
        started = m["valid_from"].isna() | (m["valid_from"] <= m["day"])
        not_ended = m["valid_to"].isna() | (m["day"] <= m["valid_to"])
        scope_ok = m["scope"].isna() | (m["scope"] == m["proc"])
        return pd.Series(
            np.select(
                [started & not_ended & scope_ok, started & not_ended, ~started, ~not_ended],
                ["valid", "other_procedure", "not_yet_valid", "expired"],
                "none",
            ),
            index=m.index,
        )

    rank = {"valid": 0, "other_procedure": 1, "expired": 2, "not_yet_valid": 3, "none": 4}
    m = base.merge(
        a[["owner", "holder", "valid_from", "valid_to", "scope"]], on=["owner", "holder"]
    )
    if len(m):
        m["status"] = judge(m)
        m["rank"] = m["status"].map(rank)
        best = m.sort_values("rank").drop_duplicates("index").set_index("index")["status"]
    else:
        best = pd.Series(dtype=object)
    out["mandate_status"] = best.reindex(dossiers.index).fillna("none")
    claim = base.assign(authorization_id=dossiers["authorization_id"].to_numpy())
    c = claim.merge(
        a[["authorization_id", "owner", "holder", "valid_from", "valid_to", "scope"]].rename(
            columns={"owner": "g_owner", "holder": "g_holder"}
        ),
        on="authorization_id",
        how="left",
    )
    c = c.drop_duplicates("index").set_index("index").reindex(dossiers.index)
    status = judge(c) if len(c) else pd.Series(dtype=object)
    # without an account (desk or postal filings) only the grantor can be checked
    wrong = (c["g_owner"] != c["owner"]) | (c["holder"].notna() & (c["g_holder"] != c["holder"]))
    out["claim_status"] = np.select(
        [c["authorization_id"].isna(), c["g_owner"].isna() & c["g_holder"].isna(), wrong],
        ["none", "unknown_id", "wrong_parties"],
        status.reindex(dossiers.index).fillna("none"),
    )
    return out


def staff_roles(
    holder: pd.Series, unit: pd.Series, day: pd.Series, staff: pd.DataFrame
) -> pd.DataFrame:
    """The holder's staff role on the day (if any) and whether they work at the receiving unit.

    A community digital team member whose roster entry ended less than
    :data:`TEAM_GRACE_DAYS` before the day still reads as one: the teams are
    neighbourhood volunteers, their rosters are kept by the commune and lag
    behind who actually helps at the community hall, and a team member
    helping an elderly neighbour must never read as a stranger filing for
    many unrelated owners (docs/domain.md). Officers' posts get no such grace.
    """
    out = pd.DataFrame(index=holder.index)
    if staff.empty:
        out["holder_staff_role"] = np.nan
        out["holder_staff_same_unit"] = np.nan
        out["holder_team_lapsed"] = False
        return out
    q = pd.DataFrame(
        {"person_id": holder, "unit": unit, "day": day}, index=holder.index
    ).reset_index()
    m = q.merge(staff[["person_id", "unit_id", "role", "active_from", "active_to"]], on="person_id")
    grace = np.where(m["role"] == TEAM_ROLE, TEAM_GRACE_DAYS, 0)
    active = (m["active_from"].isna() | (m["active_from"] <= m["day"])) & (
        m["active_to"].isna() | (m["day"] <= m["active_to"] + pd.to_timedelta(grace, unit="D"))
    )
    m = m[active]
    m["same"] = m["unit_id"] == m["unit"]
    m = m.sort_values(["same"], ascending=False).drop_duplicates("index").set_index("index")
    out["holder_staff_role"] = m["role"].reindex(holder.index).fillna("none")
    out["holder_staff_same_unit"] = m["same"].reindex(holder.index).fillna(False).astype(bool)
    # read as a team member only through the grace: said beside the score (gap team_roster_lapsed)
    lapsed = (m["role"] == TEAM_ROLE) & m["active_to"].notna() & (m["day"] > m["active_to"])
    out["holder_team_lapsed"] = lapsed.reindex(holder.index).fillna(False).astype(bool)
    return out


def holder_links(tables: dict[str, pd.DataFrame], present: frozenset[str]) -> pd.DataFrame:
    """Per dossier: the holder, and every way the holder is (or is not known to be) linked to the owner.

    Parameters
    ----------
    tables : normalised contract tables (``Dataset.tables``).
    present : which optional tables the folder had.

    Returns
    -------
    Frame on the dossiers' index: ``holder_id``, ``is_self``, ``same_household``,
    ``relation_kind``, ``related_2``, ``mandate_status``, ``claim_status``,
    ``legal_rep``, ``holder_staff_role``, ``holder_staff_same_unit``,
    ``holder_team_lapsed`` (the team post that makes the holder a team member has ended),
    ``owner_in_people``, ``holder_in_people``, ``owner_deceased``,
    ``days_since_owner_death``, ``owner_age``, ``holder_age``,
    ``owner_is_business`` (the owner is in the business register, when there is
    one) and the summary ``holder_relation`` (one of :data:`HOLDER_RELATIONS`,
    by :data:`LADDER`).
    """
    d = tables["dossiers"]
    acc = tables["accounts"].drop_duplicates("account_id").set_index("account_id")
    people = tables["people"].drop_duplicates("person_id").set_index("person_id")
    out = pd.DataFrame(index=d.index)
    holder = lookup(d["account_id"], acc["holder_id"])
    out["holder_id"] = holder
    day = local_date(d["submitted_at"])
    has_account = holder.notna()
    out["is_self"] = (holder == d["owner_id"]).where(has_account & d["owner_id"].notna())
    # one hash join per key and table, every column it needs at once
    person = people.index.to_series()
    owner_at, holder_at = index_of(d["owner_id"], person), index_of(holder, person)
    o_hh, death, o_born = values_at(
        owner_at, d.index, people["household_id"], people["death_date"], people["birth_date"]
    )
    h_hh, h_born = values_at(holder_at, d.index, people["household_id"], people["birth_date"])
    out["same_household"] = (h_hh == o_hh).where(h_hh.notna() & o_hh.notna())
    # three joins that only read the tables: on threads for a large folder, joined in this order
    relation, mandate, staff = on_threads(
        [
            functools.partial(relation_between, holder, d["owner_id"], tables["relations"]),
            functools.partial(
                mandate_status, d, holder, tables["authorizations"], "authorizations" in present
            ),
            functools.partial(staff_roles, holder, d["unit_id"], day, tables["staff"]),
        ],
        len(d),
    )
    out = out.join(relation).join(mandate)
    rep = (
        tables["businesses"].drop_duplicates("business_id").set_index("business_id")["legal_rep_id"]
    )
    out["legal_rep"] = (lookup(d["owner_id"], rep) == holder) & has_account
    out = out.join(staff)
    unknown = pd.Series(np.nan, index=d.index, dtype=object)
    in_people = "people" in present
    owner_in = pd.Series(owner_at >= 0, index=d.index)
    out["owner_in_people"] = owner_in.astype(object) if in_people else unknown
    out["holder_in_people"] = (
        pd.Series(holder_at >= 0, index=d.index).astype(object).where(has_account)
        if in_people
        else unknown
    )
    # death dates are only as complete as the extract: unknown unless the owner is in it
    out["owner_deceased"] = (death < day).astype(object).where(owner_in) if in_people else unknown
    # float even with no rows (where() only makes it float when it has a NaN to put in)
    out["days_since_owner_death"] = (day - death).dt.days.astype(float).where(death < day)
    out["owner_age"] = (day - o_born).dt.days / 365.25
    out["holder_age"] = (day - h_born).dt.days / 365.25
    # a registered business owner: with the register, "no link" can be shown for it
    out["owner_is_business"] = (
        str_isin(d["owner_id"], tables["businesses"]["business_id"])
        if "businesses" in present
        else pd.Series(False, index=d.index)
    )
    out["holder_relation"] = summarise(out, has_account, d["owner_id"].notna())
    return out


def summarise(links: pd.DataFrame, has_account: pd.Series, has_owner: pd.Series) -> pd.Series:
    """One category per dossier (:data:`LADDER`, the first rung that holds)."""
    v = links.assign(has_account=has_account, has_owner=has_owner)
    conditions = [rung.frame(v).to_numpy(bool) for rung in LADDER]
    return pd.Series(
        np.select(conditions, list(HOLDER_RELATIONS[:-1]), HOLDER_RELATIONS[-1]), index=links.index
    )
