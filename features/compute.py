"""Compute the feature set of :mod:`features.definitions` for a whole history, in batch.

``compute_features(ds, at="submission")`` gives, for every dossier, only what
was known when it was submitted: the reference tables, the dossier's own
submission fields and earlier dossiers. ``at="review"`` adds what an
inspection team sees later (acceptance, what the account did afterwards).
"""

from __future__ import annotations

import bisect
import ipaddress
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import (
    ATTACHMENT_KINDS,
    CHANNELS,
    DECLARED_RELATIONS,
    LOCAL_TZ,
    STAFF_ROLES,
)
from features.definitions import COUNTERS, REVIEW_COUNTERS, feature_names
from features.links import EXPLAINED, HOLDER_RELATIONS, holder_links, local_date, lookup
from features.pit import compute_counter, count_before, seconds

#: fixed categories, so a model sees the same encoding on every data set
CATEGORIES: dict[str, tuple[str, ...]] = {
    "holder_relation": HOLDER_RELATIONS,
    "relation_kind": ("parent", "child", "spouse", "guardian", "ward", "sibling", "household"),
    "mandate_status": ("valid", "other_procedure", "expired", "not_yet_valid", "none", "unknown"),
    "claim_status": (
        "none",
        "valid",
        "unknown_id",
        "wrong_parties",
        "expired",
        "not_yet_valid",
        "other_procedure",
        "unknown",
    ),
    "holder_staff_role": (*STAFF_ROLES, "none"),
    "channel": CHANNELS,
    "declared_relation": DECLARED_RELATIONS,
    "attachment_kind": ATTACHMENT_KINDS,
}
STAFF_AT_DESK = ("one_stop_officer", "manager", "other")
#: the data gap listed for every dossier when an optional table is absent, in this order
ABSENT_TABLE_GAPS = (
    ("people", "no_population_extract"),
    ("relations", "no_relations_table"),
    ("authorizations", "no_mandates_table"),
    ("staff", "no_staff_registry"),
    ("counter_visits", "no_desk_visits"),
    ("units", "no_units_table"),
)


@dataclass
class FeatureFrame:
    """Features of a set of dossiers, with the data gaps that limit them."""

    frame: pd.DataFrame  # index: dossier_id; columns: feature_names(at)
    data_gaps: pd.Series  # index: dossier_id; ';'-separated gap codes ('' when none)
    at: str


def _flag(s: pd.Series) -> pd.Series:
    """Booleans with unknowns as 1.0 / 0.0 / NaN (what the model reads)."""
    return pd.to_numeric(s.map({True: 1.0, False: 0.0}), errors="coerce")


