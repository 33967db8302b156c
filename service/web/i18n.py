"""Words of the workbench pages, in Vietnamese (the default) and English.

Every string a page shows comes from :data:`STRINGS` (or, for feature names
and values in reasons, from :mod:`features.defs`, which already has
both languages). :func:`translate` refuses a key it does not know, so a typo
in a template fails the tests instead of showing a raw key to an inspector.
Dates read ``dd/mm/yyyy`` in Vietnamese and ``yyyy-mm-dd`` in English, on the
contract's local clock (Asia/Ho_Chi_Minh); numbers use the language's
decimal and thousands separators.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from features.contract import LOCAL_TZ
from features.defs import ALL_FEATURES, GAPS, value_text

Lang = Literal["vi", "en"]
LANGS: tuple[Lang, ...] = ("vi", "en")
DEFAULT_LANG: Lang = "vi"
_LOCAL = ZoneInfo(LOCAL_TZ)

_UI: dict[str, tuple[str, str]] = {
    # frame
    "app_name": ("Phát hiện hồ sơ nộp hộ", "Proxy filing detector"),
    "app_tagline": ("Bàn làm việc của đoàn kiểm tra", "Inspection workbench"),
    "nav_queue": ("Hàng đợi hồ sơ", "Case queue"),
    "nav_units": ("Đơn vị", "Units"),
    "nav_audit": ("Nhật ký truy cập", "Audit log"),
    "nav_actors": ("Hàng đợi theo đối tượng", "Cases by actor"),
    # cases by actor: the actor queue
    "actors_title": ("Vụ việc theo đối tượng", "Cases by actor"),
    "actors_intro": (
        "Mỗi vụ việc gom các hồ sơ bị gắn cờ quanh một đối tượng (tài khoản, thiết bị, số điện "
        "thoại, phương tiện thanh toán, cán bộ tiếp nhận, hoặc một đơn vị trong một tháng), để "
        "kết luận một lần cho cả đối tượng. Xếp theo số hồ sơ vi phạm dự kiến tìm được trong "
        "một lần kiểm tra.",
        "Each case gathers the flagged dossiers around one actor (an account, a device, a phone, "
        "a payment token, a receiving officer, or a unit in a month), so that one verdict covers "
        "the actor. Ranked by the misuse one review is expected to find.",
    ),
    "actors_count": ("{total} vụ việc", "{total} cases"),
    "filter_kind": ("Loại đối tượng", "Actor kind"),
    "col_actor": ("Đối tượng", "Actor"),
    "col_dossiers": ("Hồ sơ (chưa kết luận / tổng)", "Dossiers (open / all)"),
    "col_owners": ("Chủ hồ sơ khác nhau", "Distinct owners"),
    "col_main_type": ("Loại chủ yếu", "Main type"),
    "col_expected": ("Vi phạm dự kiến", "Expected misuse"),
    "col_max_score": ("Điểm cao nhất", "Highest score"),
    "expected_hint": (
        "Tổng xác suất vi phạm của các hồ sơ chưa kết luận: số hồ sơ vi phạm dự kiến tìm được "
        "khi kiểm tra vụ việc này.",
        "The sum of the open dossiers' misuse probabilities: the misuse a review of this case "
        "is expected to find.",
    ),
    "no_actors": ("Không có vụ việc nào khớp bộ lọc.", "No case matches the filters."),
    "actor_title": ("Vụ việc theo đối tượng #{id}", "Actor case #{id}"),
    "back_to_actors": ("Quay lại hàng đợi theo đối tượng", "Back to the cases by actor"),
    # the actor page
    "actor_who": ("Đối tượng là ai", "Who the actor is"),
    "actor_what": ("Đối tượng đã làm gì", "What the actor did"),
    "actor_pseudonym": ("Bí danh cố định", "Fixed pseudonym"),
    "actor_masked_note": (
        "Giá trị được che một phần để bảo vệ dữ liệu cá nhân (Nghị định 13/2023). Bí danh không "
        "đổi giữa các lần nạp, để so sánh đối tượng giữa các vụ việc; trong sơ đồ bằng chứng, "
        "đối tượng là nút lớn ghi “Đối tượng”.",
        "The value is partly masked to protect personal data (Decree 13/2023). The pseudonym "
        "stays the same from load to load, to compare actors across cases; in the evidence "
        "graph the actor is the large node marked “The actor”.",
    ),
    "actor_unit_month": ("{unit}, tháng {month}", "{unit}, {month}"),
    "fact_dossiers": ("Số hồ sơ bị gắn cờ", "Flagged dossiers"),
    "fact_open": ("Chưa kết luận", "Without a verdict"),
    "fact_owners": ("Chủ hồ sơ khác nhau", "Distinct owners"),
    "fact_months": ("Số tháng", "Months"),
    "fact_units": ("Số đơn vị", "Units"),
    "fact_main_type": ("Loại dự đoán chủ yếu", "Main predicted type"),
    "fact_expected": ("Vi phạm dự kiến", "Expected misuse"),
    "fact_period": ("Thời gian", "Period"),
    "fact_max_score": ("Điểm rủi ro cao nhất", "Highest risk score"),
    "actor_dossiers": ("Các hồ sơ và lý do gắn cờ", "The dossiers and why each was flagged"),
    "actor_dossiers_intro": (
        "Mỗi dòng là một hồ sơ của đối tượng, xếp theo điểm rủi ro; bấm mã vụ việc để xem chi "
        "tiết. Đánh dấu “Ngoại lệ” cho hồ sơ cần kết luận khác với kết luận chung.",
        "Each row is one of the actor's dossiers, riskiest first; click the case number for its "
        "details. Tick “Exception” for a dossier that needs a decision of its own.",
    ),
    "col_exception": ("Ngoại lệ", "Exception"),
    "exception_choice": ("Kết luận riêng", "Its own decision"),
    "exception_label": ("Hồ sơ {dossier} là ngoại lệ", "Dossier {dossier} is an exception"),
    "actor_verdict_title": ("Kết luận cho cả đối tượng", "Verdict on the actor"),
    "actor_verdict_intro": (
        "Kết luận được ghi cho từng hồ sơ chưa kết luận của đối tượng ({n} hồ sơ); hồ sơ đánh "
        "dấu ngoại lệ nhận kết luận riêng. Mỗi hồ sơ trở thành một nhãn để huấn luyện mô hình.",
        "The verdict is recorded on each of the actor's dossiers without one ({n}); dossiers "
        "ticked as exceptions get their own. Each dossier becomes one training label.",
    ),
    "actor_verdict_saved": (
        "Đã lưu kết luận: {applied} hồ sơ theo kết luận chung, {exceptions} hồ sơ ngoại lệ.",
        "Verdict saved: {applied} dossiers with the actor's decision, {exceptions} exceptions.",
    ),
    "actor_graph_help": (
        "Sơ đồ gộp bằng chứng của {n} hồ sơ có điểm cao nhất; nút lớn ở giữa là đối tượng. "
        "Bấm vào một hồ sơ để mở vụ việc của nó.",
        "The evidence of the {n} riskiest dossiers, united; the large node in the middle is the "
        "actor. Click a dossier to open its case.",
    ),
    "graph_actor": ("Đối tượng", "The actor"),
    "in_actor_case": ("Thuộc vụ việc theo đối tượng", "Part of the actor case"),
    "n_dossiers": ("{n} hồ sơ", "{n} dossiers"),
    "actor_assign_intro": (
        "Giao vụ việc cho một cán bộ kiểm tra; các hồ sơ chưa kết luận của đối tượng được giao "
        "cùng.",
        "Give the case to a reviewer; the actor's dossiers without a verdict go with it.",
    ),
    "actor_single_note": (
        "Hồ sơ này không chung đối tượng với hồ sơ bị gắn cờ nào khác: vụ việc chỉ có một hồ sơ.",
        "This dossier shares no actor with another flagged dossier: the case holds it alone.",
    ),
    "logout": ("Đăng xuất", "Log out"),
    "lang_switch": ("Ngôn ngữ", "Language"),
    "skip_to_content": ("Chuyển đến nội dung chính", "Skip to main content"),
    "signed_in_as": ("Đang đăng nhập", "Signed in as"),
    "footer_note": (
        "Điểm rủi ro chỉ mang tính tham khảo: mọi kết luận do cán bộ kiểm tra đưa ra.",
        "Risk scores are advisory: every conclusion is the inspector's.",
    ),
    # login
    "login_title": ("Đăng nhập", "Log in"),
    "login_intro": (
        "Đăng nhập bằng tài khoản được cấp để xem hàng đợi hồ sơ cần kiểm tra.",
        "Log in with the account you were given to see the review queue.",
    ),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "login_button": ("Đăng nhập", "Log in"),
    "login_failed": (
        "Tên đăng nhập hoặc mật khẩu không đúng.",
        "The username or password is not correct.",
    ),
    "login_expired": (
        "Phiên làm việc đã hết hạn hoặc biểu mẫu đã cũ; vui lòng đăng nhập lại.",
        "The form has expired; please log in again.",
    ),
    "logged_out": ("Bạn đã đăng xuất.", "You have logged out."),
    # queue
    "queue_title": ("Hàng đợi hồ sơ cần kiểm tra", "Cases to review"),
    "queue_count": ("{total} hồ sơ", "{total} cases"),
    "filters": ("Bộ lọc", "Filters"),
    "filter_unit": ("Đơn vị", "Unit"),
    "filter_month": ("Tháng", "Month"),
    "filter_type": ("Loại dự đoán", "Predicted type"),
    "filter_status": ("Trạng thái", "Status"),
    "filter_min_score": ("Điểm từ", "Score from"),
    "filter_max_score": ("đến", "to"),
    "filter_assignee": ("Người xử lý", "Assignee"),
    "filter_sort": ("Sắp xếp", "Sort"),
    "filter_per_page": ("Số dòng mỗi trang", "Rows per page"),
    "any": ("Tất cả", "Any"),
    "unassigned": ("Chưa phân công", "Unassigned"),
    "apply": ("Lọc", "Apply"),
    "reset": ("Xóa bộ lọc", "Clear filters"),
    "export_csv": ("Tải CSV", "Download CSV"),
    "export_hint": (
        "Tệp CSV gồm mọi hồ sơ khớp bộ lọc, không có dữ liệu cá nhân; việc tải được ghi nhật ký.",
        "The CSV holds every matching case, without personal data; downloads are logged.",
    ),
    "no_cases": (
        "Không có hồ sơ nào khớp bộ lọc.",
        "No case matches these filters.",
    ),
    "col_case": ("Mã vụ việc", "Case"),
    "col_dossier": ("Mã hồ sơ", "Dossier"),
    "col_unit": ("Đơn vị", "Unit"),
    "col_submitted": ("Ngày nộp", "Submitted"),
    "col_channel": ("Kênh", "Channel"),
    "col_score": ("Điểm rủi ro", "Risk score"),
    "col_type": ("Loại dự đoán", "Predicted type"),
    "col_status": ("Trạng thái", "Status"),
    "col_assignee": ("Người xử lý", "Assignee"),
    "col_reasons": ("Lý do", "Reasons"),
    "col_gaps": ("Thiếu dữ liệu", "Data gaps"),
    "sort_priority": ("Thứ tự hàng đợi", "Queue order"),
    "sort_risk_score": ("Điểm rủi ro", "Risk score"),
    "explore_badge": ("Khám phá", "Exploration"),
    "explore_badge_title": (
        "Không bị gắn cờ: được chọn ngẫu nhiên dưới ngưỡng để mô hình học từ kết luận của đoàn",
        "Not flagged: drawn at random below the threshold so the model learns from your verdict",
    ),
    "explore_note": (
        "Hồ sơ này không bị gắn cờ. Nó được chọn ngẫu nhiên trong số các hồ sơ có điểm dưới "
        "ngưỡng (khả năng được chọn {chance}) để mô hình học từ kết luận của đoàn về những gì nó "
        "có thể bỏ sót. Hãy xem xét và kết luận như mọi hồ sơ khác; điểm thấp không có nghĩa là "
        "hồ sơ hợp lệ.",
        "This dossier was not flagged. It was drawn at random among dossiers scored below the "
        "threshold (chance of being drawn {chance}) so the model learns from your verdict what "
        "it may be missing. Review and decide it like any other; a low score does not mean it "
        "is legitimate.",
    ),
    "sort_submitted_at": ("Ngày nộp", "Submitted"),
    "sort_unit_id": ("Đơn vị", "Unit"),
    "sort_month": ("Tháng", "Month"),
    "sort_updated_at": ("Cập nhật gần nhất", "Last updated"),
    "sort_desc": ("giảm dần", "descending"),
    "sort_asc": ("tăng dần", "ascending"),
    "page_of": ("Trang {page}/{pages}", "Page {page} of {pages}"),
    "prev_page": ("Trang trước", "Previous"),
    "next_page": ("Trang sau", "Next"),
    "gaps_n": ("{n} mục", "{n} items"),
    "more_reasons": ("và {n} lý do khác", "and {n} more"),
    "reason_code": ("Mã lý do (dùng để đối chiếu)", "Reason code (to match them up)"),
    "likely_legitimate": (
        "Nhiều khả năng hợp lệ: {type} ({share})",
        "Most likely legitimate: {type} ({share})",
    ),
    "doubt_title": (
        "Nếu là sai phạm thì thuộc loại: {type}",
        "If it is misuse, the type would be: {type}",
    ),
    "doubt_note": (
        "Theo chính mô hình, khả năng cao nhất là {type} ({share}), tức là hồ sơ hợp lệ. "
        "Hồ sơ vẫn ở hàng đợi vì điểm rủi ro {score} đạt ngưỡng gắn cờ khi được chấm; "
        "nếu là sai phạm thì thuộc loại «{misuse}». Hãy đối chiếu các lý do bên dưới "
        "trước khi kết luận.",
        "By the model's own probabilities the likeliest explanation is {type} ({share}): "
        "a legitimate filing. It is still in the queue because its risk score {score} reached "
        "the flag threshold when it was scored; if it is misuse, the type would be "
        '"{misuse}". Check the reasons below before concluding.',
    ),
    "bad_filter": (
        "Bộ lọc không hợp lệ ({field}): {message}",
        "Invalid filter ({field}): {message}",
    ),
    # case
    "case_title": ("Vụ việc #{id}", "Case #{id}"),
    "back_to_queue": ("Quay lại hàng đợi", "Back to the queue"),
    "summary": ("Tóm tắt", "Summary"),
    "risk_score": ("Điểm rủi ro", "Risk score"),
    "predicted_type": ("Loại dự đoán", "Predicted type"),
    "status": ("Trạng thái", "Status"),
    "verdict_type": ("Loại đã kết luận", "Concluded type"),
    "assignee": ("Người xử lý", "Assignee"),
    "source": ("Nguồn", "Source"),
    "model_version": ("Phiên bản mô hình", "Model version"),
    "probabilities": ("Xác suất theo loại", "Probability by type"),
    "reasons_title": ("Vì sao hồ sơ bị gắn cờ", "Why this dossier was flagged"),
    "reasons_none": ("Không có lý do nào được ghi.", "No reason was recorded."),
    "reasons_title_explore": (
        "Điều mô hình thấy ở hồ sơ này",
        "What the model saw in this dossier",
    ),
    "reasons_none_explore": (
        "Mô hình không thấy dấu hiệu nào đủ để gắn cờ; kết luận của đoàn cho biết mô hình có bỏ "
        "sót hay không.",
        "The model saw nothing that would flag it; your verdict tells whether it missed something.",
    ),
    "evidence": ("Bằng chứng", "Evidence"),
    "typical": ("thường gặp", "typical"),
    "gaps_title": ("Không kiểm tra được", "Could not check"),
    "gaps_intro": (
        "Các mục sau thiếu dữ liệu nên không kiểm tra được. Đây không phải là bằng chứng "
        "vi phạm và không được tính vào điểm rủi ro.",
        "These could not be checked because data is missing. They are not evidence of "
        "anything and do not count towards the risk score.",
    ),
    "gaps_none": (
        "Đủ dữ liệu cho mọi phép kiểm tra.",
        "Every check had the data it needed.",
    ),
    "dossier_title": ("Thông tin hồ sơ", "Dossier"),
    "masked_note": (
        "Số định danh, họ tên, điện thoại và thông tin thanh toán được che; mỗi lần xem "
        "thông tin gốc đều được ghi nhật ký.",
        "IDs, names, phones and payment details are masked; every reveal is logged.",
    ),
    "reveal": ("Hiện", "Reveal"),
    "revealed": ("đã hiện, có ghi nhật ký", "revealed, logged"),
    "empty_value": ("—", "—"),
    "graph_title": ("Sơ đồ bằng chứng", "Evidence graph"),
    "graph_help": (
        "Kéo nút để sắp xếp, cuộn chuột để phóng to/thu nhỏ, kéo nền để di chuyển, di chuột "
        "lên nút hoặc cạnh để xem chi tiết. Cạnh màu đỏ đậm là liên kết đáng ngờ.",
        "Drag nodes to arrange, scroll to zoom, drag the background to pan, hover a node or "
        "link for details. Thick red links are the suspicious ones.",
    ),
    "graph_fit": ("Vừa khung", "Fit"),
    "graph_empty": (
        "Chưa có sơ đồ bằng chứng cho vụ việc này.",
        "No evidence graph for this case.",
    ),
    "graph_noscript": (
        "Cần bật JavaScript để xem sơ đồ; danh sách hồ sơ liên quan ở bên dưới.",
        "JavaScript is needed for the graph; the related dossiers are listed below.",
    ),
    "legend": ("Chú giải", "Legend"),
    "legend_suspicious": ("Liên kết đáng ngờ", "Suspicious link"),
    "legend_link": ("Liên kết", "Link"),
    "legend_focus": ("Hồ sơ đang xem", "This dossier"),
    "graph_focus": ("Hồ sơ này", "This dossier"),
    "graph_owner": ("Chủ hồ sơ", "Owner"),
    "graph_holder": ("Chủ tài khoản", "Account holder"),
    "graph_owner_holder": ("Chủ hồ sơ = chủ tài khoản", "Owner = account holder"),
    "graph_person": ("Người {n}", "Person {n}"),
    "legend_owner": ("Chủ hồ sơ (viền đậm)", "The owner (thick ring)"),
    "legend_holder": ("Chủ tài khoản nộp (viền nét đứt)", "The account's holder (dashed ring)"),
    "suspicious_links": ("Các liên kết đáng ngờ (màu đỏ)", "The suspicious links (red)"),
    "graph_stats": ("{nodes} nút, {edges} cạnh", "{nodes} nodes, {edges} links"),
    "related_title": ("Hồ sơ liên quan", "Related dossiers"),
    "related_intro": (
        "Hồ sơ khác nộp qua cùng tài khoản, thiết bị, số điện thoại hoặc phương tiện thanh toán.",
        "Other dossiers through the same account, device, phone or payment instrument.",
    ),
    "related_none": ("Không có hồ sơ liên quan.", "No related dossier."),
    "related_via": ("Liên quan qua", "Shared"),
    "not_flagged": ("không bị gắn cờ", "not flagged"),
    "open_case": ("Xem vụ việc #{id}", "Open case #{id}"),
    "verdict_title": ("Kết luận", "Verdict"),
    "decision": ("Kết luận", "Decision"),
    "verdict_proxy_type": ("Loại", "Type"),
    "note": ("Ghi chú", "Note"),
    "note_hint": ("Tối đa 2000 ký tự.", "At most 2000 characters."),
    "choose": ("— Chọn —", "— Choose —"),
    "no_type": ("Không áp dụng", "Not applicable"),
    "save_verdict": ("Lưu kết luận", "Save verdict"),
    "verdict_saved": ("Đã lưu kết luận.", "The verdict was saved."),
    "verdict_history": ("Lịch sử kết luận", "Verdict history"),
    "verdicts_none": ("Chưa có kết luận nào.", "No verdict yet."),
    "viewer_readonly": (
        "Vai trò Người xem chỉ được đọc: không thể ghi kết luận hoặc phân công.",
        "The viewer role is read-only: it cannot record verdicts or assign cases.",
    ),
    "assign_title": ("Phân công", "Assignment"),
    "assign_to": ("Giao cho", "Assign to"),
    "assign_button": ("Phân công", "Assign"),
    "assign_me": ("Nhận xử lý", "Take it"),
    "assigned": ("Đã cập nhật phân công.", "The assignment was updated."),
    "assignment_history": ("Lịch sử phân công", "Assignment history"),
    "by": ("bởi", "by"),
    "at_time": ("lúc", "at"),
    # units
    "units_title": ("Tỷ lệ nộp trực tuyến theo đơn vị", "Online share by unit"),
    "province_total": ("Toàn tỉnh", "Whole province"),
    "choose_unit": ("Chọn đơn vị", "Choose a unit"),
    "share_chart": (
        "Tỷ lệ trực tuyến báo cáo và ước tính thực chất theo tháng",
        "Claimed vs estimated genuine online share by month",
    ),
    "claimed_share": ("Tỷ lệ trực tuyến báo cáo", "Claimed online share"),
    "target_line": ("Chỉ tiêu trực tuyến của đơn vị: {share}", "The unit's online target: {share}"),
    "genuine_share": ("Tỷ lệ trực tuyến thực chất (ước tính)", "Estimated genuine online share"),
    "officer_chart": (
        "Hồ sơ nghi cán bộ nộp thay, theo cán bộ tiếp nhận",
        "Suspected officer proxy filings by accepting officer",
    ),
    "officer_chart_note": (
        "Số ước tính (tổng xác suất) trên toàn kỳ; số trong ngoặc là hồ sơ đã bị gắn cờ.",
        "Estimated count (sum of probabilities) over the period; flagged dossiers in brackets.",
    ),
    "officer": ("Cán bộ", "Officer"),
    "suspected": ("Nghi nộp thay (ước tính)", "Suspected (estimated)"),
    "flagged": ("Đã gắn cờ", "Flagged"),
    "accepted": ("Hồ sơ tiếp nhận", "Dossiers accepted"),
    "month": ("Tháng", "Month"),
    "by_month": ("Số liệu theo tháng", "Figures by month"),
    "dossiers": ("Số hồ sơ", "Dossiers"),
    "cases": ("Vụ việc", "Cases"),
    "open_cases": ("Chưa xử lý", "Open"),
    "confirmed_misuse": ("Xác nhận sai phạm", "Confirmed misuse"),
    "gap_pp": ("Chênh lệch (điểm %)", "Gap (points)"),
    "no_unit_data": (
        "Chưa có số liệu theo tháng cho đơn vị này.",
        "No monthly figures for this unit yet.",
    ),
    "no_officers": ("Chưa có cán bộ nào bị nghi nộp thay.", "No officer is suspected."),
    "see_cases": ("Xem hồ sơ của đơn vị", "See the unit's cases"),
    "units_list": ("Danh sách đơn vị", "Units"),
    # audit
    "audit_title": ("Nhật ký truy cập", "Audit log"),
    "audit_intro": (
        "Mọi lần xem vụ việc, hiện thông tin cá nhân, kết luận, phân công, tải xuất và đăng "
        "nhập đều được ghi lại và không thể sửa hay xóa.",
        "Every case view, reveal, verdict, assignment, export and login is recorded and "
        "cannot be changed or deleted.",
    ),
    "audit_when": ("Thời điểm", "When"),
    "audit_who": ("Người dùng", "User"),
    "audit_role": ("Vai trò", "Role"),
    "audit_action": ("Hành động", "Action"),
    "audit_case": ("Vụ việc", "Case"),
    "audit_detail": ("Chi tiết", "Detail"),
    "audit_ip": ("Địa chỉ IP", "IP address"),
    "audit_none": ("Không có mục nào.", "No entry."),
    "older": ("Cũ hơn", "Older"),
    "newest": ("Mới nhất", "Newest"),
    # errors
    "error_title": ("Không thực hiện được", "That did not work"),
    "case_not_found": ("Không tìm thấy hồ sơ #{id}.", "Case #{id} was not found."),
    "unit_not_found": ("Không tìm thấy đơn vị {unit}.", "Unit {unit} was not found."),
    "forbidden": (
        "Vai trò {role} không được phép thực hiện việc này.",
        "The {role} role may not do this.",
    ),
    "forbidden_audit": (
        "Chỉ quản trị viên được xem nhật ký truy cập.",
        "Only administrators may see the audit log.",
    ),
    "csrf_failed": (
        "Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và thử lại.",
        "The form has expired or is not valid. Reload the page and try again.",
    ),
    "page_not_found": ("Không tìm thấy trang này.", "This page does not exist."),
    "go_queue": ("Về hàng đợi hồ sơ", "Go to the queue"),
    "bad_input": (
        "Dữ liệu không hợp lệ ({field}): {message}",
        "Invalid input ({field}): {message}",
    ),
}

_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "role": {
        "viewer": ("Người xem", "Viewer"),
        "reviewer": ("Cán bộ kiểm tra", "Reviewer"),
        "admin": ("Quản trị viên", "Administrator"),
    },
    "actor_kind": {
        "account": ("Tài khoản nộp hồ sơ", "Filing account"),
        "device": ("Thiết bị nộp hồ sơ", "Filing device"),
        "phone": ("Số điện thoại liên hệ", "Contact phone"),
        "payment_token": ("Phương tiện thanh toán", "Payment token"),
        "officer": ("Cán bộ tiếp nhận", "Receiving officer"),
        "unit_month": ("Đơn vị trong một tháng", "Unit in a month"),
        "dossier": ("Hồ sơ riêng lẻ", "Single dossier"),
    },
    #: what an actor of each kind did, in a sentence ({n} dossiers, {owners} distinct owners)
    "actor_did": {
        "account": (
            "Một tài khoản trên cổng dịch vụ công đã được dùng để nộp {n} hồ sơ bị gắn cờ cho "
            "{owners} chủ hồ sơ khác nhau.",
            "One portal account filed {n} flagged dossiers for {owners} distinct owners.",
        ),
        "device": (
            "Một thiết bị đã được dùng để nộp {n} hồ sơ bị gắn cờ cho {owners} chủ hồ sơ khác "
            "nhau.",
            "One device filed {n} flagged dossiers for {owners} distinct owners.",
        ),
        "phone": (
            "Một số điện thoại liên hệ được ghi trên {n} hồ sơ bị gắn cờ của {owners} chủ hồ sơ "
            "khác nhau.",
            "One contact phone is on {n} flagged dossiers of {owners} distinct owners.",
        ),
        "payment_token": (
            "Một phương tiện thanh toán đã trả phí cho {n} hồ sơ bị gắn cờ của {owners} chủ hồ "
            "sơ khác nhau.",
            "One payment token paid for {n} flagged dossiers of {owners} distinct owners.",
        ),
        "officer": (
            "Một cán bộ đã tiếp nhận {n} hồ sơ nghi do cán bộ nộp thay, của {owners} chủ hồ sơ "
            "khác nhau.",
            "One officer accepted {n} dossiers suspected of officer proxy, of {owners} distinct "
            "owners.",
        ),
        "unit_month": (
            "Trong tháng này, đơn vị có {n} hồ sơ nghi do cán bộ nộp thay (không rõ cán bộ nào), "
            "của {owners} chủ hồ sơ khác nhau.",
            "This month the unit had {n} dossiers suspected of officer proxy (no one officer), "
            "of {owners} distinct owners.",
        ),
        "dossier": (
            "Hồ sơ này không chung tài khoản, thiết bị, số điện thoại, phương tiện thanh toán "
            "hay cán bộ với hồ sơ bị gắn cờ nào khác.",
            "This dossier shares no account, device, phone, payment token or officer with "
            "another flagged dossier.",
        ),
    },
    "proxy_type": {
        "self": ("Chính chủ tự nộp", "Self"),
        "family": ("Người thân nộp hộ", "Family member"),
        "authorized": ("Người được ủy quyền", "Authorized representative"),
        "assisted": ("Được hỗ trợ nộp", "Assisted"),
        "identity_misuse": ("Nộp dưới tài khoản người khác", "Identity misuse"),
        "officer_proxy": ("Cán bộ nộp thay", "Officer proxy"),
    },
    "status": {
        "open": ("Chưa xử lý", "Open"),
        "needs_info": ("Cần thêm thông tin", "Needs information"),
        "misuse": ("Xác nhận sai phạm", "Confirmed misuse"),
        "legitimate": ("Hợp lệ", "Legitimate"),
    },
    "decision": {
        "misuse": ("Xác nhận sai phạm", "Confirmed misuse"),
        "legitimate": ("Hợp lệ", "Legitimate"),
        "needs_info": ("Cần thêm thông tin", "Needs more information"),
    },
    "via": {
        "account": ("Cùng tài khoản", "Same account"),
        "device": ("Cùng thiết bị", "Same device"),
        "phone": ("Cùng số điện thoại", "Same phone"),
        "payment": ("Cùng phương tiện thanh toán", "Same payment instrument"),
        "ip": ("Cùng địa chỉ IP", "Same IP address"),
    },
    "field": {
        "dossier_id": ("Mã hồ sơ", "Dossier ID"),
        "procedure_code": ("Mã thủ tục", "Procedure"),
        "unit_id": ("Đơn vị tiếp nhận", "Receiving unit"),
        "channel": ("Kênh nộp", "Channel"),
        "submitted_at": ("Thời điểm nộp", "Submitted at"),
        "synced_at": ("Thời điểm đồng bộ", "Synced at"),
        "account_id": ("Tài khoản nộp", "Account"),
        "holder_id": ("Chủ tài khoản (số định danh)", "Account holder (ID)"),
        "owner_id": ("Số định danh chủ hồ sơ", "Owner's ID number"),
        "owner_name": ("Họ tên chủ hồ sơ", "Owner's name"),
        "declared_relation": ("Quan hệ kê khai", "Declared relation"),
        "authorization_id": ("Mã ủy quyền", "Mandate ID"),
        "contact_phone": ("Số điện thoại liên hệ", "Contact phone"),
        "contact_email": ("Thư điện tử liên hệ", "Contact email"),
        "ip": ("Địa chỉ IP", "IP address"),
        "device_id": ("Thiết bị", "Device"),
        "attachment_kind": ("Loại tệp đính kèm", "Attachments"),
        "payer_token": ("Phương tiện thanh toán", "Payment instrument"),
        "received_by": ("Cán bộ tiếp nhận", "Accepting officer"),
        "accepted_at": ("Thời điểm tiếp nhận", "Accepted at"),
    },
    "account_type": {
        "citizen": ("Công dân", "Citizen"),
        "business": ("Doanh nghiệp", "Business"),
    },
    "unit_level": {
        "province": ("Cấp tỉnh", "Province"),
        "commune": ("Cấp xã", "Commune"),
    },
    "relation_kind": {
        "parent_of": ("là cha/mẹ của", "parent of"),
        "child_of": ("là con của", "child of"),
        "spouse": ("vợ/chồng", "spouse"),
        "guardian_of": ("là người giám hộ của", "guardian of"),
        "ward_of": ("là người được giám hộ của", "ward of"),
        "sibling": ("anh/chị/em", "sibling"),
        "household": ("cùng hộ", "same household"),
    },
    "node": {
        "dossier": ("Hồ sơ", "Dossier"),
        "account": ("Tài khoản", "Account"),
        "person": ("Công dân", "Person"),
        "business": ("Doanh nghiệp", "Business"),
        "household": ("Hộ gia đình", "Household"),
        "device": ("Thiết bị", "Device"),
        "ip": ("Địa chỉ IP", "IP address"),
        "network": ("Mạng cơ quan", "Office network"),
        "phone": ("Số điện thoại", "Phone"),
        "payment": ("Phương tiện thanh toán", "Payment instrument"),
        "staff": ("Cán bộ", "Officer"),
        "unit": ("Đơn vị", "Unit"),
        "mandate": ("Ủy quyền", "Mandate"),
    },
    "edge": {
        "holds": ("là chủ tài khoản", "holds"),
        "owns": ("là chủ hồ sơ", "owns"),
        "submitted_through": ("nộp qua tài khoản", "submitted through"),
        "relation": ("quan hệ nhân thân", "family relation"),
        "member_of": ("thành viên hộ", "member of"),
        "mandate": ("ủy quyền", "mandate"),
        "legal_rep": ("đại diện theo pháp luật", "legal representative"),
        "used_device": ("dùng thiết bị", "used device"),
        "from_ip": ("từ địa chỉ IP", "from IP"),
        "in_network": ("thuộc mạng", "in network"),
        "contact_phone": ("số điện thoại liên hệ", "contact phone"),
        "paid_by": ("thanh toán bằng", "paid by"),
        "received_at": ("nộp tại đơn vị", "received at"),
        "accepted_by": ("cán bộ tiếp nhận", "accepted by"),
        "is_person": ("là công dân", "is person"),
        "works_at": ("làm việc tại", "works at"),
        "visited_desk": ("đến quầy trong ngày", "visited the desk"),
        "claims_mandate": ("kê khai ủy quyền", "claims mandate"),
    },
    # data gaps read as their declarations in the feature registry say
    "gap": {g.code: (g.vi, g.en) for g in GAPS},
    "attr": {
        "dossier_count": (
            "Số hồ sơ qua đây (đến lúc chấm điểm, kể cả hồ sơ này)",
            "Dossiers through it (up to scoring, this one included)",
        ),
        "owner_count": (
            "Số chủ hồ sơ khác nhau (đến lúc chấm điểm, kể cả hồ sơ này)",
            "Distinct owners (up to scoring, this one included)",
        ),
        "shown": ("Số hồ sơ đang vẽ", "Dossiers drawn"),
        "submitted_at": ("Thời điểm nộp", "Submitted at"),
        "channel": ("Kênh nộp", "Channel"),
        "procedure_code": ("Mã thủ tục", "Procedure"),
        "unit_id": ("Đơn vị", "Unit"),
        "declared_relation": ("Quan hệ kê khai", "Declared relation"),
        "attachment_kind": ("Loại tệp đính kèm", "Attachments"),
        "known": ("Có trong dữ liệu", "In the data"),
        "birth_year": ("Năm sinh", "Birth year"),
        "death_date": ("Ngày mất", "Date of death"),
        "account_type": ("Loại tài khoản", "Account type"),
        "verification_level": ("Mức định danh", "Verification level"),
        "created_at": ("Ngày tạo", "Created"),
        "created_in_unit": ("Tạo từ mạng của đơn vị", "Created on the network of"),
        "level": ("Cấp", "Level"),
        "parent_unit_id": ("Đơn vị cấp trên", "Parent unit"),
        "online_target": ("Chỉ tiêu trực tuyến", "Online target"),
        "role": ("Chức danh", "Role"),
        "active_from": ("Công tác từ", "Active from"),
        "active_to": ("Công tác đến", "Active to"),
        "listed": ("Có trong sổ ủy quyền", "In the mandate register"),
        "valid_from": ("Hiệu lực từ", "Valid from"),
        "valid_to": ("Hiệu lực đến", "Valid to"),
        "registered_at": ("Ngày đăng ký", "Registered"),
        "kind": ("Loại", "Kind"),
        "visited_at": ("Thời điểm đến quầy", "Visited the desk at"),
        "visit_id": ("Mã lượt đến quầy", "Visit"),
        "accepted_at": ("Thời điểm tiếp nhận", "Accepted at"),
        "authorization_id": ("Mã ủy quyền", "Mandate ID"),
        "deceased": ("Đã mất", "Deceased"),
        "name": ("Tên", "Name"),
        "at": ("Thời điểm", "At"),
        "yes": ("có", "yes"),
        "no": ("không", "no"),
        "open_case": ("Nhấp để mở vụ việc #{id}", "Click to open case #{id}"),
    },
    "detail": {
        "decision": ("kết luận", "decision"),
        "proxy_type": ("loại", "type"),
        "verdict_id": ("mã kết luận", "verdict id"),
        "field": ("trường", "field"),
        "assignee": ("giao cho", "assignee"),
        "throttled": ("tạm chặn", "throttled"),
        "rows": ("số dòng", "rows"),
        "filter": ("bộ lọc", "filter"),
        "source": ("nguồn", "source"),
        "at": ("thời điểm chấm", "scored at"),
        "model_version": ("phiên bản mô hình", "model version"),
        "created": ("tạo mới", "created"),
        "refreshed": ("cập nhật", "refreshed"),
        "flagged": ("gắn cờ", "flagged"),
        "scored": ("đã chấm", "scored"),
        "user": ("người dùng", "user"),
        "role": ("vai trò", "role"),
        "sessions_ended": ("phiên bị đóng", "sessions ended"),
        "actor_id": ("mã vụ việc theo đối tượng", "actor case"),
        "applied": ("số hồ sơ theo kết luận chung", "dossiers given the actor's decision"),
        "exceptions": ("số hồ sơ ngoại lệ", "exceptions"),
        "cases": ("số vụ việc hồ sơ", "dossier cases"),
        "verdict_ids": ("mã các kết luận", "verdict ids"),
        "actors": ("vụ việc theo đối tượng", "actor cases"),
        # the queue's filters, as an export records them
        "unit_id": ("đơn vị", "unit"),
        "month": ("tháng", "month"),
        "status": ("trạng thái", "status"),
        "min_score": ("điểm từ", "score from"),
        "max_score": ("điểm đến", "score to"),
        "sort": ("sắp xếp", "sort"),
    },
    "moment": {
        "review": ("lúc xét duyệt (đủ dữ liệu)", "at review"),
        "submission": ("lúc nộp", "at submission"),
    },
    "source": {
        "batch": ("Chấm điểm theo lô", "Batch scoring"),
        "api": ("Chấm điểm khi nộp", "Scored at submission"),
    },
    "action": {
        "login": ("Đăng nhập", "Login"),
        "login_failed": ("Đăng nhập thất bại", "Failed login"),
        "logout": ("Đăng xuất", "Logout"),
        "queue_view": ("Xem hàng đợi", "Queue view"),
        "case_view": ("Xem vụ việc", "Case view"),
        "reveal": ("Hiện thông tin cá nhân", "Reveal"),
        "verdict": ("Kết luận", "Verdict"),
        "assign": ("Phân công", "Assignment"),
        "export": ("Tải xuất CSV", "CSV export"),
        "dashboard_view": ("Xem bảng số liệu", "Dashboard view"),
        "audit_view": ("Xem nhật ký", "Audit log view"),
        "user_create": ("Tạo người dùng", "User created"),
        "user_disable": ("Khóa người dùng", "User disabled"),
        "user_enable": ("Mở khóa người dùng", "User enabled"),
        "user_password_reset": ("Đặt lại mật khẩu", "Password reset"),
        "cases_load": ("Nạp vụ việc", "Cases loaded"),
        "actor_view": ("Xem vụ việc theo đối tượng", "Actor case view"),
        "actor_verdict": ("Kết luận theo đối tượng", "Actor verdict"),
    },
}


def _capitalised(feature: str) -> dict[str, tuple[str, str]]:
    """A feature's category words (its declaration's ``value_text``) as page labels."""
    return {
        code: (vi[:1].upper() + vi[1:], en[:1].upper() + en[1:])
        for code, (vi, en) in ALL_FEATURES[feature].value_text.items()
    }


# the words of the data's own codes exist once, with the features that read them in reasons
_LABELS.update(
    channel=_capitalised("channel"),
    declared_relation=_capitalised("declared_relation"),
    attachment_kind=_capitalised("attachment_kind"),
    staff_role=_capitalised("holder_staff_role"),
)
_LABELS["relation_kind"].update(ALL_FEATURES["relation_kind"].value_text)


def translate(lang: str, key: str, **values: object) -> str:
    """The UI string ``key`` in ``lang``, with ``{name}`` placeholders filled.

    Raises
    ------
    KeyError
        For a key that is not in the dictionaries (a template typo).
    """
    vi, en = _UI[key]
    text = en if lang == "en" else vi
    return text.format(**values) if values else text


def label(lang: str, kind: str, code: object) -> str:
    """The reader's word for a code (``kind``: role, proxy_type, status, node, gap, ...).

    An unknown code is shown as it is: data can carry codes newer than the
    pages, and a raw code is better than nothing.
    """
    if code is None or code == "":
        return "—"
    pair = _LABELS[kind].get(str(code))
    if pair is None:
        return str(code)
    return pair[1] if lang == "en" else pair[0]


#: how an audit detail's value reads, by its key (a kind of label), when it is a code
_DETAIL_KINDS = {
    "field": "field",
    "decision": "decision",
    "proxy_type": "proxy_type",
    "role": "role",
    "status": "status",
    "source": "source",
    "at": "moment",
}


def detail_value(lang: str, key: str, value: object) -> str:
    """An audit entry's detail value in words: codes by their labels, yes/no, filters spelt out."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return label(lang, "attr", "yes" if value else "no")
    if isinstance(value, dict):
        parts = [
            f"{label(lang, 'detail', k)}: {detail_value(lang, k, v)}"
            for k, v in sorted(value.items())
            if v is not None
        ]
        return ", ".join(parts) or "—"
    column = f"sort_{value.lstrip('-')}" if key == "sort" and isinstance(value, str) else ""
    if column in _UI:
        order = "sort_desc" if str(value).startswith("-") else "sort_asc"
        return f"{translate(lang, column)} ({translate(lang, order)})"
    if key == "month" and isinstance(value, str):
        return month(lang, value)
    kind = _DETAIL_KINDS.get(key)
    return label(lang, kind, value) if kind else str(value)


