"""The account filed through, the network it came from, the receiving unit, the owner's desk visit.

Lookups the batch shares between features (the account's creation time, the
office-network answers) are made once per run through ``b.once``; the single
dossier path has them as plain dict entries (``r.acc``, ``r.unit_row``).
``r.acc`` is :data:`features._online_tables.Account`: holder, created at, its
local day, created from IP, account type, verification level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from features._online_tables import NS_PER_S, total_seconds
from features._private import str_isin
from features.defs._kit import NAN, Feature, flag, flags
from features.links import local_date, lookup
from features.networks import ip_membership
from features.pit import count_before, seconds

# ---------------------------------------------------------------------- office networks


def _ip_nets(b: Any) -> tuple[pd.Series, pd.Series]:
    """(in the receiving unit's network, in any unit's network) for the dossiers' IPs."""
    return b.once("ip_nets", lambda: ip_membership(b.d["ip"], b.d["unit_id"], b.tables["units"]))


def _units_at(r: Any, ip: str | None) -> frozenset[str] | None:
    """Units whose office network holds ``ip``; None when unknown (no address, no networks)."""
    return r.index.units_at(ip) if ip is not None and r.index.networks else None


def _ip_in_unit_network_row(r: Any) -> float:
    hit = _units_at(r, r.ip)
    return NAN if hit is None or r.unit not in r.index.network_units else flag(r.unit in hit)


def _in_any(hit: frozenset[str] | None) -> float:
    return NAN if hit is None else flag(bool(hit))


def _acct_created_in_office_network(b: Any) -> pd.Series:
    created_ip = lookup(b.d["account_id"], b.acc["created_ip"])
    return ip_membership(created_ip, b.d["unit_id"], b.tables["units"])[1]


# ---------------------------------------------------------------------- account


def _created(b: Any) -> pd.Series:
    return b.once("created", lambda: lookup(b.d["account_id"], b.acc["created_at"]))


def _acct_age_days_row(r: Any) -> float:
    created = r.acc[1] if r.acc is not None else None
    return NAN if created is None else total_seconds(r.ts.value - created) / 86_400


def _acct_created_same_day(b: Any) -> pd.Series:
    created = _created(b)
    return flags(local_date(b.d["submitted_at"]) == local_date(created)).where(created.notna())


def _account_field(b: Any, column: str) -> pd.Series:
    return lookup(b.d["account_id"], b.acc[column])


def _unit_field(b: Any, column: str) -> pd.Series:
    return lookup(b.d["unit_id"], b.units[column])


# ---------------------------------------------------------------------- desk visits


def _joint_codes(*cols: pd.Series) -> list[np.ndarray]:
    """Factorise several key columns over one shared vocabulary (-1: missing)."""
    allv = pd.concat(cols, ignore_index=True)
    codes, _ = pd.factorize(allv, use_na_sentinel=True)
    out, start = [], 0
    for c in cols:
        out.append(codes[start : start + len(c)].astype(np.int64))
        start += len(c)
    return out


def _day_numbers(ts: pd.Series) -> np.ndarray:
    """The local calendar day of tz-aware timestamps as a day number (-1 for none)."""
    day = local_date(ts)
    return np.where(day.isna(), -1, day.to_numpy("datetime64[D]").astype(np.int64))


def desk_visit_today(b: Any) -> pd.Series:
    """The owner came to the receiving unit's desk on the day (before filing, at submission)."""
    d = b.d
    if "counter_visits" not in b.present:
        return pd.Series(np.nan, index=d.index)
    v = b.tables["counter_visits"].dropna(subset=["person_id", "visited_at"])
    # one key per (person, unit, local day), as integer codes over both tables
    person_d, person_v = _joint_codes(d["owner_id"], v["person_id"])
    unit_d, unit_v = _joint_codes(d["unit_id"], v["unit_id"])
    day_d, day_v = _day_numbers(d["submitted_at"]), _day_numbers(v["visited_at"])
    first = min(day_d.min(initial=0), day_v.min(initial=0))
    days = max(day_d.max(initial=0), day_v.max(initial=0)) - first + 1
    units = max(unit_d.max(initial=0), unit_v.max(initial=0)) + 1

    def key(person: np.ndarray, unit: np.ndarray, day: np.ndarray) -> np.ndarray:
        k = (person * units + unit) * days + (day - first)
        return np.where((person < 0) | (unit < 0) | (day < 0), -1, k)

    # compact codes again, so that count_before's key * time span stays within int64
    both = np.concatenate([key(person_d, unit_d, day_d), key(person_v, unit_v, day_v)])
    codes = pd.factorize(both, use_na_sentinel=False)[0].astype(np.int64)
    codes[both < 0] = -1
    qk, ek = codes[: len(d)], codes[len(d) :]
    t = seconds(d["submitted_at"])
    if b.at == "review":  # any visit that day
        t = t + 86_400
    n = count_before(qk, t, ek, seconds(v["visited_at"]))
    return flags(pd.Series(n > 0, index=d.index)).where(d["owner_id"].notna())


