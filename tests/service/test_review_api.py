"""The review API: sessions, roles, CSRF, the queue, cases, verdicts, export, units, audit.

Every test runs on SQLite and on PostgreSQL (when reachable), each on a fresh
database seeded by hand (:mod:`review_fixtures`: six cases whose filters,
sorts and pages can be worked out by reading its table). The app is the
workbench only (no data or model folder), so it starts at once; one slow test
at the end runs the scoring API with the workbench and follows a flagged
answer into the queue.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from review_fixtures import (
    CHEAP,
    OWNER_ID,
    PASSWORD,
    PERSONAL_VALUES,
    PHONE,
    ROLE_USER,
    log_in,
    seed,
    set_session,
)
from svc import PORTAL, POSTGRES_URL, postgres_reachable, settings_for

from service.app import SCORING_OFF, _feed_cases, create_app
from service.cases import security
from service.cases.db import CaseStore
from service.cases.models import AuditEntry, Case, User, WebSession
from service.deps import CurrentUser
from service.routes.cases import EXPORT_COLUMNS
from service.settings import Settings

ROLES = ("anonymous", "viewer", "reviewer", "admin")


# ----------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with small parameters (see review_fixtures.CHEAP) for logins in these tests."""
    monkeypatch.setattr(security, "_hasher", CHEAP)
    monkeypatch.setattr(security, "_DUMMY", CHEAP.hash("not a password of anyone"))


@pytest.fixture(scope="module")
def postgres_up() -> bool:
    """Whether PostgreSQL answers, asked once per module (asked per test, a busy machine
    made one of ninety connection attempts time out and silently skip its test)."""
    return postgres_reachable()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, postgres_up: bool) -> Iterator[str | None]:
    """None (a SQLite file) or a fresh PostgreSQL schema, as conftest's fixture of that name."""
    if request.param == "sqlite":
        yield None
        return
    if not postgres_up:
        pytest.skip(
            "PostgreSQL is not reachable at 127.0.0.1:5432: the review API was not tested on it"
        )
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def cases_store(database_url: str | None, tmp_path: Path) -> Iterator[CaseStore]:
    """A fresh case store (SQLite file or PostgreSQL schema), migrated and seeded."""
    store = CaseStore(database_url or f"sqlite:///{tmp_path / 'cases.db'}")
    seed(store)
    yield store
    store.dispose()


def workbench(store: CaseStore, tmp_path: Path, **settings: Any) -> FastAPI:
    """A workbench-only app on ``store`` (no data or model folder, no API key)."""
    base: dict[str, Any] = {"data_dir": None, "model_dir": None, "api_keys": ""}
    return create_app(Settings(state_dir=tmp_path, **{**base, **settings}), cases=store)


@pytest.fixture
def app(cases_store: CaseStore, tmp_path: Path) -> FastAPI:
    return workbench(cases_store, tmp_path)