def labels(lang: str, kind: str) -> dict[str, str]:
    """Every code of ``kind`` with its word in ``lang`` (for selects and legends)."""
    return {code: pair[1] if lang == "en" else pair[0] for code, pair in _LABELS[kind].items()}


def feature_name(lang: str, feature: str) -> str:
    """A feature's name as a sentence fragment (from :data:`features.defs.ALL_FEATURES`)."""
    meta = ALL_FEATURES.get(feature)
    if meta is None:
        return feature
    return meta.en if lang == "en" else meta.vi


def feature_value(lang: str, feature: str, value: object) -> str:
    """An evidence value as an inspector reads it (yes/no, category words, 3 digits)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        value = float(value)
    if isinstance(value, int):
        return number(lang, value)
    text = value_text(feature, value, "en" if lang == "en" else "vi")
    if lang == "vi" and isinstance(value, float) and text.replace(".", "").isdigit():
        text = text.replace(".", ",")
    return text


def number(lang: str, value: float | int | None, digits: int = 0) -> str:
    """``12345.6`` as ``12.345,6`` (vi) or ``12,345.6`` (en)."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    if lang == "en":
        return text
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def percent(lang: str, share: float | None, digits: int = 1) -> str:
    """A share in 0..1 as ``86,0%`` (vi) or ``86.0%`` (en)."""
    if share is None:
        return "—"
    return number(lang, 100 * share, digits) + "%"


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:  # the store keeps UTC; SQLite hands it back naive
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_LOCAL)


def date(lang: str, value: str | datetime | None) -> str:
    """A moment's local date: ``03/10/2025`` (vi) or ``2025-10-03`` (en)."""
    moment = _moment(value)
    if moment is None:
        return "—" if not value else str(value)
    return moment.strftime("%Y-%m-%d" if lang == "en" else "%d/%m/%Y")


def datetime_text(lang: str, value: str | datetime | None) -> str:
    """A moment in local time: ``03/10/2025 08:15`` (vi) or ``2025-10-03 08:15`` (en)."""
    moment = _moment(value)
    if moment is None:
        return "—" if not value else str(value)
    return moment.strftime("%Y-%m-%d %H:%M" if lang == "en" else "%d/%m/%Y %H:%M")


def month(lang: str, value: str | None) -> str:
    """``2025-10`` as ``10/2025`` (vi) or ``2025-10`` (en)."""
    if not value or len(value) != 7 or value[4] != "-":
        return value or "—"
    return value if lang == "en" else f"{value[5:]}/{value[:4]}"
