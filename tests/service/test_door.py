"""What the probe of issue #14 found at the door, each as a test that failed before its fix.

- ``POST /v1/admin/reload`` without a key got 422: its body was read before the key.
- ``{"model": "yes"}`` was taken as true.
- A chunked 519 KB verdict got 422, not 413.
- ``GET /cases?page=9223372036854775807`` answered 500 with an OverflowError in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_fixtures import log_in, seed
from svc import ADMIN, KEYS

from service.app import create_app
from service.cases.db import CaseStore
from service.cases.queue import MAX_PAGE
from service.settings import Settings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    s = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    seed(s)
    yield s
    s.dispose()


@pytest.fixture
def app(store: CaseStore, tmp_path: Path) -> FastAPI:
    """A workbench-only app that also knows the API keys (the key routes answer 503 inside)."""
    settings = Settings(state_dir=tmp_path, data_dir=None, model_dir=None, api_keys=KEYS)
    return create_app(settings, cases=store)


@pytest.fixture
def wb(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"", None), (b"{not json", "application/json"), (b'{"model": "yes"}', "application/json")],
)
@pytest.mark.parametrize("path", ["/v1/admin/reload", "/v1/score", "/v1/score/batch"])
def test_a_key_route_refuses_a_missing_key_before_reading_the_body(
    wb: TestClient, path: str, content: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = wb.post(path, content=content, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == "APIKey"
    assert "X-API-Key" in r.json()["detail"]


def test_a_key_route_counts_its_refusals_under_its_own_name(wb: TestClient) -> None:
    wb.post("/v1/admin/reload", content=b"{not json")
    metrics = wb.get("/metrics").text
    assert 'endpoint="/v1/admin/reload",method="POST",status="401"' in metrics


def test_a_chunked_body_over_the_limit_gets_413_on_a_session_route(
    wb: TestClient, store: CaseStore
) -> None:
    csrf = log_in(wb, store, "rita")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"decision": "misuse", "note": "'
        for _ in range(519):
            yield b"x" * 1024
        yield b'"}'

    r = wb.post(
        "/v1/cases/1/verdicts",
        content=chunks(),
        headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
    )
    assert r.status_code == 413, r.text
    assert "at most 65536 bytes" in r.json()["detail"]


def test_a_form_post_over_the_limit_gets_413_and_no_traceback(
    wb: TestClient, store: CaseStore, caplog: pytest.LogCaptureFixture
) -> None:
    log_in(wb, store, "rita")

    def chunks() -> Iterator[bytes]:
        yield b"csrf_token=x&note="
        for _ in range(100):
            yield b"y" * 1024

    with caplog.at_level(logging.ERROR):
        r = wb.post(
            "/cases/1/verdict",
            content=chunks(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 413
    assert "Traceback" not in caplog.text and not caplog.records


def test_reload_takes_true_or_false_only(app: FastAPI, wb: TestClient) -> None:
    # the key gate lets the admin through; the workbench-only app answers 503 past it, so
    # the body is checked against the schema the real route uses
    from service.schemas import ReloadIn

    for value in ("yes", 1, "true", None):
        with pytest.raises(ValueError):
            ReloadIn.model_validate({"model": value})
    assert ReloadIn.model_validate({"model": True}).model
    r = wb.post("/v1/admin/reload", json={"model": "yes"}, headers=ADMIN)
    assert r.status_code == 503  # past the door: scoring is not configured here


@pytest.mark.parametrize("page", ["9223372036854775807", str(MAX_PAGE + 1), "0", "-3"])
def test_the_queue_page_refuses_a_page_number_out_of_range(
    wb: TestClient, store: CaseStore, page: str, caplog: pytest.LogCaptureFixture
) -> None:
    log_in(wb, store, "vera")
    with caplog.at_level(logging.ERROR):
        r = wb.get(f"/cases?page={page}")
        api = wb.get(f"/v1/cases?page={page}")
    assert r.status_code == 422, r.text[:300]
    assert api.status_code == 422
    assert not caplog.records  # no OverflowError in the log