@pytest.fixture
def wb(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def as_role(wb: TestClient, store: CaseStore, role: str) -> dict[str, str]:
    """Log ``wb`` in as the role's user; the CSRF header its writes need ({} for anonymous)."""
    if role == "anonymous":
        return {}
    return {"X-CSRF-Token": log_in(wb, store, ROLE_USER[role])}


def audit_rows(store: CaseStore, action: str | None = None) -> list[AuditEntry]:
    with store.session() as s:
        q = sa.select(AuditEntry).order_by(AuditEntry.id)
        if action:
            q = q.where(AuditEntry.action == action)
        return list(s.scalars(q))


def ids(r: Any) -> list[int]:
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


def recent(at: datetime) -> bool:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return abs(datetime.now(UTC) - at) < timedelta(minutes=1)


# ----------------------------------------------------------------- every endpoint, every role
VERDICT = {"decision": "misuse", "proxy_type": "officer_proxy", "note": "checked with the unit"}
# method, path, JSON body, expected status for anonymous, viewer, reviewer, admin
MATRIX: list[tuple[str, str, dict[str, Any] | None, tuple[int, int, int, int]]] = [
    ("GET", "/v1/session", None, (401, 200, 200, 200)),
    ("GET", "/v1/cases", None, (401, 200, 200, 200)),
    ("GET", "/v1/cases/export.csv", None, (401, 200, 200, 200)),
    ("GET", "/v1/cases/1", None, (401, 200, 200, 200)),
    ("GET", "/v1/cases/1?reveal=owner_id", None, (401, 403, 200, 200)),
    ("GET", "/v1/cases/999", None, (401, 404, 404, 404)),
    # who asks is checked before what they ask: no session, no opinion on the parameters
    ("GET", "/v1/cases?min_score=0.9&max_score=0.1", None, (401, 422, 422, 422)),
    ("GET", "/v1/cases?per_page=0", None, (401, 422, 422, 422)),
    ("POST", "/v1/cases/1/verdicts", {"decision": "maybe"}, (401, 403, 422, 422)),
    ("POST", "/v1/cases/2/verdicts", VERDICT, (401, 403, 201, 201)),
    ("POST", "/v1/cases/999/verdicts", VERDICT, (401, 403, 404, 404)),
    ("POST", "/v1/cases/3/assignment", {"assignee": "ravi"}, (401, 403, 200, 200)),
    ("POST", "/v1/cases/999/assignment", {"assignee": "ravi"}, (401, 403, 404, 404)),
    ("GET", "/v1/units", None, (401, 200, 200, 200)),
    ("GET", "/v1/units/dashboard", None, (401, 200, 200, 200)),
    ("GET", "/v1/units/U01/dashboard", None, (401, 200, 200, 200)),
    ("GET", "/v1/units/U99/dashboard", None, (401, 404, 404, 404)),
    ("GET", "/v1/audit", None, (401, 403, 403, 200)),
    ("DELETE", "/v1/session", None, (401, 204, 204, 204)),  # last: it ends the session
]


@pytest.mark.parametrize("role", ROLES)
def test_every_endpoint_answers_each_role_as_its_permissions_say(
    wb: TestClient, cases_store: CaseStore, role: str
) -> None:
    headers = as_role(wb, cases_store, role)
    got, want = {}, {}
    for method, path, body, expected in MATRIX:
        key = (method, path, str(body))
        r = wb.request(method, path, json=body, headers=headers)
        got[key] = r.status_code
        want[key] = expected[ROLES.index(role)]
        if r.status_code in (401, 403, 404):  # refusals are JSON sentences, never a page
            assert isinstance(r.json()["detail"], str) and r.json()["detail"], (path, r.text)
    assert got == want


@pytest.mark.parametrize("role", ["viewer", "reviewer", "admin"])
def test_refusals_name_the_role_and_what_it_may_not_do(
    wb: TestClient, cases_store: CaseStore, role: str
) -> None:
    headers = as_role(wb, cases_store, role)
    refused = {
        "viewer": ("POST", "/v1/cases/1/verdicts", "record verdicts"),
        "reviewer": ("GET", "/v1/audit", "audit log"),
        "admin": None,
    }[role]
    if refused is None:  # an admin is refused nothing
        assert wb.get("/v1/audit", headers=headers).status_code == 200
        return
    method, path, what = refused
    r = wb.request(method, path, json=VERDICT if method == "POST" else None, headers=headers)
    assert r.status_code == 403
    assert f"the {role} role may not" in r.json()["detail"] and what in r.json()["detail"]


def test_a_viewer_writes_nothing(wb: TestClient, cases_store: CaseStore) -> None:
    headers = as_role(wb, cases_store, "viewer")
    assert wb.post("/v1/cases/1/verdicts", json=VERDICT, headers=headers).status_code == 403
    r = wb.post("/v1/cases/1/assignment", json={"assignee": "rita"}, headers=headers)
    assert r.status_code == 403
    case = wb.get("/v1/cases/1").json()
    assert case["status"] == "open" and case["verdicts"] == [] and case["assignments"] == []
    assert not audit_rows(cases_store, "verdict") and not audit_rows(cases_store, "assign")


# ----------------------------------------------------------------- logging in and out
@pytest.mark.parametrize("role", ["viewer", "reviewer", "admin"])
def test_login_answers_the_role_and_sets_a_hardened_cookie(
    wb: TestClient, cases_store: CaseStore, role: str
) -> None:
    user = ROLE_USER[role]
    r = wb.post("/v1/session", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["username"] == user and me["role"] == role and len(me["csrf_token"]) >= 32
    assert ("write" in me["permissions"]) is (role != "viewer")
    assert ("admin" in me["permissions"]) is (role == "admin")
    cookie = [p.strip().lower() for p in r.headers["set-cookie"].split(";")]
    assert cookie[0].startswith("detector_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http, not configured: a Secure cookie would be lost
    # the cookie is the session: who am I, with the same CSRF token
    assert wb.get("/v1/session").json()["csrf_token"] == me["csrf_token"]
    (entry,) = audit_rows(cases_store, "login")
    assert entry.username == user and entry.role == role and entry.ip == "testclient"
    assert recent(entry.at)


@pytest.mark.parametrize(
    ("settings", "base_url", "headers", "secure"),
    [
        ({"cookie_secure": True}, "http://testserver", {}, True),
        ({}, "https://testserver", {}, True),
        ({}, "http://testserver", {"X-Forwarded-Proto": "https"}, False),  # not trusted
        ({"trust_proxy": True}, "http://testserver", {"X-Forwarded-Proto": "https"}, True),
        ({"trust_proxy": True}, "http://testserver", {"X-Forwarded-Proto": "http"}, False),
    ],
)
def test_the_cookie_is_secure_behind_tls(
    cases_store: CaseStore,
    tmp_path: Path,
    settings: dict[str, Any],
    base_url: str,
    headers: dict[str, str],
    secure: bool,
) -> None:
    app = workbench(cases_store, tmp_path, **settings)
    with TestClient(app, base_url=base_url) as c:
        r = c.post("/v1/session", json={"username": "rita", "password": PASSWORD}, headers=headers)
    assert r.status_code == 200, r.text
    cookie = [p.strip().lower() for p in r.headers["set-cookie"].split(";")]
    assert ("secure" in cookie) is secure
    assert "httponly" in cookie


def test_a_wrong_password_is_refused_and_audited_without_it(
    wb: TestClient, cases_store: CaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password-42"
    r = wb.post("/v1/session", json={"username": "rita", "password": wrong})
    assert r.status_code == 401 and "set-cookie" not in r.headers
    r = wb.post("/v1/session", json={"username": "nobody", "password": wrong})
    assert r.status_code == 401
    failed = audit_rows(cases_store, "login_failed")
    assert [e.username for e in failed] == ["rita", "nobody"]
    assert all(e.user_id is None and recent(e.at) for e in failed)
    stored = " ".join(str(e.detail) for e in audit_rows(cases_store))
    assert wrong not in stored and wrong not in caplog.text
    assert wb.get("/v1/session").status_code == 401


def test_a_cross_site_form_cannot_log_a_browser_in(wb: TestClient) -> None:
    """Login needs no CSRF token (there is no session yet), but it reads JSON only: an HTML
    form (text/plain or urlencoded, all another site can send without CORS) is refused."""
    body = f'{{"username": "rita", "password": "{PASSWORD}"}}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        r = wb.post("/v1/session", content=body, headers={"content-type": content_type})
        assert r.status_code == 422 and "set-cookie" not in r.headers, content_type


def test_a_disabled_user_cannot_log_in_nor_keep_a_session(
    wb: TestClient, cases_store: CaseStore
) -> None:
    r = wb.post("/v1/session", json={"username": "nina", "password": PASSWORD})
    assert r.status_code == 401  # nina is a disabled reviewer
    log_in(wb, cases_store, "ravi")
    assert wb.get("/v1/session").status_code == 200
    with cases_store.session() as s:
        s.execute(sa.update(User).where(User.username == "ravi").values(active=False))
    assert wb.get("/v1/session").status_code == 401


def test_an_expired_session_is_refused(wb: TestClient, cases_store: CaseStore) -> None:
    log_in(wb, cases_store, "rita")
    assert wb.get("/v1/cases").status_code == 200
    with cases_store.session() as s:
        s.execute(sa.update(WebSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    r = wb.get("/v1/cases")
    assert r.status_code == 401 and "log in" in r.json()["detail"]


def test_logging_in_ends_the_session_the_browser_had(
    wb: TestClient, cases_store: CaseStore
) -> None:
    log_in(wb, cases_store, "rita")
    planted = wb.cookies.get("detector_session")
    r = wb.post("/v1/session", json={"username": "rita", "password": PASSWORD})
    assert r.status_code == 200
    assert wb.cookies.get("detector_session") != planted
    with TestClient(wb.app) as other:  # type: ignore[arg-type]
        set_session(other, str(planted))
        assert other.get("/v1/session").status_code == 401  # no fixation: the old one is gone


def test_logout_needs_csrf_then_ends_the_session(wb: TestClient, cases_store: CaseStore) -> None:
    csrf = as_role(wb, cases_store, "reviewer")
    r = wb.delete("/v1/session")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    assert wb.get("/v1/session").status_code == 200  # still logged in
    r = wb.delete("/v1/session", headers=csrf)
    assert r.status_code == 204
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert wb.get("/v1/session").status_code == 401
    assert wb.delete("/v1/session", headers=csrf).status_code == 401  # nothing left to end
    (entry,) = audit_rows(cases_store, "logout")
    assert entry.username == "rita" and recent(entry.at)


# throttling: tests/service/test_login_throttle.py


# ----------------------------------------------------------------- CSRF
@pytest.mark.parametrize(
    ("token", "status"), [(None, 403), ("wrong-token", 403), ("", 403), ("right", 201)]
)
def test_writes_need_the_session_csrf_token(
    wb: TestClient, cases_store: CaseStore, token: str | None, status: int
) -> None:
    csrf = as_role(wb, cases_store, "reviewer")["X-CSRF-Token"]
    headers = {} if token is None else {"X-CSRF-Token": csrf if token == "right" else token}
    r = wb.post("/v1/cases/1/verdicts", json=VERDICT, headers=headers)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["detail"].startswith("CSRF token missing or wrong")
        assert wb.get("/v1/cases/1").json()["verdicts"] == []


def test_another_sessions_csrf_token_is_refused(wb: TestClient, cases_store: CaseStore) -> None:
    with TestClient(wb.app) as other:  # type: ignore[arg-type]
        theirs = log_in(other, cases_store, "ravi")
    as_role(wb, cases_store, "reviewer")
    r = wb.post("/v1/cases/1/verdicts", json=VERDICT, headers={"X-CSRF-Token": theirs})
    assert r.status_code == 403


def test_a_form_post_may_carry_the_token_as_a_field(app: FastAPI, cases_store: CaseStore) -> None:
    """The pages post forms with a ``csrf_token`` field; the route still reads its form."""

    @app.post("/test-form")
    async def form_route(request: Request, who: CurrentUser) -> dict[str, Any]:
        form = await request.form()
        return {"user": who.username, "note": form.get("note")}

    with TestClient(app) as c:
        csrf = log_in(c, cases_store, "rita")
        assert c.post("/test-form", data={"note": "x"}).status_code == 403
        assert c.post("/test-form", data={"note": "x", "csrf_token": "nope"}).status_code == 403
        r = c.post("/test-form", data={"note": "x", "csrf_token": csrf})
        assert r.status_code == 200 and r.json() == {"user": "rita", "note": "x"}
        r = c.post("/test-form", files={"note": (None, "y"), "csrf_token": (None, csrf)})
        assert r.status_code == 200 and r.json()["note"] == "y"  # multipart too


# ----------------------------------------------------------------- the queue
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [1, 2, 3, 4, 5, 6]),  # highest risk first
        ("unit_id=U01", [1, 2]),
        ("month=2025-12", [3, 4]),
        ("proxy_type=officer_proxy", [2, 4, 6]),
        ("status=legitimate", [5]),
        ("status=open", [1, 2, 3, 4, 6]),
        ("min_score=0.5&max_score=0.8", [2, 3, 4]),  # bounds included
        ("assignee=rita", [4]),
        ("assignee=none", [1, 2, 3, 5, 6]),
        ("unit_id=U02&proxy_type=identity_misuse", [3]),
        ("sort=risk_score", [6, 5, 4, 3, 2, 1]),
        ("sort=month", [5, 6, 1, 2, 3, 4]),  # ties: highest score first
        ("sort=-unit_id", [5, 6, 3, 4, 1, 2]),
        ("unit_id=", [1, 2, 3, 4, 5, 6]),  # an empty form field is no filter
        ("unit_id=U99", []),
    ],
)
def test_queue_filters_and_sorts(
    wb: TestClient, cases_store: CaseStore, query: str, expected: list[int]
) -> None:
    as_role(wb, cases_store, "viewer")
    r = wb.get(f"/v1/cases?{query}")
    assert ids(r) == expected
    assert r.json()["total"] == len(expected)


def test_queue_pages(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "viewer")
    pages = [wb.get(f"/v1/cases?per_page=4&page={p}").json() for p in (1, 2, 3)]
    assert [[i["id"] for i in p["items"]] for p in pages] == [[1, 2, 3, 4], [5, 6], []]
    assert {p["total"] for p in pages} == {6}
    assert pages[1]["page"] == 2 and pages[1]["per_page"] == 4


def test_queue_items_carry_no_personal_data(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "admin")
    r = wb.get("/v1/cases")
    first = r.json()["items"][0]
    assert set(first) == set(EXPORT_COLUMNS)
    assert first["dossier_id"] == "D-001" and first["reasons"] == ["R03"]
    assert first["data_gaps"] == 1 and first["submitted_at"].endswith("+07:00")
    assert not any(v in r.text for v in PERSONAL_VALUES)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("month=2025-13", "month"),
        ("month=last", "month"),
        ("per_page=0", "per_page"),
        ("per_page=201", "per_page"),
        ("page=0", "page"),
        ("sort=owner_id", "sort"),
        ("status=closed", "status"),
        ("proxy_type=alien", "proxy_type"),
        ("min_score=2", "min_score"),
        ("min_score=high", "min_score"),
        ("min_score=0.9&max_score=0.1", "max_score"),
    ],
)
def test_queue_refuses_unusable_parameters_naming_them(
    wb: TestClient, cases_store: CaseStore, query: str, field: str
) -> None:
    as_role(wb, cases_store, "reviewer")
    for path in ("/v1/cases", "/v1/cases/export.csv"):
        r = wb.get(f"{path}?{query}")
        assert r.status_code == 422, r.text
        assert ["query", field] in [e["loc"] for e in r.json()["detail"]]
    assert not audit_rows(cases_store, "export")  # a refused export is not recorded


# ----------------------------------------------------------------- export
def test_export_is_the_filtered_queue_as_csv_without_personal_data(
    wb: TestClient, cases_store: CaseStore
) -> None:
    as_role(wb, cases_store, "viewer")
    r = wb.get("/v1/cases/export.csv?unit_id=U03&sort=risk_score")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    assert [row["id"] for row in rows] == ["6", "5"]  # ascending score, as asked
    # a dossier id that a spreadsheet would run as a formula is defused
    assert rows[0]["dossier_id"] == "'=SUM(1,2)"
    assert rows[1]["status"] == "legitimate" and rows[1]["verdict_type"] == "family"
    assert rows[1]["reasons"] == "R03" and float(rows[1]["risk_score"]) == 0.4
    everything = wb.get("/v1/cases/export.csv").text
    assert len(list(csv.DictReader(io.StringIO(everything)))) == 6
    assert not any(v in everything for v in PERSONAL_VALUES)
    first, second = audit_rows(cases_store, "export")
    assert first.username == "vera" and first.role == "viewer" and recent(first.at)
    assert first.detail["rows"] == 2 and first.detail["filter"]["unit_id"] == "U03"
    assert first.detail["filter"]["sort"] == "risk_score" and "page" not in first.detail["filter"]
    assert second.detail["rows"] == 6 and second.detail["filter"]["unit_id"] is None


def test_export_streams_more_rows_than_a_chunk(wb: TestClient, cases_store: CaseStore) -> None:
    """600 more cases: the export crosses its 500-row chunks without losing or repeating one."""
    now = datetime.now(UTC)
    with cases_store.session() as s:
        s.execute(
            sa.insert(Case),
            [
                {
                    "dossier_id": f"X-{i:04d}",
                    "unit_id": "U09",
                    "month": "2025-09",
                    "risk_score": i / 1000,
                    "proxy_type": "officer_proxy",
                    "source": "batch",
                    "scored_at": "review",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(600)
            ],
        )
    as_role(wb, cases_store, "reviewer")
    rows = list(csv.DictReader(io.StringIO(wb.get("/v1/cases/export.csv?unit_id=U09").text)))
    assert [r["dossier_id"] for r in rows] == [f"X-{i:04d}" for i in range(599, -1, -1)]


# ----------------------------------------------------------------- one case, reveals
def test_a_case_shows_its_dossier_masked(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "viewer")
    r = wb.get("/v1/cases/1")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    case = r.json()
    assert case["dossier"]["owner_id"] == "**********89"
    assert case["dossier"]["contact_phone"] == "********78"
    assert not any(v in r.text for v in PERSONAL_VALUES)
    assert case["reasons"][0]["code"] == "R03" and case["data_gaps"] == ["account_not_in_accounts"]
    assert case["evidence"]["graph"]["nodes"][0]["kind"] == "dossier"
    # the related dossier D-002 is case 2
    assert case["evidence"]["related"] == [
        {
            "dossier_id": "D-002",
            "via": "device",
            "submitted_at": "2025-11-14T09:15:00+07:00",
            "case_id": 2,
        }
    ]
    (view,) = audit_rows(cases_store, "case_view")
    assert view.case_id == 1 and view.username == "vera" and recent(view.at)


def test_a_case_without_evidence_has_an_empty_graph(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "viewer")
    case = wb.get("/v1/cases/2").json()
    assert case["evidence"] == {"graph": None, "related": []}
    assert case["source"] == "api" and case["scored_at"] == "submission"


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_revealing_shows_the_asked_fields_and_audits_each(
    wb: TestClient, cases_store: CaseStore, role: str
) -> None:
    as_role(wb, cases_store, role)
    r = wb.get("/v1/cases/1?reveal=owner_id,contact_phone,owner_id")
    assert r.status_code == 200, r.text
    dossier = r.json()["dossier"]
    assert dossier["owner_id"] == OWNER_ID and dossier["contact_phone"] == PHONE
    assert dossier["owner_name"] != "Nguyễn Văn An"  # not asked: still masked
    reveals = audit_rows(cases_store, "reveal")
    assert [e.detail for e in reveals] == [{"field": "owner_id"}, {"field": "contact_phone"}]
    assert all(e.case_id == 1 and e.username == ROLE_USER[role] for e in reveals)
    assert len(audit_rows(cases_store, "case_view")) == 1
    # the log says which field, never its value
    for entry in audit_rows(cases_store):
        assert not any(v in str(entry.detail) for v in PERSONAL_VALUES)


def test_a_viewer_may_not_reveal(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "viewer")
    r = wb.get("/v1/cases/1?reveal=owner_id")
    assert r.status_code == 403
    assert "viewer" in r.json()["detail"] and "reveal" in r.json()["detail"]
    assert OWNER_ID not in r.text
    assert not audit_rows(cases_store, "reveal") and not audit_rows(cases_store, "case_view")


def test_revealing_an_unknown_field_is_refused_and_not_audited(
    wb: TestClient, cases_store: CaseStore
) -> None:
    as_role(wb, cases_store, "admin")
    r = wb.get("/v1/cases/1?reveal=owner_id,risk_score")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "reveal"]
    assert not audit_rows(cases_store, "reveal") and not audit_rows(cases_store, "case_view")


@pytest.mark.parametrize("path", ["/v1/cases/abc", "/v1/cases/0", "/v1/cases/-3"])
def test_a_case_id_must_be_a_positive_number(
    wb: TestClient, cases_store: CaseStore, path: str
) -> None:
    as_role(wb, cases_store, "viewer")
    r = wb.get(path)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "case_id"]


