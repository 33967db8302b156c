"""The feature set, defined once.

Three kinds of feature, each declared here and nowhere else:

- **per-dossier** features, from the dossier's own fields and the reference
  tables (how the holder relates to the owner, office networks, account age,
  time of day, the unit's target);
- **history counters** (:mod:`features.pit`) over earlier dossiers sharing an
  account, device, IP, phone or payment token, or a unit's month;
- **review-only** features, known once the dossier has been accepted: who
  accepted it and how fast, and what the account, device and phone did after.

Each feature has a plain description in Vietnamese and English, used for the
reasons shown to inspectors.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.pit import DAY, Count, Counter, Distinct, Last, NewDistinct


@dataclass(frozen=True)
class Feature:
    """A named feature with its meaning, for reasons and the model card."""

    name: str
    vi: str
    en: str
    moment: str = "submission"  # "submission" (known when filed) or "review" (known only later)
    kind: str = "number"  # "number", "flag" or "category"


_F = Feature

STATIC: tuple[Feature, ...] = (
    _F(
        "holder_relation",
        "quan hệ giữa chủ tài khoản và chủ hồ sơ",
        "how the account holder relates to the owner",
        kind="category",
    ),
    _F(
        "relation_kind",
        "quan hệ hộ tịch ghi nhận",
        "recorded civil-status relation",
        kind="category",
    ),
    _F("is_self", "chủ tài khoản là chủ hồ sơ", "the account holder is the owner", kind="flag"),
    _F("same_household", "cùng hộ gia đình", "same household", kind="flag"),
    _F(
        "related_2",
        "có họ hàng qua một người trung gian",
        "related through one other person",
        kind="flag",
    ),
    _F(
        "mandate_status",
        "ủy quyền giữa chủ hồ sơ và chủ tài khoản",
        "mandate from the owner to the holder",
        kind="category",
    ),
    _F(
        "claim_status",
        "giấy ủy quyền kê khai trên hồ sơ",
        "mandate claimed on the dossier",
        kind="category",
    ),
    _F(
        "legal_rep",
        "người đại diện theo pháp luật của doanh nghiệp",
        "legal representative of the owning business",
        kind="flag",
    ),
    _F(
        "holder_staff_role",
        "chủ tài khoản là cán bộ (vai trò)",
        "the holder's staff role",
        kind="category",
    ),
    _F(
        "holder_staff_same_unit",
        "chủ tài khoản là cán bộ của đơn vị tiếp nhận",
        "the holder works at the receiving unit",
        kind="flag",
    ),
    _F(
        "owner_in_people",
        "chủ hồ sơ có trong dữ liệu dân cư",
        "the owner is in the population extract",
        kind="flag",
    ),
    _F(
        "holder_in_people",
        "chủ tài khoản có trong dữ liệu dân cư",
        "the holder is in the population extract",
        kind="flag",
    ),
    _F(
        "owner_deceased",
        "chủ hồ sơ đã chết trước ngày nộp",
        "the owner died before the filing",
        kind="flag",
    ),
    _F("days_since_owner_death", "số ngày từ khi chủ hồ sơ chết", "days since the owner's death"),
    _F("owner_age", "tuổi chủ hồ sơ", "owner's age"),
    _F("holder_age", "tuổi chủ tài khoản", "holder's age"),
    _F("channel", "kênh nộp", "channel", kind="category"),
    _F("declared_relation", "quan hệ tự khai", "declared relation", kind="category"),
    _F(
        "declared_self_not_holder",
        "khai là tự nộp nhưng tài khoản của người khác",
        "declared 'self' but filed through someone else's account",
        kind="flag",
    ),
    _F("attachment_kind", "loại tệp đính kèm", "attachment kind", kind="category"),
    _F("has_contact_phone", "có số điện thoại liên hệ", "a contact phone is given", kind="flag"),
    _F("has_payer", "nộp phí trực tuyến", "fee paid online", kind="flag"),
    _F("hour", "giờ nộp", "hour of filing"),
    _F("weekday", "thứ trong tuần", "day of the week"),
    _F("day_of_month", "ngày trong tháng", "day of the month"),
    _F("days_to_month_end", "số ngày đến cuối tháng", "days to the month's end"),
    _F("office_hours", "trong giờ hành chính", "within office hours", kind="flag"),
    _F(
        "ip_in_unit_network",
        "địa chỉ IP thuộc mạng nội bộ của đơn vị tiếp nhận",
        "IP inside the receiving unit's office network",
        kind="flag",
    ),
    _F(
        "ip_in_office_network",
        "địa chỉ IP thuộc mạng nội bộ của một đơn vị",
        "IP inside some unit's office network",
        kind="flag",
    ),
    _F(
        "acct_created_in_office_network",
        "tài khoản được tạo từ mạng nội bộ của đơn vị",
        "account created from a unit's office network",
        kind="flag",
    ),
    _F("acct_age_days", "tuổi tài khoản (ngày)", "account age in days"),
    _F(
        "acct_created_same_day",
        "tài khoản được tạo ngay trong ngày nộp",
        "account created the same day",
        kind="flag",
    ),
    _F("acct_business", "tài khoản doanh nghiệp", "business account", kind="flag"),
    _F("acct_verification_level", "mức định danh của tài khoản", "account's identity level"),
    _F("unit_province_level", "đơn vị cấp tỉnh", "province-level unit", kind="flag"),
    _F("unit_target", "chỉ tiêu hồ sơ trực tuyến của đơn vị", "the unit's online target"),
    _F(
        "owner_at_desk_today",
        "chủ hồ sơ có mặt tại quầy của đơn vị trong ngày",
        "the owner was at the unit's desk that day",
        kind="flag",
    ),
)

_D30, _D7, _D365 = 30 * DAY, 7 * DAY, 365 * DAY

#: history counters; each row's own dossier never counts for itself
COUNTERS: tuple[Counter, ...] = (
    Count("acct_prior", "account_id"),
    Count("acct_30d", "account_id", _D30),
    Distinct("acct_owners", "account_id", "owner_id"),
    NewDistinct("acct_new_owners_7d", "account_id", "owner_id", _D7),
    NewDistinct("acct_new_owners_30d", "account_id", "owner_id", _D30),
    NewDistinct("acct_new_unlinked_owners_30d", "account_id", "owner_id", _D30, where="_unlinked"),
    NewDistinct(
        "acct_new_unlinked_owners_365d", "account_id", "owner_id", _D365, where="_unlinked"
    ),
    Distinct("acct_unrelated_owners", "account_id", "owner_id", where="_unrelated"),
    Distinct("acct_devices", "account_id", "device_id"),
    Count("acct_device_prior", "_account_device"),
    Last("acct_idle_s", "account_id"),
    Count("dev_prior", "device_id"),
    Distinct("dev_accounts", "device_id", "account_id"),
    NewDistinct("dev_new_owners_30d", "device_id", "owner_id", _D30),
    NewDistinct("dev_new_unlinked_owners_30d", "device_id", "owner_id", _D30, where="_unlinked"),
    Distinct("dev_staff_accounts", "device_id", "account_id", where="_holder_staff"),
    Distinct("dev_team_accounts", "device_id", "account_id", where="_holder_team"),
    Count("dev_self_prior", "device_id", where="_self"),
    Count("dev_office_prior", "device_id", where="_office"),
    Distinct("ip_accounts", "ip", "account_id"),
    NewDistinct("ip_new_unlinked_owners_30d", "ip", "owner_id", _D30, where="_unlinked"),
    Distinct("ip_staff_accounts", "ip", "account_id", where="_holder_staff"),
    Distinct("phone_accounts", "contact_phone", "account_id"),
    Distinct("phone_owners", "contact_phone", "owner_id"),
    NewDistinct(
        "phone_new_unlinked_owners_30d", "contact_phone", "owner_id", _D30, where="_unlinked"
    ),
    Distinct("phone_staff_accounts", "contact_phone", "account_id", where="_holder_staff"),
    Distinct("phone_team_accounts", "contact_phone", "account_id", where="_holder_team"),
    Distinct("payer_accounts", "payer_token", "account_id"),
    NewDistinct(
        "payer_new_unlinked_owners_30d", "payer_token", "owner_id", _D30, where="_unlinked"
    ),
    Distinct("owner_accounts", "owner_id", "account_id"),
    Count("unit_month_prior", "_unit_month"),
    Count("unit_month_online_prior", "_unit_month", where="_online"),
    Count("proc_prior", "procedure_code"),
    Count("proc_deceased_prior", "procedure_code", where="_owner_deceased"),
)

#: features derived from counters (ratios), computed the same way in batch and online
DERIVED: tuple[Feature, ...] = (
    _F(
        "dev_self_share",
        "tỷ lệ hồ sơ tự nộp trên thiết bị (giống máy kiosk)",
        "share of the device's filings by owners themselves (kiosk-like)",
    ),
    _F(
        "dev_office_share",
        "tỷ lệ hồ sơ trên thiết bị nộp từ mạng nội bộ",
        "share of the device's filings from office networks",
    ),
    _F(
        "unit_mtd_online_share",
        "tỷ lệ hồ sơ trực tuyến của đơn vị từ đầu tháng",
        "the unit's month-to-date online share",
    ),
    _F(
        "unit_target_gap",
        "khoảng cách đến chỉ tiêu trực tuyến từ đầu tháng",
        "gap to the unit's online target, month to date",
    ),
    _F(
        "proc_deceased_rate",
        "tỷ lệ hồ sơ của thủ tục có chủ hồ sơ đã chết",
        "share of this procedure's dossiers with a deceased owner",
    ),
)

#: how DERIVED features are made: ratio = numerator / denominator (unknown when it is 0),
#: difference = a - b; applied in this order, by the batch and the online path alike
DERIVATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("dev_self_share", "ratio", "dev_self_prior", "dev_prior"),
    ("dev_office_share", "ratio", "dev_office_prior", "dev_prior"),
    ("unit_mtd_online_share", "ratio", "unit_month_online_prior", "unit_month_prior"),
    ("unit_target_gap", "difference", "unit_target", "unit_mtd_online_share"),
    ("proc_deceased_rate", "ratio", "proc_deceased_prior", "proc_prior"),
)


def derive(values: dict[str, float]) -> None:
    """Add the DERIVED features to one dossier's values (the scalar twin of the batch's columns)."""
    for name, how, a, b in DERIVATIONS:
        x, y = values[a], values[b]
        if how == "difference":
            values[name] = x - y
        else:  # NaN > 0 is False: an unknown denominator gives an unknown ratio
            values[name] = x / y if y > 0 else float("nan")


REVIEW: tuple[Feature, ...] = (
    _F(
        "accept_delay_min",
        "thời gian từ khi nộp đến khi tiếp nhận (phút)",
        "minutes from filing to acceptance",
        "review",
    ),
    _F(
        "sync_delay_h",
        "độ trễ đồng bộ về đơn vị (giờ)",
        "hours until the unit's system received it",
        "review",
    ),
    _F(
        "accepted_by_holder",
        "cán bộ tiếp nhận chính là chủ tài khoản",
        "the accepting officer holds the account",
        "review",
        "flag",
    ),
    _F(
        "acceptor_used_device",
        "tài khoản của cán bộ tiếp nhận từng dùng thiết bị này",
        "the accepting officer's own account used this device",
        "review",
        "flag",
    ),
    _F(
        "acct_future",
        "số hồ sơ nộp sau đó qua tài khoản",
        "later filings through the account",
        "review",
    ),
    _F(
        "acct_future_unlinked_owners",
        "số chủ hồ sơ không quan hệ phục vụ sau đó qua tài khoản",
        "unrelated owners served later through the account",
        "review",
    ),
    _F(
        "dev_future_unlinked_owners",
        "số chủ hồ sơ không quan hệ sau đó trên thiết bị",
        "unrelated owners served later on the device",
        "review",
    ),
    _F(
        "phone_future_owners",
        "số chủ hồ sơ khác dùng số điện thoại này sau đó",
        "other owners using the phone later",
        "review",
    ),
)

REVIEW_COUNTERS: tuple[Counter, ...] = (
    Count("acct_future", "account_id"),
    NewDistinct("acct_future_unlinked_owners", "account_id", "owner_id", 10**9, where="_unlinked"),
    NewDistinct("dev_future_unlinked_owners", "device_id", "owner_id", 10**9, where="_unlinked"),
    NewDistinct("phone_future_owners", "contact_phone", "owner_id", 10**9),
)

COUNTER_TEXT: dict[str, tuple[str, str]] = {
    "acct_prior": ("số hồ sơ đã nộp qua tài khoản", "earlier filings through the account"),
    "acct_30d": ("số hồ sơ qua tài khoản trong 30 ngày", "filings through the account in 30 days"),
    "acct_owners": (
        "số chủ hồ sơ khác nhau đã nộp qua tài khoản trước hồ sơ này",
        "distinct owners filed for through the account before this dossier",
    ),
    "acct_new_owners_7d": (
        "chủ hồ sơ mới qua tài khoản trong 7 ngày",
        "new owners through the account in 7 days",
    ),
    "acct_new_owners_30d": (
        "chủ hồ sơ mới qua tài khoản trong 30 ngày",
        "new owners through the account in 30 days",
    ),
    "acct_new_unlinked_owners_30d": (
        "chủ hồ sơ không rõ quan hệ mới qua tài khoản trong 30 ngày",
        "new owners with no known link to the holder in 30 days",
    ),
    "acct_new_unlinked_owners_365d": (
        "chủ hồ sơ không rõ quan hệ mới qua tài khoản trong 365 ngày",
        "new owners with no known link to the holder in 365 days",
    ),
    "acct_unrelated_owners": (
        "chủ hồ sơ chắc chắn không quan hệ với chủ tài khoản",
        "owners known to be unrelated to the holder",
    ),
    "acct_devices": ("số thiết bị đã dùng tài khoản", "devices that used the account"),
    "acct_device_prior": (
        "số lần tài khoản dùng thiết bị này trước đó",
        "earlier uses of this device by the account",
    ),
    "acct_idle_s": (
        "thời gian tài khoản không hoạt động (giây)",
        "seconds since the account's previous filing",
    ),
    "dev_prior": ("số hồ sơ đã nộp từ thiết bị", "earlier filings from the device"),
    "dev_accounts": ("số tài khoản đã dùng thiết bị", "accounts that used the device"),
    "dev_new_owners_30d": (
        "chủ hồ sơ mới trên thiết bị trong 30 ngày",
        "new owners on the device in 30 days",
    ),
    "dev_new_unlinked_owners_30d": (
        "chủ hồ sơ không rõ quan hệ mới trên thiết bị trong 30 ngày",
        "new unlinked owners on the device in 30 days",
    ),
    "dev_staff_accounts": (
        "số tài khoản của cán bộ đã dùng thiết bị",
        "staff accounts that used the device",
    ),
    "dev_team_accounts": (
        "số tài khoản của tổ công nghệ số cộng đồng đã dùng thiết bị",
        "community digital team accounts that used the device",
    ),
    "phone_team_accounts": (
        "số tài khoản của tổ công nghệ số cộng đồng dùng số điện thoại",
        "community digital team accounts using the phone",
    ),
    "dev_self_prior": ("số hồ sơ tự nộp trên thiết bị", "self filings on the device"),
    "dev_office_prior": (
        "số hồ sơ từ mạng nội bộ trên thiết bị",
        "office-network filings on the device",
    ),
    "ip_accounts": ("số tài khoản dùng địa chỉ IP", "accounts using the IP"),
    "ip_new_unlinked_owners_30d": (
        "chủ hồ sơ không rõ quan hệ mới từ IP trong 30 ngày",
        "new unlinked owners from the IP in 30 days",
    ),
    "ip_staff_accounts": ("số tài khoản của cán bộ dùng địa chỉ IP", "staff accounts using the IP"),
    "phone_accounts": (
        "số tài khoản dùng số điện thoại liên hệ",
        "accounts using the contact phone",
    ),
    "phone_owners": ("số chủ hồ sơ dùng số điện thoại liên hệ", "owners using the contact phone"),
    "phone_new_unlinked_owners_30d": (
        "chủ hồ sơ không rõ quan hệ mới dùng số điện thoại trong 30 ngày",
        "new unlinked owners using the phone in 30 days",
    ),
    "phone_staff_accounts": (
        "số tài khoản cán bộ dùng số điện thoại",
        "staff accounts using the phone",
    ),
    "payer_accounts": (
        "số tài khoản dùng phương tiện thanh toán",
        "accounts using the payment instrument",
    ),
    "payer_new_unlinked_owners_30d": (
        "chủ hồ sơ không rõ quan hệ mới trả phí bằng phương tiện này trong 30 ngày",
        "new unlinked owners paid for with the instrument in 30 days",
    ),
    "owner_accounts": (
        "số tài khoản đã nộp hồ sơ cho chủ hồ sơ",
        "accounts that filed for the owner",
    ),
    "unit_month_prior": (
        "số hồ sơ của đơn vị từ đầu tháng",
        "the unit's dossiers this month so far",
    ),
    "unit_month_online_prior": (
        "số hồ sơ trực tuyến của đơn vị từ đầu tháng",
        "the unit's online dossiers this month so far",
    ),
    "proc_prior": ("số hồ sơ trước đó của thủ tục", "earlier dossiers of the procedure"),
    "proc_deceased_prior": (
        "số hồ sơ trước đó của thủ tục có chủ hồ sơ đã chết",
        "earlier dossiers of the procedure with a deceased owner",
    ),
}

ALL_FEATURES: dict[str, Feature] = {
    **{f.name: f for f in STATIC},
    **{c.name: _F(c.name, *COUNTER_TEXT[c.name]) for c in COUNTERS},
    **{f.name: f for f in DERIVED},
    **{f.name: f for f in REVIEW},
}


def feature_names(at: str) -> list[str]:
    """The model's input columns at a moment (``submission`` or ``review``)."""
    names = [f.name for f in STATIC] + [c.name for c in COUNTERS] + [f.name for f in DERIVED]
    if at == "review":
        names += [f.name for f in REVIEW]
    return names


