"""History counters over earlier dossiers, and the ratios derived from them.

A counter (:mod:`features.pit`) looks at earlier dossiers sharing a key (an
account, device, IP, phone, payment token, owner, unit-month, procedure);
each row's own dossier never counts for itself. The batch computes it with
:func:`features.pit.compute_counter`, the scoring API with
:mod:`features.history`, from the same declaration. The events a counter
selects with ``where=`` are the event flags of :mod:`features.defs.events`.

A derived feature is one function of other features that serves a frame
(Series) and one dossier (floats) alike.
"""

from __future__ import annotations

from features.defs._kit import Feature, ratio
from features.pit import DAY, Count, Counter, Distinct, Last, NewDistinct

_D30, _D7, _D365 = 30 * DAY, 7 * DAY, 365 * DAY


#: a device's or IP's history is unknown when the dossier has none (data missing): the model's
#: benefit of the doubt reads it as no history
_NO_HISTORY = (None, 0.0)


def _counted(counter: Counter, vi: str, en: str) -> Feature:
    innocent = _NO_HISTORY if counter.key in ("device_id", "ip") else None
    return Feature(counter.name, vi, en, counter=counter, innocent=innocent)


COUNTERS: tuple[Feature, ...] = (
    _counted(
        Count("acct_prior", "account_id"),
        "số hồ sơ đã nộp qua tài khoản",
        "earlier filings through the account",
    ),
    _counted(
        Count("acct_30d", "account_id", _D30),
        "số hồ sơ qua tài khoản trong 30 ngày",
        "filings through the account in 30 days",
    ),
    _counted(
        Distinct("acct_owners", "account_id", "owner_id"),
        "số chủ hồ sơ khác nhau đã nộp qua tài khoản trước hồ sơ này",
        "distinct owners filed for through the account before this dossier",
    ),
    _counted(
        NewDistinct("acct_new_owners_7d", "account_id", "owner_id", _D7),
        "chủ hồ sơ mới qua tài khoản trong 7 ngày",
        "new owners through the account in 7 days",
    ),
    _counted(
        NewDistinct("acct_new_owners_30d", "account_id", "owner_id", _D30),
        "chủ hồ sơ mới qua tài khoản trong 30 ngày",
        "new owners through the account in 30 days",
    ),
    _counted(
        NewDistinct(
            "acct_new_unlinked_owners_30d", "account_id", "owner_id", _D30, where="_unlinked"
        ),
        "chủ hồ sơ không rõ quan hệ mới qua tài khoản trong 30 ngày",
        "new owners with no known link to the holder in 30 days",
    ),
    _counted(
        NewDistinct(
            "acct_new_unlinked_owners_365d", "account_id", "owner_id", _D365, where="_unlinked"
        ),
        "chủ hồ sơ không rõ quan hệ mới qua tài khoản trong 365 ngày",
        "new owners with no known link to the holder in 365 days",
    ),
    _counted(
        Distinct("acct_unrelated_owners", "account_id", "owner_id", where="_unrelated"),
        "chủ hồ sơ chắc chắn không quan hệ với chủ tài khoản",
        "owners known to be unrelated to the holder",
    ),
    _counted(
        Distinct("acct_devices", "account_id", "device_id"),
        "số thiết bị đã dùng tài khoản",
        "devices that used the account",
    ),
    _counted(
        Count("acct_device_prior", "_account_device"),
        "số lần tài khoản dùng thiết bị này trước đó",
        "earlier uses of this device by the account",
    ),
    _counted(
        Last("acct_idle_s", "account_id"),
        "thời gian tài khoản không hoạt động (giây)",
        "seconds since the account's previous filing",
    ),
    _counted(
        Count("dev_prior", "device_id"),
        "số hồ sơ đã nộp từ thiết bị",
        "earlier filings from the device",
    ),
    _counted(
        Distinct("dev_accounts", "device_id", "account_id"),
        "số tài khoản đã dùng thiết bị",
        "accounts that used the device",
    ),
    _counted(
        NewDistinct("dev_new_owners_30d", "device_id", "owner_id", _D30),
        "chủ hồ sơ mới trên thiết bị trong 30 ngày",
        "new owners on the device in 30 days",
    ),
    _counted(
        NewDistinct(
            "dev_new_unlinked_owners_30d", "device_id", "owner_id", _D30, where="_unlinked"
        ),
        "chủ hồ sơ không rõ quan hệ mới trên thiết bị trong 30 ngày",
        "new unlinked owners on the device in 30 days",
    ),
    _counted(
        Distinct("dev_staff_accounts", "device_id", "account_id", where="_holder_staff"),
        "số tài khoản của cán bộ đã dùng thiết bị",
        "staff accounts that used the device",
    ),
    _counted(
        Distinct("dev_team_accounts", "device_id", "account_id", where="_holder_team"),
        "số tài khoản của tổ công nghệ số cộng đồng đã dùng thiết bị",
        "community digital team accounts that used the device",
    ),
    _counted(
        Count("dev_self_prior", "device_id", where="_self"),
        "số hồ sơ tự nộp trên thiết bị",
        "self filings on the device",
    ),
    _counted(
        Count("dev_office_prior", "device_id", where="_office"),
        "số hồ sơ từ mạng nội bộ trên thiết bị",
        "office-network filings on the device",
    ),
    _counted(
        Distinct("ip_accounts", "ip", "account_id"),
        "số tài khoản dùng địa chỉ IP",
        "accounts using the IP",
    ),
    _counted(
        NewDistinct("ip_new_unlinked_owners_30d", "ip", "owner_id", _D30, where="_unlinked"),
        "chủ hồ sơ không rõ quan hệ mới từ IP trong 30 ngày",
        "new unlinked owners from the IP in 30 days",
    ),
    _counted(
        Distinct("ip_staff_accounts", "ip", "account_id", where="_holder_staff"),
        "số tài khoản của cán bộ dùng địa chỉ IP",
        "staff accounts using the IP",
    ),
    _counted(
        Count("phone_30d", "contact_phone", _D30),
        "số hồ sơ ghi cùng số điện thoại liên hệ trong 30 ngày",
        "filings giving the same contact phone in 30 days",
    ),
    _counted(
        Distinct("phone_accounts", "contact_phone", "account_id"),
        "số tài khoản dùng số điện thoại liên hệ",
        "accounts using the contact phone",
    ),
    _counted(
        Distinct("phone_owners", "contact_phone", "owner_id"),
        "số chủ hồ sơ dùng số điện thoại liên hệ",
        "owners using the contact phone",
    ),
    _counted(
        NewDistinct(
            "phone_new_unlinked_owners_30d", "contact_phone", "owner_id", _D30, where="_unlinked"
        ),
        "chủ hồ sơ không rõ quan hệ mới dùng số điện thoại trong 30 ngày",
        "new unlinked owners using the phone in 30 days",
    ),
    _counted(
        Distinct("phone_staff_accounts", "contact_phone", "account_id", where="_holder_staff"),
        "số tài khoản cán bộ dùng số điện thoại",
        "staff accounts using the phone",
    ),
    _counted(
        Distinct("phone_team_accounts", "contact_phone", "account_id", where="_holder_team"),
        "số tài khoản của tổ công nghệ số cộng đồng dùng số điện thoại",
        "community digital team accounts using the phone",
    ),
    _counted(
        Distinct("payer_accounts", "payer_token", "account_id"),
        "số tài khoản dùng phương tiện thanh toán",
        "accounts using the payment instrument",
    ),
    _counted(
        NewDistinct(
            "payer_new_unlinked_owners_30d", "payer_token", "owner_id", _D30, where="_unlinked"
        ),
        "chủ hồ sơ không rõ quan hệ mới trả phí bằng phương tiện này trong 30 ngày",
        "new unlinked owners paid for with the instrument in 30 days",
    ),
    _counted(
        Distinct("owner_accounts", "owner_id", "account_id"),
        "số tài khoản đã nộp hồ sơ cho chủ hồ sơ",
        "accounts that filed for the owner",
    ),
    _counted(
        Count("unit_month_prior", "_unit_month"),
        "số hồ sơ của đơn vị từ đầu tháng",
        "the unit's dossiers this month so far",
    ),
    _counted(
        Count("unit_month_online_prior", "_unit_month", where="_online"),
        "số hồ sơ trực tuyến của đơn vị từ đầu tháng",
        "the unit's online dossiers this month so far",
    ),
    _counted(
        Count("proc_prior", "procedure_code"),
        "số hồ sơ trước đó của thủ tục",
        "earlier dossiers of the procedure",
    ),
    _counted(
        Count("proc_deceased_prior", "procedure_code", where="_owner_deceased"),
        "số hồ sơ trước đó của thủ tục có chủ hồ sơ đã chết",
        "earlier dossiers of the procedure with a deceased owner",
    ),
)