# ----------------------------------------------------------------- verdicts and assignments
def test_a_verdict_becomes_the_case_standing_and_is_audited(
    wb: TestClient, cases_store: CaseStore
) -> None:
    csrf = as_role(wb, cases_store, "reviewer")
    r = wb.post(
        "/v1/cases/1/verdicts",
        json={"decision": "misuse", "proxy_type": "identity_misuse", "note": "owner denies it"},
        headers=csrf,
    )
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["decision"] == "misuse" and v["username"] == "rita" and v["note"] == "owner denies it"
    case = wb.get("/v1/cases/1").json()
    assert case["status"] == "misuse" and case["verdict_type"] == "identity_misuse"
    assert [x["id"] for x in case["verdicts"]] == [v["id"]]
    assert ids(wb.get("/v1/cases?status=misuse")) == [1]
    # a later verdict replaces the standing and keeps the history
    r = wb.post("/v1/cases/1/verdicts", json={"decision": "needs_info"}, headers=csrf)
    assert r.status_code == 201
    case = wb.get("/v1/cases/1").json()
    assert case["status"] == "needs_info" and case["verdict_type"] is None
    assert [x["decision"] for x in case["verdicts"]] == ["misuse", "needs_info"]
    first, _ = audit_rows(cases_store, "verdict")
    assert first.case_id == 1 and first.username == "rita" and first.role == "reviewer"
    assert first.detail == {
        "verdict_id": v["id"],
        "decision": "misuse",
        "proxy_type": "identity_misuse",
    }
    assert recent(first.at) and "owner denies" not in str(first.detail)  # a note may name people


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"decision": "misuse", "proxy_type": "self"}, "proxy_type"),
        ({"decision": "misuse"}, "proxy_type"),
        ({"decision": "legitimate", "proxy_type": "officer_proxy"}, "proxy_type"),
        ({"decision": "needs_info", "proxy_type": "family"}, "proxy_type"),
        ({"decision": "needs_info", "note": "n" * 2001}, "note"),
        ({"decision": "needs_info", "by": "someone"}, "by"),
    ],
)
def test_an_unusable_verdict_is_refused_naming_the_field(
    wb: TestClient, cases_store: CaseStore, body: dict[str, Any], field: str
) -> None:
    csrf = as_role(wb, cases_store, "reviewer")
    r = wb.post("/v1/cases/1/verdicts", json=body, headers=csrf)
    assert r.status_code == 422, r.text
    assert ["body", field] in [e["loc"] for e in r.json()["detail"]]
    assert wb.get("/v1/cases/1").json()["status"] == "open"
    assert not audit_rows(cases_store, "verdict")


