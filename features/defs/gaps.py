"""Data gaps: what the data could not tell about a dossier, listed beside its score, never scored.

Listed in this order. ``frame`` gives a boolean array over the dossiers
(``b``: dossiers, holder links, features so far in ``b.f``), ``row`` one bool
(``r``: with ``r.values``). A gap with ``absent_table`` holds for every
dossier when that optional table was not in the data folder.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from features.defs._kit import DataGap


def _online(b: Any) -> np.ndarray:
    return b.once("online", lambda: (b.d["channel"] == "online").to_numpy())


def _online_and_missing(column: str) -> tuple[Any, Any]:
    """An online dossier without ``column`` (frame, row)."""
    return (
        lambda b: _online(b) & b.d[column].isna().to_numpy(),
        lambda r: r.channel == "online" and not isinstance(r.d.get(column), str),
    )


GAPS: tuple[DataGap, ...] = (
    DataGap(
        "relation_unknown",
        "Không xác định được quan hệ giữa chủ tài khoản và chủ hồ sơ (dữ liệu hộ tịch, "
        "cư trú chưa được chia sẻ đủ).",
        "The relation between the account holder and the owner is unknown (civil-status "
        "and household data are not fully shared).",
        frame=lambda b: (b.links["holder_relation"] == "unknown").to_numpy(),
        row=lambda r: r.links.holder_relation == "unknown",
    ),
    DataGap(
        "team_roster_lapsed",
        "Chủ tài khoản được coi là thành viên tổ công nghệ số cộng đồng dù danh sách tổ "
        "đã hết hạn với người này (danh sách tổ cập nhật chậm).",
        "The account holder is read as a community digital team member although their "
        "entry in the team roster has ended (team rosters lag).",
        frame=lambda b: (
            (b.links["holder_relation"] == "community_team") & b.links["holder_team_lapsed"]
        ).to_numpy(),
        row=lambda r: r.links.holder_relation == "community_team" and r.links.holder_team_lapsed,
    ),
    DataGap(
        "owner_not_in_population_extract",
        "Chủ hồ sơ không có trong bản trích dữ liệu dân cư.",
        "The owner is not in the population extract.",
        frame=lambda b: (b.links["owner_in_people"] == False).to_numpy(),  # noqa: E712
        row=lambda r: r.links.owner_in_people is False,
    ),
    DataGap(
        "holder_not_in_population_extract",
        "Chủ tài khoản không có trong bản trích dữ liệu dân cư.",
        "The account holder is not in the population extract.",
        frame=lambda b: (b.links["holder_in_people"] == False).to_numpy(),  # noqa: E712
        row=lambda r: r.links.holder_in_people is False,
    ),
    DataGap(
        "account_not_in_accounts",
        "Tài khoản nộp không có trong danh sách tài khoản, nên không biết ai là chủ tài khoản.",
        "The account is not in the accounts table, so its holder is unknown.",
        frame=lambda b: (b.d["account_id"].notna() & b.links["holder_id"].isna()).to_numpy(),
        row=lambda r: r.account is not None and r.links.holder_id is None,
    ),
    DataGap(
        "online_without_account",
        "Hồ sơ trực tuyến nhưng không ghi tài khoản nộp.",
        "An online dossier with no account recorded.",
        *_online_and_missing("account_id"),
    ),
    DataGap(
        "device_missing",
        "Không ghi nhận thiết bị nộp.",
        "No device was recorded.",
        *_online_and_missing("device_id"),
    ),
    DataGap(
        "ip_missing",
        "Không ghi nhận địa chỉ IP.",
        "No IP address was recorded.",
        *_online_and_missing("ip"),
    ),
    DataGap(
        "unit_network_unknown",
        "Không biết địa chỉ IP có thuộc mạng của đơn vị hay không.",
        "Whether the IP address is on the unit's network is unknown.",
        frame=lambda b: (
            _online(b) & b.f["ip_in_unit_network"].isna().to_numpy() & b.d["ip"].notna().to_numpy()
        ),
        row=lambda r: (
            r.channel == "online"
            and r.ip is not None
            and r.values["ip_in_unit_network"] != r.values["ip_in_unit_network"]
        ),  # NaN
    ),
    DataGap(
        "owner_id_missing",
        "Thiếu số định danh của chủ hồ sơ.",
        "The owner's ID is missing.",
        frame=lambda b: b.d["owner_id"].isna().to_numpy(),
        row=lambda r: r.owner is None,
    ),
    DataGap(
        "no_population_extract",
        "Không có bản trích dữ liệu dân cư.",
        "No population extract was provided.",
        absent_table="people",
    ),
    DataGap(
        "no_relations_table",
        "Không có dữ liệu quan hệ nhân thân.",
        "No civil-status relations were provided.",
        absent_table="relations",
    ),
    DataGap(
        "no_mandates_table",
        "Không có sổ ủy quyền.",
        "No mandate register was provided.",
        absent_table="authorizations",
    ),
    DataGap(
        "no_staff_registry",
        "Không có danh sách cán bộ.",
        "No staff registry was provided.",
        absent_table="staff",
    ),
    DataGap(
        "no_desk_visits",
        "Không có dữ liệu lượt đến quầy một cửa.",
        "No one-stop desk visit records were provided.",
        absent_table="counter_visits",
    ),
    DataGap(
        "no_units_table",
        "Không có danh mục đơn vị.",
        "No units table was provided.",
        absent_table="units",
    ),
)
