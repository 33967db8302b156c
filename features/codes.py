"""Every data-quality finding code, its severity and its explanation (English and Vietnamese).

Severities: ``error`` — rows were unusable and set aside (or skipped);
``warning`` — a value was set to unknown or looks wrong; ``info`` — an
assumption, a repair, or a data gap that is not evidence of anything.

Messages are templates filled with ``n`` (count), ``table``, ``column`` and the
parameters a check supplies (``target``, ``allowed``, ``expected``, ...). Each
says what was expected, what was found, and what the reader did about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class FindingCode:
    """What a finding code means."""

    severity: Severity
    en: str
    vi: str
    row_level: bool = True  # listed per row in Dataset.row_issues


_C = FindingCode

FINDING_CODES: dict[str, FindingCode] = {
    # --- files, tables and columns -------------------------------------------------
    "table_absent": _C("info",
        "Optional table '{table}' is absent (no {table}.csv or {table}.parquet). The detector "
        "runs without it, but cannot use {disables}.",
        "Không có bảng tùy chọn '{table}' ({table}.csv hoặc {table}.parquet). Hệ thống vẫn chạy "
        "nhưng thiếu {disables_vi}.", row_level=False),
    "no_dossiers": _C("warning",
        "dossiers: no usable dossier ({read} row(s) read); there is nothing to score or learn "
        "from. score and report write outputs with a header only; train, evaluate and rules "
        "backtest stop.",
        "dossiers: không có hồ sơ nào dùng được (đọc {read} dòng); không có gì để chấm điểm "
        "hay học. score và report ghi kết quả chỉ có dòng tiêu đề; train, evaluate và rules "
        "backtest sẽ dừng.", row_level=False),
    "column_absent": _C("info",
        "{table}: optional column '{column}' is not in the file; all its values are treated "
        "as unknown.",
        "{table}: tệp không có cột tùy chọn '{column}'; mọi giá trị của cột được coi là "
        "không rõ.", row_level=False),
    "bad_csv_row": _C("error",
        "{table}: {n} row(s) have a different number of fields than the header "
        "(expected {expected}); they were skipped and the other rows read.",
        "{table}: {n} dòng có số trường khác với dòng tiêu đề (cần {expected}); các dòng này "
        "bị bỏ qua, các dòng khác vẫn được đọc.", row_level=False),
    "id_stored_as_number": _C("warning",
        "{table}.{column}: identifiers are stored as numbers, not text as the contract requires; "
        "they were converted to text and leading zeros restored where the ID's shape allows.",
        "{table}.{column}: mã định danh được lưu dạng số thay vì chuỗi như quy định; đã chuyển "
        "sang chuỗi và khôi phục các số 0 đầu khi cấu trúc mã cho phép.", row_level=False),
    # --- values --------------------------------------------------------------------
    "timestamp_without_offset": _C("info",
        "{table}.{column}: {n} timestamp(s) have no UTC offset (expected e.g. "
        "2025-03-14T08:12:45+07:00); they were read as Vietnam local time (+07:00).",
        "{table}.{column}: {n} thời điểm không ghi múi giờ (cần dạng 2025-03-14T08:12:45+07:00); "
        "được hiểu là giờ Việt Nam (+07:00).", row_level=False),
    "bad_timestamp": _C("warning",
        "{table}.{column}: {n} value(s) are not ISO 8601 timestamps (expected e.g. "
        "2025-03-14T08:12:45+07:00); they are treated as unknown.",
        "{table}.{column}: {n} giá trị không phải thời điểm ISO 8601 (cần dạng "
        "2025-03-14T08:12:45+07:00); được coi là không rõ."),
    "bad_date": _C("warning",
        "{table}.{column}: {n} value(s) are not dates (expected YYYY-MM-DD); they are treated "
        "as unknown.",
        "{table}.{column}: {n} giá trị không phải ngày (cần dạng YYYY-MM-DD); được coi là "
        "không rõ."),
    "bad_enum": _C("warning",
        "{table}.{column}: {n} value(s) are not one of {allowed}; they are treated as unknown.",
        "{table}.{column}: {n} giá trị không thuộc {allowed}; được coi là không rõ."),
    "bad_number": _C("warning",
        "{table}.{column}: {n} value(s) are not numbers (expected {expected}); they are treated "
        "as unknown.",
        "{table}.{column}: {n} giá trị không phải số (cần {expected}); được coi là không rõ."),
    "percent_value": _C("info",
        "{table}.{column}: {n} value(s) are written as percentages (e.g. 85%); they were read "
        "as fractions (0.85).",
        "{table}.{column}: {n} giá trị ghi dạng phần trăm (ví dụ 85%); đã đổi sang tỉ lệ (0,85).",
        row_level=False),
    "value_out_of_range": _C("warning",
        "{table}.{column}: {n} value(s) are outside {expected}; they are treated as unknown.",
        "{table}.{column}: {n} giá trị nằm ngoài {expected}; được coi là không rõ."),
    "bad_ip": _C("warning",
        "{table}.{column}: {n} value(s) are not IPv4 or IPv6 addresses; they are treated as "
        "unknown, so no network evidence is drawn from them.",
        "{table}.{column}: {n} giá trị không phải địa chỉ IPv4/IPv6; được coi là không rõ và "
        "không dùng làm bằng chứng về mạng."),
    "bad_cidr": _C("warning",
        "{table}.{column}: {n} cell(s) hold entries that are not network ranges (expected "
        "';'-separated CIDRs such as 10.20.0.0/16); those entries were ignored, valid ones kept.",
        "{table}.{column}: {n} ô có mục không phải dải mạng (cần CIDR cách nhau bởi ';', ví dụ "
        "10.20.0.0/16); các mục sai bị bỏ qua, mục đúng được giữ."),
    "missing_value": _C("warning",
        "{table}.{column}: {n} row(s) leave empty a column the contract requires; the value is "
        "treated as unknown.",
        "{table}.{column}: {n} dòng bỏ trống cột bắt buộc; giá trị được coi là không rõ."),
    # --- rows ----------------------------------------------------------------------
    "missing_key": _C("error",
        "{table}: {n} row(s) have no {column}, the table's identifier; nothing can refer to "
        "them, so they were set aside (rejected).",
        "{table}: {n} dòng không có {column} (mã định danh của bảng); không thể tham chiếu nên "
        "bị loại riêng ra."),
    "missing_submitted_at": _C("error",
        "dossiers: {n} dossier(s) have neither a usable submitted_at nor a synced_at, so they "
        "cannot be placed in time; they were set aside (rejected) and are not scored.",
        "dossiers: {n} hồ sơ không có submitted_at hợp lệ và cũng không có synced_at nên không "
        "xác định được thời điểm nộp; bị loại riêng ra và không được chấm điểm."),
    "submitted_at_from_synced_at": _C("warning",
        "dossiers: {n} dossier(s) have no usable submitted_at; their synced_at (when the unit's "
        "system received them, possibly days later) is used instead.",
        "dossiers: {n} hồ sơ không có submitted_at hợp lệ; dùng synced_at (thời điểm hệ thống "
        "của đơn vị nhận được, có thể trễ vài ngày) thay thế."),
    "duplicate_row": _C("info",
        "{table}: {n} row(s) are exact copies of an earlier row; each was kept once.",
        "{table}: {n} dòng trùng hoàn toàn với một dòng trước; chỉ giữ lại một bản.",
        row_level=False),
    "conflicting_duplicate": _C("error",
        "{table}: {n} row(s) repeat an earlier {column} with different content; the first row "
        "was kept and the later ones set aside (rejected).",
        "{table}: {n} dòng lặp lại {column} đã có nhưng nội dung khác; giữ dòng đầu tiên, các "
        "dòng sau bị loại riêng ra."),
    "unusable_label": _C("error",
        "labels: {n} row(s) have no usable proxy_type; they were set aside and not used.",
        "labels: {n} dòng không có proxy_type hợp lệ; bị loại riêng ra, không được sử dụng."),
    # --- identifiers ---------------------------------------------------------------
    "person_id_repaired": _C("info",
        "{table}.{column}: {n} citizen ID(s) had lost their leading zeros (10 or 11 digits, as "
        "a spreadsheet writes them); since every CCCD starts with a 0-prefixed province code, "
        "the zeros were restored.",
        "{table}.{column}: {n} số định danh bị mất số 0 ở đầu (còn 10 hoặc 11 chữ số do bảng "
        "tính); vì mọi số CCCD bắt đầu bằng mã tỉnh có số 0 nên đã khôi phục."),
    "business_id_repaired": _C("info",
        "{table}.{column}: {n} tax code(s) stored as numbers had lost their leading zero (9 "
        "digits); the zero was restored where that gives a valid MST.",
        "{table}.{column}: {n} mã số thuế lưu dạng số bị mất số 0 ở đầu (còn 9 chữ số); đã khôi "
        "phục khi kết quả là mã số thuế hợp lệ."),
    "person_id_not_12_digits": _C("warning",
        "{table}.{column}: {n} citizen ID(s) are not 12 digits (expected a 12-digit CCCD); they "
        "are kept as written to link records, but cannot be checked.",
        "{table}.{column}: {n} số định danh không đủ 12 chữ số (cần số CCCD 12 chữ số); được giữ "
        "nguyên để liên kết nhưng không kiểm tra được."),
    "person_id_unknown_province": _C("warning",
        "{table}.{column}: {n} citizen ID(s) start with a province code that does not exist "
        "(expected 001–096); they are kept as written.",
        "{table}.{column}: {n} số định danh có mã tỉnh (3 chữ số đầu) không tồn tại (cần "
        "001–096); được giữ nguyên."),
    "person_id_bad_century_digit": _C("warning",
        "{table}.{column}: {n} citizen ID(s) have a 4th digit outside 0–3 (century and sex); "
        "they are kept as written.",
        "{table}.{column}: {n} số định danh có chữ số thứ 4 (thế kỷ, giới tính) ngoài 0–3; được "
        "giữ nguyên."),
    "person_id_century_sex_mismatch": _C("warning",
        "{table}.{column}: {n} citizen ID(s) have a 4th digit that contradicts the recorded sex "
        "or birth century (0/1 = male/female born 1900–1999, 2/3 = born 2000–2099); either the "
        "ID or the population record is wrong.",
        "{table}.{column}: {n} số định danh có chữ số thứ 4 mâu thuẫn với giới tính hoặc thế kỷ "
        "sinh đã ghi nhận (0/1 = nam/nữ sinh 1900–1999, 2/3 = sinh 2000–2099); số định danh hoặc "
        "dữ liệu dân cư bị sai."),
    "person_id_birth_year_mismatch": _C("warning",
        "{table}.{column}: {n} citizen ID(s) have digits 5–6 that differ from the last two "
        "digits of the recorded birth year; either the ID or the population record is wrong.",
        "{table}.{column}: {n} số định danh có chữ số 5–6 khác hai số cuối năm sinh đã ghi "
        "nhận; số định danh hoặc dữ liệu dân cư bị sai."),
    "business_id_invalid": _C("warning",
        "{table}.{column}: {n} tax code(s) are invalid (expected an MST of 10 digits with a "
        "valid check digit, optionally -NNN for a branch); they are kept as written.",
        "{table}.{column}: {n} mã số thuế không hợp lệ (cần 10 chữ số với số kiểm tra đúng, có "
        "thể thêm -NNN cho chi nhánh); được giữ nguyên."),
    "owner_id_malformed": _C("warning",
        "{table}.{column}: {n} value(s) are neither a 12-digit citizen ID nor a 10-digit tax "
        "code; they are kept as written but cannot be matched to people or businesses.",
        "{table}.{column}: {n} giá trị không phải số định danh 12 chữ số cũng không phải mã số "
        "thuế 10 chữ số; được giữ nguyên nhưng không đối chiếu được với công dân, doanh nghiệp."),
    "holder_type_mismatch": _C("info",
        "accounts.holder_id: {n} account(s) have a holder whose ID kind does not match "
        "account_type (citizen accounts are held by a citizen ID, business accounts by a tax "
        "code).",
        "accounts.holder_id: {n} tài khoản có loại mã chủ tài khoản không khớp account_type "
        "(tài khoản công dân gắn số định danh, tài khoản doanh nghiệp gắn mã số thuế)."),
    # --- references ----------------------------------------------------------------
    "unknown_reference": _C("warning",
        "{table}.{column}: {n} value(s) do not match any {target}; the reference is kept, but "
        "nothing is known about what it points to.",
        "{table}.{column}: {n} giá trị không khớp với {target} nào; vẫn giữ tham chiếu nhưng "
        "không có thông tin về đối tượng được tham chiếu."),
    "unknown_owner": _C("info",
        "dossiers.owner_id: {n} owner(s) are not in the reference tables ({target}). The extract may simply not contain "
        "them: this is a data gap, not evidence; checks that need the owner's record are skipped.",
        "dossiers.owner_id: {n} chủ hồ sơ không có trong bảng tham chiếu ({target}). Bản trích xuất có thể chỉ "
        "thiếu dữ liệu: đây là thiếu dữ liệu, không phải bằng chứng; bỏ qua các kiểm tra cần "
        "hồ sơ của chủ hồ sơ."),
    "unknown_holder": _C("info",
        "accounts.holder_id: {n} account holder(s) are not in the reference tables ({target}). The extract may simply "
        "not contain them: this is a data gap, not evidence.",
        "accounts.holder_id: {n} chủ tài khoản không có trong bảng tham chiếu ({target}). Bản trích xuất có thể "
        "chỉ thiếu dữ liệu: đây là thiếu dữ liệu, không phải bằng chứng."),
    # --- impossible times ----------------------------------------------------------
    "accepted_before_submitted": _C("warning",
        "dossiers.accepted_at: {n} dossier(s) were accepted before they were submitted; one of "
        "the two clocks is wrong, so the time-to-accept of these dossiers is unreliable.",
        "dossiers.accepted_at: {n} hồ sơ được tiếp nhận trước thời điểm nộp; một trong hai "
        "đồng hồ bị sai nên thời gian tiếp nhận của các hồ sơ này không tin cậy."),
    "synced_before_submitted": _C("warning",
        "dossiers.synced_at: {n} dossier(s) reached the unit's system before they were "
        "submitted on the portal; the two systems' clocks disagree.",
        "dossiers.synced_at: {n} hồ sơ về hệ thống của đơn vị trước thời điểm nộp trên cổng; "
        "đồng hồ của hai hệ thống không khớp."),
    "account_created_after_use": _C("warning",
        "dossiers.account_id: {n} dossier(s) were submitted before their account's created_at; "
        "one of the two timestamps is wrong, so the account's age is unreliable for them.",
        "dossiers.account_id: {n} hồ sơ được nộp trước thời điểm tạo tài khoản (created_at); "
        "một trong hai thời điểm bị sai nên tuổi tài khoản không tin cậy."),
    "death_before_birth": _C("warning",
        "people.death_date: {n} person(s) have a death date before their birth date; the "
        "record is wrong.",
        "people.death_date: {n} người có ngày mất trước ngày sinh; dữ liệu bị sai."),
    "birth_in_future": _C("warning",
        "people.birth_date: {n} person(s) have a birth date after {as_of}; the record is wrong.",
        "people.birth_date: {n} người có ngày sinh sau {as_of}; dữ liệu bị sai."),
    "active_to_before_active_from": _C("warning",
        "staff.active_to: {n} staff member(s) stop being active before they start; their "
        "active period is unreliable.",
        "staff.active_to: {n} cán bộ có ngày kết thúc trước ngày bắt đầu công tác; thời gian "
        "công tác không tin cậy."),
    "mandate_ends_before_start": _C("warning",
        "authorizations.valid_to: {n} mandate(s) end before they start; their validity period "
        "is unreliable.",
        "authorizations.valid_to: {n} giấy ủy quyền hết hiệu lực trước ngày có hiệu lực; thời "
        "hạn ủy quyền không tin cậy."),
    # --- dossier fields ------------------------------------------------------------
    "online_without_account": _C("warning",
        "dossiers.account_id: {n} online dossier(s) have no account_id, although an online "
        "dossier is always submitted through a portal account; this is a data gap, and "
        "account-based checks are skipped for them.",
        "dossiers.account_id: {n} hồ sơ trực tuyến không có account_id, trong khi hồ sơ trực "
        "tuyến luôn được nộp qua tài khoản trên cổng; đây là thiếu dữ liệu, bỏ qua các kiểm tra "
        "theo tài khoản."),
    "owner_name_mismatch": _C("info",
        "dossiers.owner_name: {n} owner name(s) differ from the population record even after "
        "ignoring diacritics, capitals and spaces; typing errors are common, so this is only a "
        "note.",
        "dossiers.owner_name: {n} tên chủ hồ sơ khác với dữ liệu dân cư kể cả khi bỏ qua dấu, "
        "chữ hoa và khoảng trắng; lỗi gõ thường gặp nên chỉ ghi nhận."),
}  # fmt: skip