def test_assigning_and_unassigning_a_case(wb: TestClient, cases_store: CaseStore) -> None:
    csrf = as_role(wb, cases_store, "admin")
    r = wb.post("/v1/cases/3/assignment", json={"assignee": "ravi"}, headers=csrf)
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] == "ravi" and r.json()["assigned_by"] == "adam"
    assert ids(wb.get("/v1/cases?assignee=ravi")) == [3]
    r = wb.post("/v1/cases/3/assignment", json={"assignee": None}, headers=csrf)
    assert r.status_code == 200 and r.json()["assignee"] is None
    assert ids(wb.get("/v1/cases?assignee=ravi")) == []
    case = wb.get("/v1/cases/3").json()
    assert [a["assignee"] for a in case["assignments"]] == ["ravi", None]
    entries = audit_rows(cases_store, "assign")
    assert [e.detail for e in entries] == [{"assignee": "ravi"}, {"assignee": None}]
    assert all(e.username == "adam" and e.case_id == 3 and recent(e.at) for e in entries)


@pytest.mark.parametrize("assignee", ["vera", "nina", "ghost", ""])
def test_only_an_active_reviewer_or_admin_may_be_assigned(
    wb: TestClient, cases_store: CaseStore, assignee: str
) -> None:
    csrf = as_role(wb, cases_store, "reviewer")
    r = wb.post("/v1/cases/3/assignment", json={"assignee": assignee}, headers=csrf)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "assignee"]
    assert not audit_rows(cases_store, "assign")