DERIVED: tuple[Feature, ...] = (
    Feature(
        "dev_self_share",
        "tỷ lệ hồ sơ tự nộp trên thiết bị (giống máy kiosk)",
        "share of the device's filings by owners themselves (kiosk-like)",
        derive=lambda v: ratio(v["dev_self_prior"], v["dev_prior"]),
        reads_as="share",
    ),
    Feature(
        "dev_office_share",
        "tỷ lệ hồ sơ trên thiết bị nộp từ mạng nội bộ",
        "share of the device's filings from office networks",
        derive=lambda v: ratio(v["dev_office_prior"], v["dev_prior"]),
        reads_as="share",
    ),
    Feature(
        "unit_mtd_online_share",
        "tỷ lệ hồ sơ trực tuyến của đơn vị từ đầu tháng",
        "the unit's month-to-date online share",
        derive=lambda v: ratio(v["unit_month_online_prior"], v["unit_month_prior"]),
        reads_as="share",
    ),
    Feature(
        "unit_target_gap",
        "khoảng cách đến chỉ tiêu trực tuyến từ đầu tháng",
        "gap to the unit's online target, month to date",
        derive=lambda v: v["unit_target"] - v["unit_mtd_online_share"],
        reads_as="points",
    ),
    Feature(
        "proc_deceased_rate",
        "tỷ lệ hồ sơ của thủ tục có chủ hồ sơ đã chết",
        "share of this procedure's dossiers with a deceased owner",
        derive=lambda v: ratio(v["proc_deceased_prior"], v["proc_prior"]),
        reads_as="share",
    ),
)