#: how category values read in reasons
VALUE_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "holder_relation": {
        "not_applicable": ("không nộp qua tài khoản", "not filed through an account"),
        "self": ("chính chủ hồ sơ", "the owner"),
        "legal_rep": ("người đại diện theo pháp luật", "the legal representative"),
        "mandate": ("người được ủy quyền hợp lệ", "a valid mandate holder"),
        "household": ("cùng hộ gia đình", "a household member"),
        "relative": ("người thân", "a relative"),
        "community_team": (
            "thành viên tổ công nghệ số cộng đồng",
            "a community digital team member",
        ),
        "staff_same_unit": ("cán bộ của đơn vị tiếp nhận", "an officer of the receiving unit"),
        "staff_other_unit": ("cán bộ đơn vị khác", "an officer of another unit"),
        "none_known": ("không có quan hệ nào được ghi nhận", "no recorded link"),
        "unknown": ("chưa rõ (thiếu dữ liệu)", "unknown (data missing)"),
    },
    "claim_status": {
        "none": ("không kê khai", "none claimed"),
        "valid": ("hợp lệ", "valid"),
        "unknown_id": ("không có trong sổ ủy quyền", "not in the mandate register"),
        "wrong_parties": ("không đúng người", "names other people"),
        "expired": ("đã hết hạn", "expired"),
        "not_yet_valid": ("chưa có hiệu lực", "not yet valid"),
        "other_procedure": ("cho thủ tục khác", "for another procedure"),
        "unknown": ("chưa rõ", "unknown"),
    },
    "mandate_status": {
        "valid": ("có ủy quyền hợp lệ", "a valid mandate"),
        "other_procedure": ("ủy quyền cho thủ tục khác", "a mandate for another procedure"),
        "expired": ("ủy quyền đã hết hạn", "an expired mandate"),
        "not_yet_valid": ("ủy quyền chưa có hiệu lực", "a mandate not yet valid"),
        "none": ("không có ủy quyền", "no mandate"),
        "unknown": ("chưa rõ (thiếu sổ ủy quyền)", "unknown (no mandate register)"),
    },
    "relation_kind": {
        "parent": ("cha/mẹ", "parent"),
        "child": ("con", "child"),
        "spouse": ("vợ/chồng", "spouse"),
        "guardian": ("người giám hộ", "guardian"),
        "ward": ("người được giám hộ", "ward"),
        "sibling": ("anh/chị/em", "sibling"),
        "household": ("cùng hộ", "same household"),
    },
    "holder_staff_role": {
        "one_stop_officer": ("cán bộ một cửa", "one-stop officer"),
        "community_digital_team": ("tổ công nghệ số cộng đồng", "community digital team"),
        "manager": ("cán bộ quản lý", "manager"),
        "other": ("cán bộ khác", "other staff"),
        "none": ("không phải cán bộ", "not staff"),
    },
    "channel": {
        "online": ("trực tuyến", "online"),
        "counter": ("tại quầy", "at the desk"),
        "postal": ("bưu chính", "postal"),
    },
    "declared_relation": {
        "self": ("bản thân (tự nộp)", "self"),
        "parent": ("cha/mẹ", "parent"),
        "guardian": ("người giám hộ", "guardian"),
        "spouse": ("vợ/chồng", "spouse"),
        "relative": ("người thân", "relative"),
        "authorized": ("được ủy quyền", "authorized"),
        "legal_rep": ("đại diện theo pháp luật", "legal representative"),
        "other": ("khác", "other"),
    },
    "attachment_kind": {
        "digital": ("bản điện tử", "digital"),
        "photo": ("ảnh chụp", "photo"),
        "scan": ("bản quét", "scan"),
        "none": ("không có", "none"),
    },
}