# ----------------------------------------------------------------- units
def test_units_list_their_cases(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "viewer")
    assert wb.get("/v1/units").json() == [
        {"unit_id": "U01", "cases": 2, "open": 2},
        {"unit_id": "U02", "cases": 2, "open": 2},
        {"unit_id": "U03", "cases": 2, "open": 1},  # case 5 has a verdict
    ]


def test_a_unit_dashboard(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "viewer")
    d = wb.get("/v1/units/U01/dashboard").json()
    assert d["unit_id"] == "U01" and d["units"] == ["U01", "U02", "U03"]
    nov, dec = d["months"]
    assert (nov["month"], nov["dossiers"], nov["cases"]) == ("2025-11", 100, 2)
    assert nov["claimed_online_share"] == 0.8 and nov["estimated_genuine_online_share"] == 0.6
    assert (dec["month"], dec["dossiers"], dec["cases"]) == ("2025-12", 120, 0)
    assert [o["staff_id"] for o in d["officers"]] == ["S-11", "S-12"]


def test_the_province_dashboard_weights_units_by_dossiers(
    wb: TestClient, cases_store: CaseStore
) -> None:
    as_role(wb, cases_store, "viewer")
    d = wb.get("/v1/units/dashboard").json()
    assert d["unit_id"] is None
    months = {m["month"]: m for m in d["months"]}
    # November: U01 100 dossiers at 0.80 claimed, U02 50 at 0.50 -> 105 / 150 = 0.70
    assert months["2025-11"]["dossiers"] == 150
    assert months["2025-11"]["claimed_online_share"] == pytest.approx(0.70)
    # October has cases (U03) but no dossier figures: shares unknown, not zero
    assert months["2025-10"]["cases"] == 2 and months["2025-10"]["claimed_online_share"] is None
    assert [o["staff_id"] for o in d["officers"]] == ["S-12", "S-11", "S-21"]  # most suspected