def _ip_ranges(units: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for unit, nets in zip(units["unit_id"], units["office_networks"], strict=True):
        if not isinstance(nets, str):
            continue
        for cidr in nets.split(";"):
            try:
                net = ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                continue
            rows.append((unit, net.version, int(net.network_address), int(net.broadcast_address)))
    return pd.DataFrame(rows, columns=["unit_id", "version", "lo", "hi"])


#: office networks per IP version: first addresses (sorted), last addresses, units
OfficeNetworks = dict[int, tuple[list[int], list[int], list[str]]]


def office_networks(units: pd.DataFrame) -> OfficeNetworks:
    """The units' office networks per IP version, sorted by first address (empty when none)."""
    ranges = _ip_ranges(units)
    if ranges.empty:
        return {}
    ranges = ranges.sort_values(["version", "lo"])
    return {
        v: (g["lo"].tolist(), g["hi"].tolist(), g["unit_id"].tolist())
        for v, g in ranges.groupby("version")
    }


def networks_of(value: str, networks: OfficeNetworks) -> list[str] | None:
    """The units whose office network holds the address ``value``; None when it is not an IP.

    Notes
    -----
    Binary search over the sorted networks, then the 8 networks starting at or
    before the address are checked, so nested networks up to 8 deep are all
    found. Cost: O(log networks).
    """
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    lo, hi, un = networks.get(addr.version, ([], [], []))
    x = int(addr)
    j = bisect.bisect_right(lo, x) - 1
    return [un[k] for k in range(j, max(-1, j - 8), -1) if lo[k] <= x <= hi[k]]


def ip_membership(
    ips: pd.Series, unit: pd.Series, units: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """Whether each IP is in its receiving unit's office network, and in any unit's.

    Unknown (NaN) when the IP is missing or unparseable, or when no network is
    known (for the unit, or at all).

    Notes
    -----
    Each distinct address is parsed once and located by :func:`networks_of`;
    the result is joined back on (ip, unit). Cost: O(distinct IPs · log networks).
    """
    networks = office_networks(units)
    nan = pd.Series(np.nan, index=ips.index)
    if not networks:
        return nan, nan
    parsed, pairs = set(), []
    for value in ips.dropna().unique():
        found = networks_of(value, networks)
        if found is None:
            continue
        parsed.add(value)
        pairs += [(value, u) for u in found]
    hits = pd.DataFrame(pairs, columns=["ip", "unit_id"]).drop_duplicates()
    known_ip = ips.isin(parsed)
    anyhit = ips.isin(set(hits["ip"]))
    probe = pd.DataFrame({"ip": ips.to_numpy(), "unit_id": unit.to_numpy()}).reset_index()
    joined = probe.merge(hits.assign(hit=True), on=["ip", "unit_id"], how="left").set_index(
        "index"
    )["hit"]
    unit_hit = pd.Series(joined.reindex(range(len(ips))).notna().to_numpy(), index=ips.index)
    unit_known = unit.isin({u for _, _, units_of in networks.values() for u in units_of})
    return _flag(unit_hit).where(known_ip & unit_known), _flag(anyhit).where(known_ip)


def _joint_codes(*cols: pd.Series) -> list[np.ndarray]:
    """Factorise several key columns over one shared vocabulary."""
    allv = pd.concat(cols, ignore_index=True)
    codes, _ = pd.factorize(allv, use_na_sentinel=True)
    out, start = [], 0
    for c in cols:
        out.append(codes[start : start + len(c)].astype(np.int64))
        start += len(c)
    return out


def desk_visit_today(d: pd.DataFrame, visits: pd.DataFrame, present: bool, at: str) -> pd.Series:
    """The owner came to the receiving unit's desk on the day (before filing, at submission)."""
    if not present:
        return pd.Series(np.nan, index=d.index)
    v = visits.dropna(subset=["person_id", "visited_at"])
    key_d = (
        d["owner_id"]
        + "|"
        + d["unit_id"]
        + "|"
        + local_date(d["submitted_at"]).dt.strftime("%Y-%m-%d")
    )
    key_v = (
        v["person_id"]
        + "|"
        + v["unit_id"]
        + "|"
        + local_date(v["visited_at"]).dt.strftime("%Y-%m-%d")
    )
    qk, ek = _joint_codes(key_d, key_v)
    t = seconds(d["submitted_at"])
    et = seconds(v["visited_at"])
    if at == "review":  # any visit that day
        t = t + 86_400
    n = count_before(qk, t, ek, et)
    return _flag(pd.Series(n > 0, index=d.index)).where(d["owner_id"].notna())


def event_frame(d: pd.DataFrame, links: pd.DataFrame, f: pd.DataFrame) -> pd.DataFrame:
    """The dossiers as events for the history counters: their keys and the flags that select them.

    Parameters
    ----------
    d : the normalised dossiers.
    links : :func:`features.links.holder_links` of ``d``, on ``d``'s index.
    f : per-dossier features on ``d``'s index (``ip_in_office_network`` is read).
    """
    local = d["submitted_at"].dt.tz_convert(LOCAL_TZ)
    w = pd.DataFrame(
        {
            c: d[c]
            for c in (
                "account_id",
                "device_id",
                "ip",
                "contact_phone",
                "payer_token",
                "owner_id",
                "procedure_code",
            )
        }
    )
    has_acc = links["holder_id"].notna()
    # a community digital team member helping people is no stranger to them (docs/domain.md)
    w["_unlinked"] = has_acc & ~links["holder_relation"].isin(EXPLAINED | {"community_team"})
    w["_unrelated"] = links["holder_relation"] == "none_known"
    w["_holder_staff"] = links["holder_staff_role"].isin(STAFF_AT_DESK)
    w["_holder_team"] = links["holder_staff_role"] == "community_digital_team"
    w["_self"] = links["is_self"] == True  # noqa: E712
    w["_office"] = f["ip_in_office_network"] == 1
    w["_online"] = d["channel"] == "online"
    w["_owner_deceased"] = links["owner_deceased"] == True  # noqa: E712
    w["_account_device"] = (d["account_id"] + "|" + d["device_id"]).where(
        d["account_id"].notna() & d["device_id"].notna()
    )
    w["_unit_month"] = d["unit_id"] + "|" + local.dt.strftime("%Y-%m")
    return w


def compute_features(
    tables: dict[str, pd.DataFrame], present: frozenset[str], at: str = "submission"
) -> FeatureFrame:
    """Every feature of every dossier, as of its submission (or at review).

    Parameters
    ----------
    tables, present : ``Dataset.tables`` and ``Dataset.present``.
    at : ``"submission"`` or ``"review"``.

    Notes
    -----
    Vectorised: O(n log n) in the number of dossiers; no Python loop per
    dossier (loops run over units and distinct IPs only).
    """
    if at not in ("submission", "review"):
        raise ValueError(f"at must be 'submission' or 'review' (got {at!r})")
    return compute_all(tables, present, (at,))[at]


def compute_all(
    tables: dict[str, pd.DataFrame],
    present: frozenset[str],
    moments: tuple[str, ...] = ("submission", "review"),
) -> dict[str, FeatureFrame]:
    """The features of several moments, sharing everything the moments have in common."""
    d = tables["dossiers"]
    links = holder_links(tables, present)
    f = pd.DataFrame(index=d.index)
    local = d["submitted_at"].dt.tz_convert(LOCAL_TZ)
    acc = tables["accounts"].drop_duplicates("account_id").set_index("account_id")
    units = tables["units"].drop_duplicates("unit_id").set_index("unit_id")
    # ------------------------------------------------------------ per dossier
    for col in (
        "holder_relation",
        "relation_kind",
        "mandate_status",
        "claim_status",
        "holder_staff_role",
    ):
        f[col] = links[col]
    for col in (
        "is_self",
        "same_household",
        "related_2",
        "legal_rep",
        "holder_staff_same_unit",
        "owner_in_people",
        "holder_in_people",
        "owner_deceased",
    ):
        f[col] = _flag(links[col])
    for col in ("days_since_owner_death", "owner_age", "holder_age"):
        f[col] = links[col]
    f["channel"] = d["channel"]
    f["declared_relation"] = d["declared_relation"]
    f["declared_self_not_holder"] = _flag(
        (d["declared_relation"] == "self") & links["is_self"].eq(False)
    ).where(links["is_self"].notna() & d["declared_relation"].notna())
    f["attachment_kind"] = d["attachment_kind"]
    f["has_contact_phone"] = _flag(d["contact_phone"].notna())
    f["has_payer"] = _flag(d["payer_token"].notna())
    f["hour"] = local.dt.hour + local.dt.minute / 60
    f["weekday"] = local.dt.day_of_week
    f["day_of_month"] = local.dt.day
    f["days_to_month_end"] = local.dt.days_in_month - local.dt.day
    minutes = local.dt.hour * 60 + local.dt.minute
    f["office_hours"] = _flag((local.dt.day_of_week < 5) & minutes.between(450, 1020))
    f["ip_in_unit_network"], f["ip_in_office_network"] = ip_membership(
        d["ip"], d["unit_id"], tables["units"]
    )
    created_ip = lookup(d["account_id"], acc["created_ip"])
    _, f["acct_created_in_office_network"] = ip_membership(
        created_ip, d["unit_id"], tables["units"]
    )
    created = lookup(d["account_id"], acc["created_at"])
    f["acct_age_days"] = (d["submitted_at"] - created).dt.total_seconds() / 86_400
    f["acct_created_same_day"] = _flag(local_date(d["submitted_at"]) == local_date(created)).where(
        created.notna()
    )
    f["acct_business"] = _flag(lookup(d["account_id"], acc["account_type"]) == "business").where(
        d["account_id"].isin(acc.index)
    )
    f["acct_verification_level"] = pd.to_numeric(
        lookup(d["account_id"], acc["verification_level"]), errors="coerce"
    )
    f["unit_province_level"] = _flag(lookup(d["unit_id"], units["level"]) == "province").where(
        d["unit_id"].isin(units.index)
    )
    f["unit_target"] = pd.to_numeric(lookup(d["unit_id"], units["online_target"]), errors="coerce")
    f["owner_at_desk_today"] = desk_visit_today(
        d, tables["counter_visits"], "counter_visits" in present, "submission"
    )
    # ------------------------------------------------------------ history counters
    w = event_frame(d, links, f)
    has_acc = links["holder_id"].notna()
    t = seconds(d["submitted_at"])
    for counter in COUNTERS:
        f[counter.name] = compute_counter(w, counter, t)
    # ------------------------------------------------------------ derived
    f["dev_self_share"] = f["dev_self_prior"] / f["dev_prior"].where(f["dev_prior"] > 0)
    f["dev_office_share"] = f["dev_office_prior"] / f["dev_prior"].where(f["dev_prior"] > 0)
    f["unit_mtd_online_share"] = f["unit_month_online_prior"] / f["unit_month_prior"].where(
        f["unit_month_prior"] > 0
    )
    f["unit_target_gap"] = f["unit_target"] - f["unit_mtd_online_share"]
    f["proc_deceased_rate"] = f["proc_deceased_prior"] / f["proc_prior"].where(f["proc_prior"] > 0)
    out: dict[str, FeatureFrame] = {}
    if "submission" in moments:
        out["submission"] = _finish(f, "submission", d, links, tables, present)
    # ------------------------------------------------------------ review only
    if "review" in moments:
        f = f.copy()
        f["owner_at_desk_today"] = desk_visit_today(
            d, tables["counter_visits"], "counter_visits" in present, "review"
        )
        f["accept_delay_min"] = (d["accepted_at"] - d["submitted_at"]).dt.total_seconds() / 60
        f["sync_delay_h"] = (d["synced_at"] - d["submitted_at"]).dt.total_seconds() / 3600
        staff_person = (
            tables["staff"].drop_duplicates("staff_id").set_index("staff_id")["person_id"]
        )
        acceptor = lookup(d["received_by"], staff_person)
        f["accepted_by_holder"] = _flag(acceptor == links["holder_id"]).where(
            acceptor.notna() & has_acc
        )
        used = (
            pd.DataFrame({"device_id": d["device_id"], "person": links["holder_id"]})
            .dropna()
            .drop_duplicates()
        )
        used["hit"] = True
        probe = pd.DataFrame({"device_id": d["device_id"], "person": acceptor}).reset_index()
        hit = probe.merge(used, on=["device_id", "person"], how="left").set_index("index")["hit"]
        f["acceptor_used_device"] = _flag(hit.reindex(d.index).notna()).where(
            acceptor.notna() & d["device_id"].notna()
        )
        for counter in REVIEW_COUNTERS:
            f[counter.name] = compute_counter(w, counter, t, after=True)
        out["review"] = _finish(f, "review", d, links, tables, present)
    return out


def _finish(
    f: pd.DataFrame,
    at: str,
    d: pd.DataFrame,
    links: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    present: frozenset[str],
) -> FeatureFrame:
    """Select the moment's columns, fix the categories, index by dossier_id, list data gaps."""
    f = f[feature_names(at)]
    for col, cats in CATEGORIES.items():
        f[col] = pd.Categorical(f[col], categories=list(cats))
    f.index = pd.Index(d["dossier_id"].to_numpy(), name="dossier_id", dtype=d["dossier_id"].dtype)
    gaps = data_gaps(d, links, f, tables, present)
    gaps.index = f.index
    return FeatureFrame(frame=f, data_gaps=gaps, at=at)


def data_gaps(
    d: pd.DataFrame,
    links: pd.DataFrame,
    f: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    present: frozenset[str],
) -> pd.Series:
    """What the data could not tell about each dossier; listed apart from evidence, never scored."""
    online = (d["channel"] == "online").to_numpy()
    checks: list[tuple[str, np.ndarray]] = [
        ("relation_unknown", (links["holder_relation"] == "unknown").to_numpy()),
        ("owner_not_in_population_extract", (links["owner_in_people"] == False).to_numpy()),  # noqa: E712
        ("holder_not_in_population_extract", (links["holder_in_people"] == False).to_numpy()),  # noqa: E712
        (
            "account_not_in_accounts",
            (d["account_id"].notna() & links["holder_id"].isna()).to_numpy(),
        ),
        ("online_without_account", online & d["account_id"].isna().to_numpy()),
        ("device_missing", online & d["device_id"].isna().to_numpy()),
        ("ip_missing", online & d["ip"].isna().to_numpy()),
        (
            "unit_network_unknown",
            online & f["ip_in_unit_network"].isna().to_numpy() & d["ip"].notna().to_numpy(),
        ),
        ("owner_id_missing", d["owner_id"].isna().to_numpy()),
    ]
    for table, code in ABSENT_TABLE_GAPS:
        if table not in present:
            checks.append((code, np.ones(len(d), bool)))
    # built column-wise: a code and ';' where the check holds, then the trailing ';' dropped
    joined = pd.Series("", index=d.index, dtype=object)
    for code, mask in checks:
        joined = joined.where(~mask, joined + code + ";")
    return joined.str.rstrip(";")
