"""The workbench in a real browser (Chromium through Playwright) against the real app.

Each test logs in through the form, as an inspector does, in a fresh browser
context. The seeded store (:mod:`web_seed`) is shared by the session, so tests
that change it (verdicts, assignments) work on cases no other test reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from web_kit import Workbench, login, screenshot
from web_seed import PASSWORD

from service.cases.models import AuditEntry, Case

pytestmark = pytest.mark.slow  # a browser and a seeded store: ~30 s in all


def _audit(wb: Workbench, action: str, case_id: int | None = None) -> list[AuditEntry]:
    with wb.store.session() as s:
        q = sa.select(AuditEntry).where(AuditEntry.action == action)
        if case_id is not None:
            q = q.where(AuditEntry.case_id == case_id)
        rows = list(s.scalars(q.order_by(AuditEntry.id)))
        s.expunge_all()
    return rows


def test_pages_need_a_session_and_come_back_after_login(page: Page, workbench: Workbench) -> None:
    # no cookie: the case page sends us to the login form, which brings us back to it
    case_id = workbench.seeded.case_ids[0]
    page.goto(f"/cases/{case_id}")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcases%2F\d+"))
    page.fill("#username", "chi.viewer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.locator("h1")).to_contain_text(f"#{case_id}")


def test_wrong_password_says_so_without_telling_whether_the_user_exists(
    page: Page, workbench: Workbench, tmp_path: Path
) -> None:
    messages = []
    for username in ("binh.reviewer", "nobody.here"):
        page.goto("/login")
        page.fill("#username", username)
        page.fill("#password", "not the password at all")
        page.click("button[type=submit]")
        expect(page.locator("#login-message")).to_be_visible()
        messages.append(page.locator("#login-message").inner_text())
        expect(page).to_have_url(re.compile(r"/login"))
    assert messages[0] == messages[1] == "Tên đăng nhập hoặc mật khẩu không đúng."
    screenshot(page, tmp_path, "login_failed")
    failed = _audit(workbench, "login_failed")
    assert {"binh.reviewer", "nobody.here"} <= {e.username for e in failed}
    assert all("password" not in str(e.detail) for e in failed)


def test_queue_filters_sorts_and_exports(page: Page, workbench: Workbench, tmp_path: Path) -> None:
    login(page, "binh.reviewer")
    total = len(workbench.seeded.case_ids)
    expect(page.locator("#queue-count")).to_have_text(f"{total} hồ sơ")
    rows = page.locator("#queue-table tbody tr")
    expect(rows).to_have_count(total)
    screenshot(page, tmp_path, "queue")
    # pagination: ids were given in falling score order, so page 2 of 10 starts at #11
    page.goto("/cases?per_page=10")
    expect(rows).to_have_count(10)
    expect(page.locator(".pager-pos")).to_have_text(f"Trang 1/{-(-total // 10)}")
    page.click("a[rel=next]")
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows.first.locator("a.case-link")).to_have_text("#11")
    # the predicted-type filter: only officer proxies remain, and the count says how many
    page.select_option("#f-type", "officer_proxy")
    page.click("#apply-filters")
    expect(page).to_have_url(re.compile(r"proxy_type=officer_proxy"))
    officer = len(workbench.seeded.by_type["officer_proxy"])
    expect(rows).to_have_count(officer)
    expect(page.locator("#queue-count")).to_have_text(f"{officer} hồ sơ")
    assert set(page.locator("#queue-table .badge.type-officer_proxy").all_inner_texts()) == {
        "Cán bộ nộp thay"
    }
    # the month filter lists the months that have cases, in the reader's format
    month = workbench.seeded.months[0]
    page.select_option("#f-month", month)
    page.click("#apply-filters")
    expect(page).to_have_url(re.compile(rf"month={month}"))
    dates = page.locator("#queue-table tbody tr td:nth-child(4)").all_inner_texts()
    assert dates and all(d.endswith(f"/{month[5:]}/{month[:4]}") for d in dates)
    page.select_option("#f-month", "")
    page.click("#apply-filters")
    expect(rows).to_have_count(officer)
    # a score range narrows further (officer proxies were seeded with scores 0.76 down to 0.57)
    with workbench.store.session() as s:
        expected = s.scalar(
            sa.select(sa.func.count(Case.id)).where(
                Case.proxy_type == "officer_proxy", Case.risk_score >= 0.7
            )
        )
    assert expected and expected < officer
    page.fill("#f-min", "0.7")
    page.click("#apply-filters")
    expect(page).to_have_url(re.compile(r"min_score=0.7"))
    expect(rows).to_have_count(expected)
    scores = [
        float(t.replace(",", "."))
        for t in page.locator("#queue-table .score-num").all_inner_texts()
    ]
    assert all(s >= 0.7 for s in scores)
    # sorting by score ascending through the column header
    page.goto("/cases?sort=-risk_score")  # the default order is the queue's priority
    page.click("th a.sort:has-text('Điểm rủi ro')")  # currently descending: flips to ascending
    expect(page).to_have_url(re.compile(r"sort=risk_score"))
    asc = [float(t.replace(",", ".")) for t in page.locator(".score-num").all_inner_texts()]
    assert asc == sorted(asc) and asc[0] < asc[-1]
    # the CSV export keeps the filters and is audited
    page.goto("/cases?proxy_type=identity_misuse")
    href = page.locator("#export-csv").get_attribute("href")
    assert href == "/v1/cases/export.csv?proxy_type=identity_misuse"
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    csv = httpx.get(workbench.url + href, cookies=cookies, timeout=10)
    assert csv.status_code == 200
    assert csv.text.count("\n") - 1 == len(workbench.seeded.by_type["identity_misuse"]) + len(
        workbench.seeded.by_type["family"]
    ) + len(workbench.seeded.by_type["authorized"])  # predicted type: misuse for all three
    # a filter that cannot be read is explained, not a crash
    page.goto("/cases?min_score=abc")
    expect(page.locator("#filter-error")).to_contain_text("min_score")


def test_case_page_graph_reasons_gaps_and_related(
    page: Page, workbench: Workbench, tmp_path: Path
) -> None:
    case_id = workbench.seeded.linked_case
    login(page, "binh.reviewer")
    page.goto(f"/cases/{case_id}")
    # the graph is drawn: one SVG group per node of the stored graph, suspicious links in red
    with workbench.store.session() as s:
        graph = s.get(Case, case_id).evidence["graph"]  # type: ignore[union-attr]
    expect(page.locator("#graph-canvas[data-ready='1']")).to_have_count(1)
    expect(page.locator("#graph-canvas g.node")).to_have_count(len(graph["nodes"]))
    suspicious = sum(e["suspicious"] for e in graph["edges"])
    assert suspicious > 0
    expect(page.locator("#graph-canvas path.edge.suspicious")).to_have_count(suspicious)
    assert page.evaluate("window.detectorGraph.nodes") == len(graph["nodes"])
    screenshot(page, tmp_path, "case")
    # suspicious links are drawn thicker and red
    width = page.eval_on_selector(
        "#graph-canvas path.edge.suspicious", "e => getComputedStyle(e).strokeWidth"
    )
    assert float(width.rstrip("px")) >= 3
    # hovering the focus node shows a tooltip naming its type
    focus = page.locator("#graph-canvas g.node.focus")
    focus.hover()
    expect(page.locator(".graph-tip")).to_be_visible()
    expect(page.locator(".graph-tip")).to_contain_text("Hồ sơ")
    # dragging a node moves it (and pins it)
    node = page.locator("#graph-canvas g.node:not(.focus)").first
    before = node.get_attribute("transform")
    box = node.locator("circle:not(.ring)").bounding_box()  # the node, not its label below
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 80, box["y"] + 60, steps=5)
    page.mouse.up()
    assert node.get_attribute("transform") != before
    # zooming in with the wheel raises the scale and spreads the nodes apart
    view = page.locator("#graph-canvas g.viewport")
    scale = float(view.get_attribute("data-scale") or 0)
    page.locator("#graph-canvas svg").hover()
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        f"document.querySelector('#graph-canvas g.viewport').dataset.scale > {scale}"
    )
    # the legend lists the node types drawn
    types = {n["type"] for n in graph["nodes"]}
    expect(page.locator(".legend li[data-type]")).to_have_count(len(types))
    # reasons in plain Vietnamese with their evidence values
    expect(page.locator("#reasons .reason").first).to_contain_text("tài khoản")
    expect(page.locator("#reasons .evidence dt").first).to_be_visible()
    # related dossiers link to their cases
    related = page.locator("a.related-case")
    assert related.count() >= 1
    target = related.first.get_attribute("href")
    related.first.click()
    expect(page).to_have_url(re.compile(re.escape(target or "?") + "$"))
    # every view is audited
    assert _audit(workbench, "case_view", case_id)


def test_data_gaps_are_listed_as_could_not_check(page: Page, workbench: Workbench) -> None:
    with workbench.store.session() as s:
        case_id, gaps = s.execute(
            sa.select(Case.id, Case.data_gaps).where(Case.data_gaps != "[]").limit(1)
        ).one()
    assert gaps
    login(page, "chi.viewer")
    page.goto(f"/cases/{case_id}")
    expect(page.locator("#gaps-h")).to_have_text("Không kiểm tra được")
    expect(page.locator("#gaps li[data-gap]")).to_have_count(len(gaps))
    expect(page.locator("#gaps")).to_contain_text("không phải là bằng chứng")


def test_reviewer_records_a_verdict_and_admin_finds_it_in_the_audit_log(
    page: Page, workbench: Workbench, browser: object, tmp_path: Path
) -> None:
    case_id = workbench.seeded.by_type["officer_proxy"][-1]
    login(page, "binh.reviewer")
    page.goto(f"/cases/{case_id}")
    page.select_option("#decision", "misuse")
    # the type list offers only the decision's types
    offered = page.locator("#verdict-type option:not([disabled])").evaluate_all(
        "os => os.map(o => o.value)"
    )
    assert offered == ["identity_misuse", "officer_proxy"]
    page.select_option("#verdict-type", "officer_proxy")
    page.fill("#note", "Cán bộ nộp thay tại quầy; đã xác minh với công dân.")
    page.click("#save-verdict")
    expect(page.locator("#notice")).to_have_text("Đã lưu kết luận.")
    expect(page.locator("#verdict-history li").first).to_contain_text("Xác nhận sai phạm")
    expect(page.locator(".head-badges .badge.status-misuse")).to_be_visible()
    # assignment: take it
    page.click("#assign-me")
    expect(page.locator("#current-assignee")).to_have_text("binh.reviewer")
    # the admin finds the verdict in the audit log
    page.context.clear_cookies()
    login(page, "an.admin")
    page.goto(f"/audit?action=verdict&case_id={case_id}")
    row = page.locator("#audit-table tbody tr").first
    expect(row).to_contain_text("binh.reviewer")
    expect(row).to_contain_text("Kết luận")
    expect(row).to_contain_text("Cán bộ nộp thay")
    expect(row.locator(f"a[href='/cases/{case_id}']")).to_have_count(1)
    screenshot(page, tmp_path, "audit")


def test_viewer_sees_no_form_and_a_forced_post_is_refused(page: Page, workbench: Workbench) -> None:
    case_id = workbench.seeded.by_type["identity_misuse"][-1]
    login(page, "chi.viewer")
    page.goto(f"/cases/{case_id}")
    expect(page.locator("#verdict-form")).to_have_count(0)
    expect(page.locator("#assign-form")).to_have_count(0)
    expect(page.locator("button.reveal")).to_have_count(0)
    expect(page.locator("#readonly-note")).to_be_visible()
    expect(page.locator("nav a[href='/audit']")).to_have_count(0)
    # forging the form anyway (with the viewer's own valid CSRF token): 403, nothing recorded
    csrf = page.locator("form[action='/logout'] input[name=csrf_token]").get_attribute("value")
    answer = page.evaluate(
        """async ([id, csrf]) => {
            const body = new URLSearchParams({decision: "misuse", proxy_type: "identity_misuse",
                                              note: "", csrf_token: csrf});
            const r = await fetch(`/cases/${id}/verdict`, {method: "POST", body});
            return [r.status, await r.text()];
        }""",
        [case_id, csrf],
    )
    assert answer[0] == 403
    assert "Người xem" in answer[1]
    # and through the API too
    answer = page.evaluate(
        """async ([id, csrf]) => {
            const r = await fetch(`/v1/cases/${id}/verdicts`, {method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                body: JSON.stringify({decision: "misuse", proxy_type: "identity_misuse"})});
            return r.status;
        }""",
        [case_id, csrf],
    )
    assert answer == 403
    with workbench.store.session() as s:
        assert s.get(Case, case_id).status == "open"  # type: ignore[union-attr]
    # the audit log is for admins only
    response = page.goto("/audit")
    assert response is not None and response.status == 403
    expect(page.locator("#error-message")).to_contain_text("quản trị viên")


def test_reveal_shows_the_value_and_is_logged(page: Page, workbench: Workbench) -> None:
    case_id = workbench.seeded.by_type["family"][0]
    with workbench.store.session() as s:
        dossier = s.get(Case, case_id).dossier  # type: ignore[union-attr]
    owner_id = dossier["owner_id"]
    others = [f for f in ("owner_name", "holder_id", "contact_phone") if dossier.get(f)]
    assert owner_id and others
    login(page, "binh.reviewer")
    page.goto(f"/cases/{case_id}")
    shown = page.locator("#value-owner_id").inner_text()
    assert "*" in shown and shown != owner_id  # masked
    before = len(_audit(workbench, "reveal", case_id))
    page.click("button.reveal[data-reveal='owner_id']")
    expect(page.locator("#value-owner_id")).to_have_text(owner_id)
    # POST, redirect, GET: the address is the case's, never the POST's, and holds no value
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}#dossier$"))
    assert owner_id not in page.url
    for other in others:  # the other fields stay masked
        expect(page.locator(f"#value-{other}")).to_contain_text("*")
    after = _audit(workbench, "reveal", case_id)
    assert len(after) == before + 1
    assert after[-1].username == "binh.reviewer" and after[-1].detail == {"field": "owner_id"}
    assert owner_id not in str(after[-1].detail)  # the field is logged, never the value
    # a reload is a GET (no "resubmit the form?"), masks it again and reveals nothing new:
    # a reveal is one deliberate act, not a setting
    page.reload()
    assert "*" in page.locator("#value-owner_id").inner_text()
    assert len(_audit(workbench, "reveal", case_id)) == before + 1


def test_switching_to_english(page: Page, workbench: Workbench, tmp_path: Path) -> None:
    login(page, "binh.reviewer")
    assert page.get_attribute("html", "lang") == "vi"
    expect(page.locator("h1")).to_have_text("Hàng đợi hồ sơ cần kiểm tra")
    page.click("a[href^='/lang/en']")
    assert page.get_attribute("html", "lang") == "en"
    expect(page.locator("h1")).to_have_text("Cases to review")
    expect(page).to_have_url(re.compile(r"/cases$"))
    # the choice sticks across pages, reasons included
    case_id = workbench.seeded.by_type["identity_misuse"][0]
    page.goto(f"/cases/{case_id}")
    expect(page.locator("#reasons-h")).to_have_text("Why this dossier was flagged")
    expect(page.locator("#reasons .reason").first).to_contain_text("owners")
    expect(page.locator("#graph-canvas[data-ready='1']")).to_have_count(1)
    screenshot(page, tmp_path, "case_en")
    # dates follow the language: yyyy-mm-dd in English, dd/mm/yyyy in Vietnamese
    page.goto("/cases")
    first_date = page.locator("#queue-table tbody tr td").nth(3).inner_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first_date)
    page.click("a[href^='/lang/vi']")
    first_date = page.locator("#queue-table tbody tr td").nth(3).inner_text()
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", first_date)


def test_dashboard_draws_both_charts(page: Page, workbench: Workbench, tmp_path: Path) -> None:
    login(page, "chi.viewer")
    page.goto("/units")
    expect(page.locator("#scope")).to_have_text("Toàn tỉnh")
    expect(page.locator("#share-chart path.series")).to_have_count(2)
    months = page.locator("#months-table tbody tr").count()
    assert months == 6
    expect(page.locator("#share-chart circle.dot-claimed")).to_have_count(months)
    assert page.locator("#officer-chart rect.bar").count() > 0
    screenshot(page, tmp_path, "dashboard")
    unit = workbench.seeded.officer_unit
    page.select_option("#unit", unit)
    page.click("#unit-picker button")
    expect(page).to_have_url(re.compile(rf"/units/{unit}$"))
    expect(page.locator("#scope")).to_contain_text(unit)
    assert page.locator("#officer-chart rect.bar").count() > 0
    screenshot(page, tmp_path, "dashboard_unit")


def test_unknown_case_explains_and_links_back(page: Page, workbench: Workbench) -> None:
    login(page, "chi.viewer")
    response = page.goto("/cases/987654")
    assert response is not None and response.status == 404
    expect(page.locator("#error-message")).to_have_text("Không tìm thấy hồ sơ #987654.")
    page.click("main a.btn")
    expect(page).to_have_url(re.compile(r"/cases$"))