# ----------------------------------------------------------------- the audit log
def test_the_audit_log_reads_newest_first_with_filters_and_pages(
    wb: TestClient, cases_store: CaseStore
) -> None:
    csrf = as_role(wb, cases_store, "admin")
    wb.get("/v1/cases/1")
    wb.get("/v1/cases/2")
    wb.post("/v1/cases/2/verdicts", json=VERDICT, headers=csrf)
    every = wb.get("/v1/audit").json()
    assert [e["action"] for e in every["items"]] == ["verdict", "case_view", "case_view"]
    assert every["next_before_id"] is None
    newest = every["items"][0]
    assert newest["username"] == "adam" and newest["role"] == "admin"
    assert newest["case_id"] == 2 and newest["ip"] == "testclient"
    assert recent(datetime.fromisoformat(newest["at"]))
    assert [e["case_id"] for e in wb.get("/v1/audit?action=case_view").json()["items"]] == [2, 1]
    assert len(wb.get("/v1/audit?case_id=2").json()["items"]) == 2
    assert wb.get("/v1/audit?username=rita").json()["items"] == []
    page = wb.get("/v1/audit?limit=2").json()
    assert len(page["items"]) == 2 and page["next_before_id"] == page["items"][-1]["id"]
    older = wb.get(f"/v1/audit?limit=2&before_id={page['next_before_id']}").json()
    assert [e["case_id"] for e in older["items"]] == [1]
    r = wb.get("/v1/audit?action=delete_everything")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "action"]