#: features that are shares (0..1): read as percentages
SHARE_FEATURES = frozenset(
    {
        "dev_self_share",
        "dev_office_share",
        "unit_mtd_online_share",
        "unit_target",
        "proc_deceased_rate",
    }
)
#: a difference of two shares: read as percentage points, with the direction in words
POINTS_FEATURES = frozenset({"unit_target_gap"})
_POINTS_TEXT = {
    "vi": (
        "thấp hơn chỉ tiêu {p} điểm phần trăm",
        "cao hơn chỉ tiêu {p} điểm phần trăm",
        "đúng chỉ tiêu",
    ),
    "en": ("{p} percentage points below target", "{p} percentage points above target", "on target"),
}


def value_text(feature: str, value: object, lang: str) -> str:
    """A feature value as an inspector reads it."""
    labels = VALUE_TEXT.get(feature, {})
    if isinstance(value, str) and value in labels:
        return labels[value][0 if lang == "vi" else 1]
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        if feature in SHARE_FEATURES:
            return _decimal(f"{100 * value:.1f}", lang) + "%"
        if feature in POINTS_FEATURES:
            below, above, level = _POINTS_TEXT["vi" if lang == "vi" else "en"]
            points = _decimal(f"{100 * abs(value):.1f}", lang)
            return (
                level
                if round(100 * value, 1) == 0
                else (below if value > 0 else above).format(p=points)
            )
    if isinstance(value, float):
        if feature in {f.name for f in STATIC if f.kind == "flag"} | {
            f.name for f in REVIEW if f.kind == "flag"
        }:
            yes_no = ("có", "không") if lang == "vi" else ("yes", "no")
            return yes_no[0] if value >= 0.5 else yes_no[1]
        return _decimal(f"{value:.3g}", lang)
    return str(value)


def _decimal(text: str, lang: str) -> str:
    """A number's text with the reader's decimal mark (a comma in Vietnamese)."""
    return text.replace(".", ",") if lang == "vi" else text
