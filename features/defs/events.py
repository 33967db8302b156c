"""The dossier as an event of the history counters: the flags that select it, the keys it joins.

A counter's ``where=`` names one of :data:`FLAGS`; its ``key=`` is a dossier
column or one of :data:`KEYS`. Each is computed for a frame (``b``: dossiers,
holder links and the features so far in ``b.f``) and for one dossier
(``r``: with ``r.values``) side by side.
"""

from __future__ import annotations

from features.defs._kit import EventFlag, EventKey
from features.links import EXPLAINED

#: the holder's staff roles that work at a desk (a community digital team member does not)
STAFF_AT_DESK = ("one_stop_officer", "manager", "other")
#: relations that link a holder to an owner; a community digital team member helping people
#: is no stranger to them (docs/domain.md)
_LINKED = EXPLAINED | {"community_team"}

FLAGS: tuple[EventFlag, ...] = (
    EventFlag(
        "_unlinked", "filed through an account whose holder has no known link to the owner",
        frame=lambda b: b.links["holder_id"].notna() & ~b.links["holder_relation"].isin(_LINKED),
        row=lambda r: r.links.holder_id is not None and r.links.holder_relation not in _LINKED,
    ),
    EventFlag(
        "_unrelated", "the holder is known to be unrelated to the owner",
        frame=lambda b: b.links["holder_relation"] == "none_known",
        row=lambda r: r.links.holder_relation == "none_known",
    ),
    EventFlag(
        "_holder_staff", "the holder is desk staff",
        frame=lambda b: b.links["holder_staff_role"].isin(STAFF_AT_DESK),
        row=lambda r: r.links.holder_staff_role in STAFF_AT_DESK,
    ),
    EventFlag(
        "_holder_team", "the holder is a community digital team member",
        frame=lambda b: b.links["holder_staff_role"] == "community_digital_team",
        row=lambda r: r.links.holder_staff_role == "community_digital_team",
    ),
    EventFlag(
        "_self", "the holder is the owner",
        frame=lambda b: b.links["is_self"] == True,  # noqa: E712
        row=lambda r: r.links.is_self is True,
    ),
    EventFlag(
        "_office", "filed from an office network",
        frame=lambda b: b.f["ip_in_office_network"] == 1,
        row=lambda r: r.values["ip_in_office_network"] == 1.0,
        reads=("ip_in_office_network",),
    ),
    EventFlag(
        "_online", "filed online",
        frame=lambda b: b.d["channel"] == "online",
        row=lambda r: r.channel == "online",
    ),
    EventFlag(
        "_owner_deceased", "the owner had died",
        frame=lambda b: b.links["owner_deceased"] == True,  # noqa: E712
        row=lambda r: r.links.owner_deceased is True,
    ),
)  # fmt: skip

KEYS: tuple[EventKey, ...] = (
    EventKey(
        "_account_device", "the account on this device",
        frame=lambda b: (b.d["account_id"] + "|" + b.d["device_id"]).where(
            b.d["account_id"].notna() & b.d["device_id"].notna()
        ),
        row=lambda r: None if r.account is None or r.device is None else f"{r.account}|{r.device}",
    ),
    EventKey(
        "_unit_month", "the receiving unit in the month of filing",
        frame=lambda b: b.d["unit_id"] + "|" + b.local.dt.strftime("%Y-%m"),
        row=lambda r: None if r.unit is None else f"{r.unit}|{r.year:04d}-{r.month:02d}",
    ),
)  # fmt: skip