def test_the_audit_log_cannot_be_changed(wb: TestClient, cases_store: CaseStore) -> None:
    as_role(wb, cases_store, "admin")
    wb.get("/v1/cases/1")
    before = [(e.id, e.username, e.action) for e in audit_rows(cases_store)]
    assert before
    for statement in (
        sa.update(AuditEntry).values(username="mallory"),
        sa.delete(AuditEntry),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), cases_store.session() as s:
            s.execute(statement)
    assert [(e.id, e.username, e.action) for e in audit_rows(cases_store)] == before
    # nor through the API: there is no way to write to it
    assert wb.delete("/v1/audit").status_code == 405
    assert wb.put("/v1/audit", json={}).status_code == 405


def test_the_audit_ip_comes_from_the_proxy_only_when_trusted(
    cases_store: CaseStore, tmp_path: Path
) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    for trust, ip in ((False, "testclient"), (True, "203.0.113.9")):
        with TestClient(workbench(cases_store, tmp_path, trust_proxy=trust)) as c:
            log_in(c, cases_store, "rita")
            assert c.get("/v1/cases/4", headers=forwarded).status_code == 200
        assert audit_rows(cases_store, "case_view")[-1].ip == ip


def _timestamps(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string under a key that names a moment (``at``, ``*_at``), with its path;
    ``scored_at`` is not one (it says review or submission)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if (k == "at" or k.endswith("_at")) and k != "scored_at" and isinstance(v, str):
                yield f"{where}.{k}", v
            else:
                yield from _timestamps(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _timestamps(v, f"{where}[{i}]")


def test_every_timestamp_the_review_api_returns_carries_an_offset(
    wb: TestClient, cases_store: CaseStore
) -> None:
    """The probe saw ``"at": "2026-12-04T17:07:37.652011"`` in /v1/audit: SQLite hands back
    naive datetimes, and an answer without an offset is read as whatever clock the reader
    is on. Every moment is ISO 8601 with its offset, on the contract's clock (+07:00)."""
    headers = as_role(wb, cases_store, "admin")
    assert wb.post("/v1/cases/1/verdicts", json=VERDICT, headers=headers).status_code == 201
    r = wb.post("/v1/cases/1/assignment", json={"assignee": "rita"}, headers=headers)
    assert r.status_code == 200
    answers = {
        path: wb.get(path).json()
        for path in (
            "/v1/session",
            "/v1/cases",
            "/v1/cases/1",
            "/v1/units",
            "/v1/units/dashboard",
            "/v1/audit",
        )
    }
    found = dict(_timestamps(answers))
    # the ones that must be there: audit, case, related dossier, verdict and assignment times
    for path in (
        ".['/v1/audit'].items[0].at",
        ".['/v1/cases/1'].submitted_at",
        ".['/v1/cases/1'].evidence.related[0].submitted_at",
        ".['/v1/cases/1'].verdicts[0].created_at",
        ".['/v1/cases/1'].assignments[0].created_at",
        ".['/v1/cases'].items[0].submitted_at",
    ):
        assert path.replace("['", "").replace("']", "") in found, sorted(found)
    naive = {k: v for k, v in found.items() if datetime.fromisoformat(v).tzinfo is None}
    assert not naive
    assert all(v.endswith("+07:00") for v in found.values()), found
    # and the audit's moment is right, not only labelled: now, on the local clock
    assert recent(datetime.fromisoformat(answers["/v1/audit"]["items"][0]["at"]))


# ----------------------------------------------------------------- workbench-only mode
def test_a_workbench_only_app_answers_503_for_scoring(wb: TestClient) -> None:
    for path, body in (
        ("/v1/score", {"dossier_id": "D"}),
        ("/v1/score/batch", {"dossiers": []}),
        ("/v1/admin/reload", {}),
    ):
        r = wb.post(path, json=body, headers=PORTAL)
        assert r.status_code == 503 and r.json() == {"detail": SCORING_OFF}, path
    ready = wb.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["scoring"] is False and ready.json()["status"] == "ready"
    assert ready.json()["cases"] in ("sqlite", "postgresql")
    assert wb.get("/healthz").json() == {"status": "ok"}


def test_the_feeding_loop_outlives_errors_and_logs_no_personal_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="service.cases.feeder")  # feed_round logs
    calls: list[int] = []

    class Feeder:
        """Fails twice (a collision with another worker, then a bug), then makes 2 cases."""

        def run_once(self) -> int:
            calls.append(1)
            if len(calls) == 1:
                raise sa.exc.IntegrityError("INSERT INTO cases", {"o": OWNER_ID}, Exception("dup"))
            if len(calls) == 2:
                raise RuntimeError(f"cannot read {OWNER_ID}")
            return 2 if len(calls) == 3 else 0

    async def run() -> None:
        task = asyncio.create_task(_feed_cases(Feeder(), 0.01))  # type: ignore[arg-type]
        while len(calls) < 4:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    assert "another worker" in caplog.text and "(RuntimeError)" in caplog.text
    assert "2 flagged answers became cases" in caplog.text
    assert OWNER_ID not in caplog.text


def test_scoring_without_an_api_key_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model_dir=tmp_path, state_dir=tmp_path, api_keys="")
    with pytest.raises(ValueError, match="no API key configured"):
        create_app(settings)


