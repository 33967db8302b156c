"""The dossier's own submission fields and its local time of filing."""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.contract import ATTACHMENT_KINDS, CHANNELS, DECLARED_RELATIONS
from features.defs._kit import NAN, Feature, flag, flags

_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: office hours: 07:30 to 17:00, Monday to Friday (minutes after midnight)
_OPENS, _CLOSES = 450, 1020


def _declared_self_not_holder(b: Any) -> pd.Series:
    d, is_self = b.d, b.links["is_self"]
    return flags((d["declared_relation"] == "self") & is_self.eq(False)).where(
        is_self.notna() & d["declared_relation"].notna()
    )


def _office_hours(b: Any) -> pd.Series:
    minutes = b.local.dt.hour * 60 + b.local.dt.minute
    return flags((b.local.dt.day_of_week < 5) & minutes.between(_OPENS, _CLOSES))


FEATURES: tuple[Feature, ...] = (
    Feature(
        "channel", "kênh nộp", "channel", kind="category", categories=CHANNELS,
        frame=lambda b: b.d["channel"],
        row=lambda r: r.channel,
        value_text={
            "online": ("trực tuyến", "online"),
            "counter": ("tại quầy", "at the desk"),
            "postal": ("bưu chính", "postal"),
        },
    ),
    Feature(
        "declared_relation", "quan hệ tự khai", "declared relation",
        kind="category", categories=DECLARED_RELATIONS,
        frame=lambda b: b.d["declared_relation"],
        row=lambda r: r.declared,
        value_text={
            "self": ("bản thân (tự nộp)", "self"),
            "parent": ("cha/mẹ", "parent"),
            "guardian": ("người giám hộ", "guardian"),
            "spouse": ("vợ/chồng", "spouse"),
            "relative": ("người thân", "relative"),
            "authorized": ("được ủy quyền", "authorized"),
            "legal_rep": ("đại diện theo pháp luật", "legal representative"),
            "other": ("khác", "other"),
        },
    ),
    Feature(
        "declared_self_not_holder",
        "khai là tự nộp nhưng tài khoản của người khác",
        "declared 'self' but filed through someone else's account",
        kind="flag",
        frame=_declared_self_not_holder,
        row=lambda r: NAN
        if r.links.is_self is None or r.declared is None
        else flag(r.declared == "self" and not r.links.is_self),
    ),
    Feature(
        "attachment_kind", "loại tệp đính kèm", "attachment kind",
        kind="category", categories=ATTACHMENT_KINDS,
        frame=lambda b: b.d["attachment_kind"],
        row=lambda r: r.d.get("attachment_kind"),
        value_text={
            "digital": ("bản điện tử", "digital"),
            "photo": ("ảnh chụp", "photo"),
            "scan": ("bản quét", "scan"),
            "none": ("không có", "none"),
        },
    ),
    Feature(
        "has_contact_phone", "có số điện thoại liên hệ", "a contact phone is given", kind="flag",
        frame=lambda b: flags(b.d["contact_phone"].notna()),
        row=lambda r: flag(isinstance(r.d.get("contact_phone"), str)),
    ),
    Feature(
        "has_payer", "nộp phí trực tuyến", "fee paid online", kind="flag",
        frame=lambda b: flags(b.d["payer_token"].notna()),
        row=lambda r: flag(isinstance(r.d.get("payer_token"), str)),
    ),
    Feature(
        "hour", "giờ nộp", "hour of filing",
        frame=lambda b: b.local.dt.hour + b.local.dt.minute / 60,
        row=lambda r: r.hour + r.minute / 60,
    ),
    Feature(
        "weekday", "thứ trong tuần", "day of the week",
        frame=lambda b: b.local.dt.day_of_week,
        row=lambda r: float(r.weekday),
    ),
    Feature(
        "day_of_month", "ngày trong tháng", "day of the month",
        frame=lambda b: b.local.dt.day,
        row=lambda r: float(r.mday),
    ),
    Feature(
        "days_to_month_end", "số ngày đến cuối tháng", "days to the month's end",
        frame=lambda b: b.local.dt.days_in_month - b.local.dt.day,
        row=lambda r: float(_DAYS_IN_MONTH[r.month] + r.leap - r.mday),
    ),
    Feature(
        "office_hours", "trong giờ hành chính", "within office hours", kind="flag",
        frame=_office_hours,
        row=lambda r: flag(r.weekday < 5 and _OPENS <= r.hour * 60 + r.minute <= _CLOSES),
    ),
)  # fmt: skip
