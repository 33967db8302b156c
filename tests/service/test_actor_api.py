"""The actor API (issue #13): the ranked actor queue, one actor case, one verdict per actor.

The six hand-made cases of :mod:`review_fixtures`, grouped by hand: D-001,
D-003 and D-005 share the device DEV-9 (one actor case, D-005 already judged
legitimate); the others are cases of one dossier. The device's priority is
the sum of its open dossiers' misuse probability plus a quarter of p(1-p):
0.95 + 0.70 + 0.25 (0.0475 + 0.21) = 1.714375, above any single dossier.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from review_fixtures import CHEAP, PERSONAL_VALUES, ROLE_USER, log_in, seed

from service.app import create_app
from service.cases import security
from service.cases.actors import place_in_actors
from service.cases.db import CaseStore
from service.cases.models import Actor, AuditEntry, Case, Verdict
from service.settings import Settings

ROLES = ("anonymous", "viewer", "reviewer", "admin")
DEVICE = "device:3f2a9c0d11aa"


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_hasher", CHEAP)
    monkeypatch.setattr(security, "_DUMMY", CHEAP.hash("not a password of anyone"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    store = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    seed(store)
    rows = [(DEVICE, "device", "*****-9", d) for d in ("D-001", "D-003", "D-005")]
    rows += [(f"dossier:{d}", "dossier", d, d) for d in ("D-002", "D-004", "=SUM(1,2)")]
    with store.session() as s:
        place_in_actors(s, pd.DataFrame(rows, columns=["case_key", "actor_kind", "actor_label",
                                                       "dossier_id"]))  # fmt: skip
    yield store
    store.dispose()


@pytest.fixture
def wb(store: CaseStore, tmp_path: Path) -> Iterator[TestClient]:
    cfg = Settings(state_dir=tmp_path, data_dir=None, model_dir=None, api_keys="")
    with TestClient(create_app(cfg, cases=store)) as c:
        yield c


def device_id(store: CaseStore) -> int:
    with store.session() as s:
        found = s.scalar(sa.select(Actor.id).where(Actor.key == DEVICE))
    assert found is not None
    return found


def headers(wb: TestClient, store: CaseStore, role: str) -> dict[str, str]:
    return {} if role == "anonymous" else {"X-CSRF-Token": log_in(wb, store, ROLE_USER[role])}


@pytest.mark.parametrize("role", ROLES)
def test_every_actor_endpoint_answers_each_role_as_its_permissions_say(
    wb: TestClient, store: CaseStore, role: str
) -> None:
    h = headers(wb, store, role)
    a = device_id(store)
    verdict = {"decision": "misuse", "proxy_type": "identity_misuse"}
    matrix = [
        ("GET", "/v1/actors", None, (401, 200, 200, 200)),
        ("GET", "/v1/actors?kind=robot", None, (401, 422, 422, 422)),
        ("GET", f"/v1/actors/{a}", None, (401, 200, 200, 200)),
        ("GET", "/v1/actors/999", None, (401, 404, 404, 404)),
        ("POST", f"/v1/actors/{a}/verdicts", {"decision": "maybe"}, (401, 403, 422, 422)),
        ("POST", "/v1/actors/999/verdicts", verdict, (401, 403, 404, 404)),
        ("POST", f"/v1/actors/{a}/verdicts", verdict, (401, 403, 201, 201)),
    ]
    got = [wb.request(m, p, json=b, headers=h).status_code for m, p, b, _ in matrix]
    assert got == [want[ROLES.index(role)] for *_, want in matrix]


def test_the_actor_queue_ranks_by_expected_misuse_and_filters(
    wb: TestClient, store: CaseStore
) -> None:
    headers(wb, store, "viewer")
    r = wb.get("/v1/actors")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["key"] for i in items][:2] == [DEVICE, "dossier:D-002"]
    device = items[0]
    assert (device["n_dossiers"], device["n_open"], device["kind"]) == (3, 2, "device")
    assert device["priority"] == pytest.approx(0.95 + 0.70 + 0.25 * (0.95 * 0.05 + 0.7 * 0.3))
    assert [i["key"] for i in wb.get("/v1/actors?kind=device").json()["items"]] == [DEVICE]
    assert wb.get("/v1/actors?unit_id=U02").json()["total"] == 2  # the device and D-004
    one = wb.get(f"/v1/actors/{device['id']}").json()
    assert [d["dossier_id"] for d in one["dossiers"]] == ["D-001", "D-003", "D-005"]
    assert one["dossiers"][0]["reasons"][0]["code"] == "R03" and one["dossiers"][0]["case_id"] == 1
    text = wb.get(f"/v1/actors/{device['id']}").text
    assert not any(v in text for v in PERSONAL_VALUES)


def test_an_actor_verdict_is_one_verdict_per_open_dossier_audited_once(
    wb: TestClient, store: CaseStore
) -> None:
    h = headers(wb, store, "reviewer")
    a = device_id(store)
    body = {
        "decision": "misuse", "proxy_type": "identity_misuse", "note": "one broker",
        "exceptions": [{"case_id": 3, "decision": "legitimate", "proxy_type": "self"}],
    }  # fmt: skip
    assert wb.post(f"/v1/actors/{a}/verdicts", json=body).status_code == 403  # no CSRF token
    r = wb.post(f"/v1/actors/{a}/verdicts", json=body, headers=h)
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["applied"], got["exceptions"]) == (1, 1)
    assert sorted((v["case_id"], v["decision"]) for v in got["verdicts"]) == [
        (1, "misuse"), (3, "legitimate"),
    ]  # fmt: skip
    with store.session() as s:
        status = {i: st for i, st in s.execute(sa.select(Case.id, Case.status))}
        n = s.scalar(sa.select(sa.func.count(Verdict.id)))
        entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "actor_verdict")))
        actor = s.get(Actor, a)
        assert actor is not None
        assert (actor.status, actor.n_open, actor.priority) == ("misuse", 0, 0.0)
    assert (status[1], status[3], status[5]) == ("misuse", "legitimate", "legitimate")
    assert n == 2 and len(entries) == 1
    assert {k: entries[0].detail[k] for k in ("applied", "exceptions", "decision")} == {
        "applied": 1, "exceptions": 1, "decision": "misuse",
    }  # fmt: skip
    assert "one broker" not in str(entries[0].detail)  # a note may name people
    # an exception that is not the actor's names the field
    r = wb.post(f"/v1/actors/{a}/verdicts", headers=h, json={
        "decision": "misuse", "proxy_type": "identity_misuse",
        "exceptions": [{"case_id": 2, "decision": "legitimate", "proxy_type": "self"}]})  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "exceptions"]


def test_the_actor_page_refuses_a_viewer_and_a_forged_form(
    wb: TestClient, store: CaseStore
) -> None:
    a = device_id(store)
    form = {"decision": "misuse", "proxy_type": "identity_misuse"}
    csrf = headers(wb, store, "viewer")["X-CSRF-Token"]
    page = wb.get(f"/actors/{a}")
    assert page.status_code == 200 and "actor-verdict-form" not in page.text
    assert "Thiết bị nộp hồ sơ" in page.text  # the kind in words, Vietnamese first
    assert wb.post(f"/actors/{a}/verdict", data={**form, "csrf_token": csrf}).status_code == 403
    csrf = headers(wb, store, "reviewer")["X-CSRF-Token"]
    assert "actor-verdict-form" in wb.get(f"/actors/{a}").text
    assert wb.post(f"/actors/{a}/verdict", data={**form, "csrf_token": "forged"}).status_code == 403
    r = wb.post(
        f"/actors/{a}/verdict",
        data={**form, "csrf_token": csrf, "exception": "3",
              "exception_verdict": ["1:needs_info:", "3:legitimate:family"]},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and "applied=1&exceptions=1" in r.headers["location"]
    with store.session() as s:
        assert s.scalar(sa.select(Case.status).where(Case.id == 3)) == "legitimate"
        assert s.scalar(sa.select(Case.status).where(Case.id == 1)) == "misuse"


def test_an_actor_case_is_assigned_with_its_open_dossiers(wb: TestClient, store: CaseStore) -> None:
    a = device_id(store)
    h = headers(wb, store, "viewer")
    assert (
        wb.post(f"/v1/actors/{a}/assignment", json={"assignee": "ravi"}, headers=h).status_code
        == 403
    )
    h = headers(wb, store, "reviewer")
    r = wb.post(f"/v1/actors/{a}/assignment", json={"assignee": "ravi"}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["assignee"], r.json()["cases"]) == ("ravi", 2)  # D-005 has a verdict
    assert wb.get(f"/v1/actors/{a}").json()["assignee"] == "ravi"
    assert [i["id"] for i in wb.get("/v1/cases?assignee=ravi").json()["items"]] == [1, 3]
    bad = wb.post(f"/v1/actors/{a}/assignment", json={"assignee": "vera"}, headers=h)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "assignee"]
    # the page's form takes it back, audited once with the count
    page = wb.post(f"/actors/{a}/assign", data={"assignee": "", "csrf_token": h["X-CSRF-Token"]},
                   follow_redirects=False)  # fmt: skip
    assert page.status_code == 303
    assert wb.get(f"/v1/actors/{a}").json()["assignee"] is None
    with store.session() as s:
        entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "assign")))
    assert [(e.detail["assignee"], e.detail["cases"]) for e in entries] == [("ravi", 2), (None, 2)]