def test_a_workbench_app_opens_and_migrates_its_own_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=None, model_dir=None, state_dir=tmp_path, api_keys="")
    app = create_app(settings)
    assert (tmp_path / "detector.db").exists()
    with TestClient(app) as c:
        assert c.get("/v1/cases").status_code == 401  # the tables exist: no 500
        r = c.post("/v1/session", json={"username": "rita", "password": PASSWORD})
        assert r.status_code == 401


def test_openapi_documents_the_review_api(wb: TestClient) -> None:
    spec = wb.get("/openapi.json").json()
    expected = {
        "/v1/session": {"post", "get", "delete"},
        "/v1/cases": {"get"},
        "/v1/cases/export.csv": {"get"},
        "/v1/cases/{case_id}": {"get"},
        "/v1/cases/{case_id}/verdicts": {"post"},
        "/v1/cases/{case_id}/assignment": {"post"},
        "/v1/units": {"get"},
        "/v1/units/dashboard": {"get"},
        "/v1/units/{unit_id}/dashboard": {"get"},
        "/v1/audit": {"get"},
    }
    for path, methods in expected.items():
        assert set(spec["paths"][path]) == methods, path
    assert {t["name"] for t in spec["tags"]} >= {"cases", "units", "session", "audit"}
    assert spec["paths"]["/v1/cases"]["get"]["tags"] == ["cases"]
    assert spec["components"]["securitySchemes"]["APIKeyCookie"]["name"] == "detector_session"
    params = {p["name"] for p in spec["paths"]["/v1/cases"]["get"]["parameters"]}
    assert params >= {"unit_id", "month", "proxy_type", "status", "min_score", "max_score"}
    assert params >= {"assignee", "sort", "page", "per_page"}


# ----------------------------------------------------------------- with the scoring API
@pytest.mark.slow
def test_a_flagged_answer_of_the_scoring_api_becomes_a_case(
    split: dict[str, Any],
    model_dir: Path,
    tmp_path: Path,
    database_url: str | None,
) -> None:
    """The app with data and model scores as before; the feeder queues what it flagged."""
    settings = settings_for(split["history"], model_dir, tmp_path, database_url=database_url)
    settings.feed_seconds = 0.2
    app = create_app(settings)
    with TestClient(app) as c:
        assert c.get("/readyz").json()["scoring"] is True
        r = c.post("/v1/score/batch", json={"dossiers": split["later"][:400]}, headers=PORTAL)
        assert r.status_code == 200, r.text
        answers = [x["answer"] for x in r.json()["results"] if x["status"] == "scored"]
        flagged = {a["dossier_id"]: a for a in answers if a["flagged"]}
        assert flagged, "no dossier of the 400 was flagged: pick more"
        store: CaseStore = app.state.cases
        with store.session() as s:
            user = security.create_user(s, "rita", PASSWORD, "reviewer")
            token, _ = security.start_session(s, user)
        set_session(c, token)
        deadline = time.monotonic() + 30
        queued: dict[str, Any] = {}
        while time.monotonic() < deadline:
            queued = c.get("/v1/cases?per_page=200").json()
            if queued["total"] >= len(flagged):
                break
            time.sleep(0.2)
        items = {i["dossier_id"]: i for i in queued["items"]}
        assert set(items) == set(flagged)  # every flagged answer, and nothing else
        dossier_id, answer = next(iter(flagged.items()))
        case = c.get(f"/v1/cases/{items[dossier_id]['id']}").json()
        assert case["source"] == "api" and case["scored_at"] == "submission"
        assert case["risk_score"] == pytest.approx(answer["risk_score"])
        assert case["proxy_type"] == answer["proxy_type"] and case["status"] == "open"
        assert [x["code"] for x in case["reasons"]] == [x["code"] for x in answer["reasons"]]