def _desk_visit_row(r: Any) -> float:
    """The day's first visit (:func:`features._online_tables.first_visits`) before the filing."""
    if "counter_visits" not in r.index.present or r.owner is None:
        return NAN
    first = r.index.visits.get((r.owner, r.unit, r.day)) if r.unit is not None else None
    return 1.0 if first is not None and first < r.ts.value // NS_PER_S else 0.0


FEATURES: tuple[Feature, ...] = (
    Feature(
        "ip_in_unit_network",
        "địa chỉ IP thuộc mạng nội bộ của đơn vị tiếp nhận",
        "IP inside the receiving unit's office network",
        kind="flag",
        innocent=(None, 0.0),
        gap="unit_network_unknown",
        frame=lambda b: _ip_nets(b)[0],
        row=_ip_in_unit_network_row,
    ),
    Feature(
        "ip_in_office_network",
        "địa chỉ IP thuộc mạng nội bộ của một đơn vị",
        "IP inside some unit's office network",
        kind="flag",
        innocent=(None, 0.0),
        gap="ip_missing",
        frame=lambda b: _ip_nets(b)[1],
        row=lambda r: _in_any(_units_at(r, r.ip)),
    ),
    Feature(
        "acct_created_in_office_network",
        "tài khoản được tạo từ mạng nội bộ của đơn vị",
        "account created from a unit's office network",
        kind="flag",
        innocent=(None, 0.0),
        frame=_acct_created_in_office_network,
        row=lambda r: _in_any(_units_at(r, r.acc[3] if r.acc is not None else None)),
    ),
    Feature(
        "acct_age_days", "tuổi tài khoản (ngày)", "account age in days",
        frame=lambda b: (b.d["submitted_at"] - _created(b)).dt.total_seconds() / 86_400,
        row=_acct_age_days_row,
    ),
    Feature(
        "acct_created_same_day",
        "tài khoản được tạo ngay trong ngày nộp",
        "account created the same day",
        kind="flag",
        innocent=(None, 0.0),
        frame=_acct_created_same_day,
        row=lambda r: NAN if r.acc is None or r.acc[1] is None else flag(r.acc[2] == r.day),
    ),
    Feature(
        "acct_business", "tài khoản doanh nghiệp", "business account", kind="flag",
        frame=lambda b: flags(_account_field(b, "account_type") == "business").where(
            str_isin(b.d["account_id"], b.acc.index.to_numpy())
        ),
        row=lambda r: NAN if r.acc is None else flag(r.acc[4] == "business"),
    ),
    Feature(
        "acct_verification_level", "mức định danh của tài khoản", "account's identity level",
        frame=lambda b: pd.to_numeric(_account_field(b, "verification_level"), errors="coerce"),
        row=lambda r: NAN if r.acc is None else r.acc[5],
    ),
    Feature(
        "unit_province_level", "đơn vị cấp tỉnh", "province-level unit", kind="flag",
        frame=lambda b: flags(_unit_field(b, "level") == "province").where(
            b.d["unit_id"].isin(b.units.index)
        ),
        row=lambda r: NAN if r.unit_row is None else flag(r.unit_row[0] == "province"),
    ),
    Feature(
        "unit_target", "chỉ tiêu hồ sơ trực tuyến của đơn vị", "the unit's online target",
        frame=lambda b: pd.to_numeric(_unit_field(b, "online_target"), errors="coerce"),
        row=lambda r: NAN if r.unit_row is None else r.unit_row[1],
        reads_as="share",
    ),
    Feature(
        "owner_at_desk_today",
        "chủ hồ sơ có mặt tại quầy của đơn vị trong ngày",
        "the owner was at the unit's desk that day",
        kind="flag",
        innocent=(None, 0.0),
        frame=desk_visit_today,
        row=_desk_visit_row,
        review_sees_more=True,
    ),
)  # fmt: skip
