"""What an inspection team sees later: who accepted the dossier and how fast, what came after.

Review features have only a frame computation: the scoring API scores at
submission, when none of this is known.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.defs._kit import Feature, flags
from features.links import lookup
from features.pit import Count, NewDistinct

_EVER = 10**9  # seconds: any later time


def _acceptor(b: Any) -> pd.Series:
    """The person of the staff member who received the dossier."""

    def find() -> pd.Series:
        staff = b.tables["staff"].drop_duplicates("staff_id").set_index("staff_id")
        return lookup(b.d["received_by"], staff["person_id"])

    return b.once("acceptor", find)


def _accepted_by_holder(b: Any) -> pd.Series:
    acceptor, holder = _acceptor(b), b.links["holder_id"]
    return flags(acceptor == holder).where(acceptor.notna() & holder.notna())


def _acceptor_used_device(b: Any) -> pd.Series:
    d, acceptor = b.d, _acceptor(b)
    used = (
        pd.DataFrame({"device_id": d["device_id"], "person": b.links["holder_id"]})
        .dropna()
        .drop_duplicates()
    )
    used["hit"] = True
    probe = pd.DataFrame({"device_id": d["device_id"], "person": acceptor}).reset_index()
    hit = probe.merge(used, on=["device_id", "person"], how="left").set_index("index")["hit"]
    return flags(hit.reindex(d.index).notna()).where(acceptor.notna() & d["device_id"].notna())


def _delay(b: Any, column: str, unit_s: int) -> pd.Series:
    return (b.d[column] - b.d["submitted_at"]).dt.total_seconds() / unit_s


FEATURES: tuple[Feature, ...] = (
    Feature(
        "accept_delay_min",
        "thời gian từ khi nộp đến khi tiếp nhận (phút)",
        "minutes from filing to acceptance",
        "review",
        frame=lambda b: _delay(b, "accepted_at", 60),
    ),
    Feature(
        "sync_delay_h",
        "độ trễ đồng bộ về đơn vị (giờ)",
        "hours until the unit's system received it",
        "review",
        frame=lambda b: _delay(b, "synced_at", 3600),
    ),
    Feature(
        "accepted_by_holder",
        "cán bộ tiếp nhận chính là chủ tài khoản",
        "the accepting officer holds the account",
        "review",
        "flag",
        frame=_accepted_by_holder,
    ),
    Feature(
        "acceptor_used_device",
        "tài khoản của cán bộ tiếp nhận từng dùng thiết bị này",
        "the accepting officer's own account used this device",
        "review",
        "flag",
        frame=_acceptor_used_device,
        by="device_id",
    ),
    # counters of what came after (features.pit, with after=True)
    Feature(
        "acct_future",
        "số hồ sơ nộp sau đó qua tài khoản",
        "later filings through the account",
        "review",
        counter=Count("acct_future", "account_id"),
    ),
    Feature(
        "acct_future_unlinked_owners",
        "số chủ hồ sơ không quan hệ phục vụ sau đó qua tài khoản",
        "unrelated owners served later through the account",
        "review",
        counter=NewDistinct(
            "acct_future_unlinked_owners", "account_id", "owner_id", _EVER, where="_unlinked"
        ),
    ),
    Feature(
        "dev_future_unlinked_owners",
        "số chủ hồ sơ không quan hệ sau đó trên thiết bị",
        "unrelated owners served later on the device",
        "review",
        counter=NewDistinct(
            "dev_future_unlinked_owners", "device_id", "owner_id", _EVER, where="_unlinked"
        ),
    ),
    Feature(
        "phone_future_owners",
        "số chủ hồ sơ khác dùng số điện thoại này sau đó",
        "other owners using the phone later",
        "review",
        counter=NewDistinct("phone_future_owners", "contact_phone", "owner_id", _EVER),
    ),
)
