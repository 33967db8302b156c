"""The pages' rules without a browser: sessions, roles, CSRF, masking, audit, headers.

A small store built by hand (three cases, one user per role) behind the real
app in workbench-only mode, driven by Starlette's test client; what needs a
browser (the graph, the forms' scripts, screenshots) is in
``test_pages_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from service.app import create_app
from service.cases.db import CaseStore
from service.cases.models import AuditEntry, Case, UnitMonth, Verdict
from service.cases.security import create_user
from service.settings import Settings

PASSWORD = "mat-khau-thu-nghiem-2025"
OWNER_ID = "079095012345"
PHONE = "0912345678"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _graph() -> dict[str, Any]:
    # a star: the dossier, its pseudonymised owner and its account; one suspicious link
    return {
        "nodes": [
            {"id": "dossier:H1", "type": "dossier", "label": "H1"},
            {"id": "person:ab12cd34ef56", "type": "person", "label": "ab12cd34ef56"},
            {"id": "account:TK1", "type": "account", "label": "TK1", "dossier_count": 9},
        ],
        "edges": [
            {"source": "person:ab12cd34ef56", "target": "dossier:H1", "type": "owns",
             "key": "owns", "suspicious": False},
            {"source": "dossier:H1", "target": "account:TK1", "type": "submitted_through",
             "key": "submitted_through", "suspicious": True},
        ],
        "graph": {"focus": "dossier:H1", "owner": "person:ab12cd34ef56", "holder": None},
    }  # fmt: skip


def _case(n: int, **changes: Any) -> Case:
    fields: dict[str, Any] = dict(
        dossier_id=f"H{n}",
        unit_id="X001",
        month="2025-10",
        channel="online",
        risk_score=0.9 - n / 100,
        proxy_type="identity_misuse",
        reasons=[
            {
                "code": "R102",
                "vi": "Khai là tự nộp nhưng tài khoản thuộc người không có quan hệ với chủ hồ sơ",
                "en": "Declared as filed by the owner, but through someone unrelated's account",
                "evidence": {"holder_relation": "none_known", "declared_relation": "self"},
            }
        ],
        data_gaps=["relation_unknown"],
        probabilities={"identity_misuse": 0.8, "self": 0.2},
        dossier={
            "dossier_id": f"H{n}",
            "owner_id": OWNER_ID,
            "owner_name": "Nguyễn Thị Hoa",
            "contact_phone": PHONE,
            "channel": "online",
            "submitted_at": "2025-10-03T08:15:00+07:00",
        },
        evidence={"graph": _graph(), "related": [{"dossier_id": "H2", "via": "account",
                                                 "submitted_at": "2025-10-01T09:00:00+07:00"}]},
        source="batch",
        scored_at="review",
        model_version="test",
    )  # fmt: skip
    return Case(**{**fields, **changes})


@pytest.fixture(scope="module")
def app_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, CaseStore]]:
    state = tmp_path_factory.mktemp("pages")
    store = CaseStore(f"sqlite:///{state / 'cases.db'}")
    with store.session() as s:
        for username, role in (("an", "admin"), ("binh", "reviewer"), ("chi", "viewer")):
            create_user(s, username, PASSWORD, role, username.title())
        s.add_all(_case(n) for n in range(1, 7))
        # a case from the API before any batch run: no graph, no related dossiers yet
        s.add(_case(7, evidence=None, reasons=[], data_gaps=[], source="api"))
        s.add(
            UnitMonth(
                unit_id="X001",
                month="2025-10",
                dossiers=100,
                claimed_online_share=0.9,
                estimated_genuine_online_share=0.7,
                suspected_officer_proxy=20.0,
            )
        )
    app = create_app(Settings(state_dir=state, api_keys=""), cases=store)
    yield app, store
    store.dispose()


@pytest.fixture
def store(app_store: tuple[Any, CaseStore]) -> CaseStore:
    return app_store[1]


@pytest.fixture
def client(app_store: tuple[Any, CaseStore]) -> Iterator[TestClient]:
    with TestClient(app_store[0], follow_redirects=False) as c:
        yield c


def _login(
    client: TestClient, username: str, password: str = PASSWORD, next_url: str = "/cases"
) -> Any:
    form = client.get("/login")
    token = _CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_url},
    )


def _csrf(client: TestClient, path: str = "/cases") -> str:
    return _CSRF.search(client.get(path).text).group(1)  # type: ignore[union-attr]


def _actions(store: CaseStore, action: str, case_id: int | None = None) -> list[AuditEntry]:
    with store.session() as s:
        q = sa.select(AuditEntry).where(AuditEntry.action == action)
        if case_id is not None:
            q = q.where(AuditEntry.case_id == case_id)
        rows = list(s.scalars(q))
        s.expunge_all()
    return rows


@pytest.mark.parametrize("path", ["/cases", "/cases/1", "/units", "/units/X001", "/audit"])
def test_every_page_needs_a_session(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


def test_a_form_posted_without_a_session_goes_to_login_then_back_to_the_case(
    client: TestClient, store: CaseStore
) -> None:
    r = client.post("/cases/1/verdict", data={"decision": "needs_info", "csrf_token": "x"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fcases%2F1"
    with store.session() as s:
        assert s.get(Case, 1).status == "open"  # type: ignore[union-attr]


def test_login_sets_a_protected_cookie_and_refuses_a_foreign_next(client: TestClient) -> None:
    r = _login(client, "binh", next_url="//evil.example/steal")
    assert r.status_code == 303
    assert r.headers["location"] == "/cases"  # another site is never a target
    cookie = r.headers["set-cookie"]
    assert "detector_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    assert client.get("/cases").status_code == 200


def test_session_cookie_is_secure_over_https_only(app_store: tuple[Any, CaseStore]) -> None:
    with TestClient(app_store[0], base_url="https://testserver", follow_redirects=False) as c:
        r = _login(c, "binh")
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    # over plain http a forwarded-proto header is not believed without DETECTOR_TRUST_PROXY
    with TestClient(app_store[0], follow_redirects=False) as c:
        c.headers["X-Forwarded-Proto"] = "https"
        r = _login(c, "binh")
    assert r.status_code == 303 and "Secure" not in r.headers["set-cookie"]


def test_login_form_needs_its_own_csrf_token(client: TestClient, store: CaseStore) -> None:
    client.get("/login")
    before = len(_actions(store, "login"))
    r = client.post(
        "/login", data={"username": "binh", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert r.status_code == 403
    assert "detector_session" not in r.headers.get("set-cookie", "")
    assert len(_actions(store, "login")) == before


def test_wrong_password_and_unknown_user_read_the_same(
    client: TestClient, store: CaseStore
) -> None:
    wrong = _login(client, "binh", "not the password")
    unknown = _login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = re.compile(r'id="login-message">([^<]+)<')
    assert message.search(wrong.text).group(1) == message.search(unknown.text).group(1)  # type: ignore[union-attr]
    failed = {e.username for e in _actions(store, "login_failed")}
    assert {"binh", "nobody"} <= failed


def test_pages_carry_security_headers(client: TestClient) -> None:
    _login(client, "chi")
    r = client.get("/cases/1")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    # no inline script runs: every <script> is a file or a JSON data block
    for tag in re.findall(r"<script[^>]*>", r.text):
        assert 'src="/static/' in tag or 'type="application/json"' in tag


def test_case_page_masks_personal_data_and_is_audited(client: TestClient, store: CaseStore) -> None:
    _login(client, "binh")
    before = len(_actions(store, "case_view", 2))
    r = client.get("/cases/2")
    assert r.status_code == 200
    assert OWNER_ID not in r.text and PHONE not in r.text and "Nguyễn Thị Hoa" not in r.text
    assert "**********45" in r.text
    assert len(_actions(store, "case_view", 2)) == before + 1
    # the reasons in words, the gap as "could not check", the graph as embedded data
    assert "Khai là tự nộp" in r.text and "Không kiểm tra được" in r.text
    assert 'id="graph-data"' in r.text and '"suspicious":true' in r.text


def test_reveal_is_a_reviewer_post_audited_per_field(client: TestClient, store: CaseStore) -> None:
    _login(client, "binh")
    token = _csrf(client, "/cases/3")
    r = client.post(
        "/cases/3/reveal", data={"field": ["owner_id", "contact_phone"], "csrf_token": token}
    )
    # POST, redirect, GET: the answer is the case page itself, so a reload resubmits nothing
    assert r.status_code == 303 and r.headers["location"] == "/cases/3#dossier"
    fields = sorted(e.detail["field"] for e in _actions(store, "reveal", 3))
    assert fields == ["contact_phone", "owner_id"]
    assert all(OWNER_ID not in str(e.detail) for e in _actions(store, "reveal", 3))
    # the redirect carries field names, bound to this session; never a value
    cookie = r.headers["set-cookie"]
    assert "reveal=" in cookie and OWNER_ID not in cookie and PHONE not in cookie
    assert "Path=/cases/3" in cookie and "HttpOnly" in cookie
    r = client.get("/cases/3")
    assert OWNER_ID in r.text and PHONE in r.text and "Nguyễn Thị Hoa" not in r.text
    # shown once: reloading masks again, and records no new reveal
    again = client.get("/cases/3")
    assert OWNER_ID not in again.text and PHONE not in again.text
    assert len(_actions(store, "reveal", 3)) == 2
    # a reveal cookie forged or taken from another session shows nothing
    forged = "3|owner_id|9999999999|" + "0" * 64
    client.cookies.set("reveal", forged, path="/cases/3")
    assert OWNER_ID not in client.get("/cases/3").text
    # an unknown field is refused, naming it
    r = client.post("/cases/3/reveal", data={"field": "password_hash", "csrf_token": token})
    assert r.status_code == 422 and "reveal" in r.text
    # without the CSRF token nothing is shown
    r = client.post("/cases/3/reveal", data={"field": "owner_id", "csrf_token": "x"})
    assert r.status_code == 403 and OWNER_ID not in r.text


def test_viewer_may_read_but_not_reveal_write_or_read_the_audit_log(
    client: TestClient, store: CaseStore
) -> None:
    _login(client, "chi")
    page = client.get("/cases/4").text
    assert 'id="verdict-form"' not in page and "reveal-form" not in page
    assert 'href="/audit"' not in page
    token = _csrf(client, "/cases/4")
    for path, data in (
        ("/cases/4/verdict", {"decision": "misuse", "proxy_type": "identity_misuse"}),
        ("/cases/4/assign", {"assignee": "binh"}),
        ("/cases/4/reveal", {"field": "owner_id"}),
    ):
        r = client.post(path, data={**data, "csrf_token": token})
        assert r.status_code == 403, path
        assert "Người xem" in r.text
        assert OWNER_ID not in r.text
    with store.session() as s:
        assert (
            s.scalar(sa.select(sa.func.count()).select_from(Verdict).where(Verdict.case_id == 4))
            == 0
        )
        assert s.get(Case, 4).assignee_id is None  # type: ignore[union-attr]
    assert client.get("/audit").status_code == 403


def test_verdict_needs_csrf_and_a_valid_type(client: TestClient, store: CaseStore) -> None:
    _login(client, "binh")
    token = _csrf(client, "/cases/5")
    form = {"decision": "misuse", "proxy_type": "officer_proxy", "note": "Đã xác minh."}
    assert client.post("/cases/5/verdict", data={**form, "csrf_token": "wrong"}).status_code == 403
    bad = client.post(
        "/cases/5/verdict", data={**form, "proxy_type": "family", "csrf_token": token}
    )
    assert bad.status_code == 422 and "proxy_type" in bad.text
    assert "Đã xác minh." in bad.text  # the note typed is kept in the form
    with store.session() as s:
        assert s.get(Case, 5).status == "open"  # type: ignore[union-attr]
    ok = client.post("/cases/5/verdict", data={**form, "csrf_token": token})
    assert ok.status_code == 303 and ok.headers["location"].startswith("/cases/5?done=verdict")
    with store.session() as s:
        case = s.get(Case, 5)
        assert case is not None and (case.status, case.verdict_type) == ("misuse", "officer_proxy")
    entry = _actions(store, "verdict", 5)[-1]
    assert entry.username == "binh" and entry.detail["decision"] == "misuse"
    assert "Đã lưu kết luận." in client.get(ok.headers["location"]).text


def test_assignment_and_its_errors(client: TestClient, store: CaseStore) -> None:
    _login(client, "an")
    token = _csrf(client, "/cases/6")
    assert (
        client.post("/cases/6/assign", data={"assignee": "binh", "csrf_token": token}).status_code
        == 303
    )
    with store.session() as s:
        assert s.get(Case, 6).assignee_id is not None  # type: ignore[union-attr]
    # a viewer cannot be given cases; the page says which field and why
    r = client.post("/cases/6/assign", data={"assignee": "chi", "csrf_token": token})
    assert r.status_code == 422 and "assignee" in r.text
    assert _actions(store, "assign", 6)[-1].detail == {"assignee": "binh"}


def test_case_without_evidence_says_so(client: TestClient) -> None:
    _login(client, "chi")
    r = client.get("/cases/7")
    assert r.status_code == 200
    assert "Chưa có sơ đồ bằng chứng" in r.text and 'id="graph-data"' not in r.text
    assert "Không có hồ sơ liên quan." in r.text and "Chấm điểm khi nộp" in r.text


def test_language_links_of_a_post_answer_lead_back_to_the_case(client: TestClient) -> None:
    _login(client, "binh")
    token = _csrf(client, "/cases/1")
    r = client.post("/cases/1/reveal", data={"field": "owner_id", "csrf_token": token})
    r = client.get(r.headers["location"].partition("#")[0])
    assert OWNER_ID in r.text and 'href="/lang/en?next=/cases/1"' in r.text


def test_unknown_case_and_unit_explain_and_link_back(client: TestClient) -> None:
    _login(client, "chi")
    r = client.get("/cases/424242")
    assert r.status_code == 404
    assert "Không tìm thấy hồ sơ #424242." in r.text and 'href="/cases"' in r.text
    assert client.get("/cases/abc").status_code == 404
    r = client.get("/units/NOPE")
    assert r.status_code == 404 and "NOPE" in r.text and 'href="/units"' in r.text


def test_queue_filter_errors_name_the_field(client: TestClient) -> None:
    _login(client, "chi")
    r = client.get("/cases?status=closed")
    assert r.status_code == 422 and "status" in r.text
    r = client.get("/cases?max_score=0.1&min_score=0.5")
    assert r.status_code == 422 and "max_score" in r.text


def test_language_cookie_switches_the_page(client: TestClient) -> None:
    _login(client, "chi")
    assert '<html lang="vi">' in client.get("/cases").text
    r = client.get("/lang/en", params={"next": "/units"})
    assert r.status_code == 303 and r.headers["location"] == "/units"
    page = client.get("/units").text
    assert '<html lang="en">' in page and "Online share by unit" in page
    # an unknown language is ignored, and so is a foreign next
    r = client.get("/lang/fr", params={"next": "https://evil.example/"})
    assert r.headers["location"] == "/cases" and "lang=fr" not in r.headers.get("set-cookie", "")
    client.get("/lang/vi")


def test_admin_reads_the_audit_log_filtered(client: TestClient) -> None:
    _login(client, "an")
    r = client.get("/audit", params={"action": "login"})
    assert r.status_code == 200
    actions = set(re.findall(r'data-action="([a-z_]+)"', r.text))
    assert actions == {"login"}


def test_logout_needs_csrf_and_ends_the_session(client: TestClient, store: CaseStore) -> None:
    _login(client, "binh")
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/cases").status_code == 200  # still logged in
    r = client.post("/logout", data={"csrf_token": _csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == "/login?bye=1"
    assert client.get("/cases").status_code == 303
    assert _actions(store, "logout")


def test_static_files_are_served_locally() -> None:
    from service.web.pages import STATIC_DIR

    names = {p.name for p in Path(STATIC_DIR).iterdir()}
    assert {"app.css", "app.js", "graph.js"} <= names
    for name in ("app.css", "app.js", "graph.js"):
        text = (Path(STATIC_DIR) / name).read_text(encoding="utf-8")
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text


def test_a_case_drawn_to_explore_is_marked_in_the_queue_and_on_its_page(
    client: TestClient, store: CaseStore
) -> None:
    with store.session() as s:
        drawn = _case(8, risk_score=0.12, proxy_type="family", chosen_by="exploration",
                      propensity=0.04, priority=0.87)  # fmt: skip
        s.add(drawn)
        s.flush()
        case_id = drawn.id
    try:
        _login(client, "chi")
        queue_page = client.get("/cases").text
        row = re.search(rf'<tr data-case="{case_id}">(.*?)</tr>', queue_page, re.S)
        assert row is not None, "the queue's first page shows it, by its priority, not its risk"
        assert "Khám phá" in row.group(1) and "dưới ngưỡng" in row.group(1)
        assert "chosen-exploration" not in queue_page.replace(row.group(0), "")  # only that row
        page = client.get(f"/cases/{case_id}").text
        note = re.search(r'id="exploration-note">([^<]+)<', page)
        assert note is not None and "không bị gắn cờ" in note.group(1) and "4,0%" in note.group(1)
        heading = re.search(r'id="reasons-h">([^<]+)<', page)
        assert heading is not None and "gắn cờ" not in heading.group(1)  # it was not flagged
        client.get("/lang/en", params={"next": "/cases"})
        note_en = re.search(r'id="exploration-note">([^<]+)<', client.get(f"/cases/{case_id}").text)
        assert note_en is not None and "was not flagged" in note_en.group(1)
        assert "4.0%" in note_en.group(1)
        flagged_page = client.get("/cases/1").text
        assert 'id="exploration-note"' not in flagged_page
    finally:
        client.get("/lang/vi")
        with store.session() as s:
            s.execute(sa.delete(Case).where(Case.id == case_id))
