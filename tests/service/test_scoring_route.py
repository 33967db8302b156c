"""Issue #11, item 3: one scoring route, whichever way a request comes in.

The same hostile requests go to the app with its fast path on (``FastScore``
answers ``POST /v1/score`` before FastAPI) and off (the documented FastAPI
route behind the key gate and the body limit): status, body and headers must
be identical, and every answer must be one the OpenAPI schema documents, with
a body its schema accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from svc import PORTAL, settings_for

from service.app import create_app
from service.engine import Engine
from service.scoring_route import FastScore

LIMIT = 64 * 1024  # Settings.max_body_bytes by default
GOOD: dict[str, Any] = {
    "dossier_id": "ROUTE-TEST-0001",
    "unit_id": "X001",
    "channel": "online",
    "submitted_at": "2025-11-20T09:15:00+07:00",
    "account_id": "ACC-NOT-IN-ACCOUNTS",
    "owner_id": "079123456789",
    "declared_relation": "self",
}


def _chunks() -> Iterator[bytes]:
    """A body sent without Content-Length, over the limit only once read."""
    yield b'{"dossier_id": "'
    for _ in range(LIMIT // 1024 + 1):
        yield b"x" * 1024
    yield b'"}'


#: name -> (headers, keyword arguments of ``post``, the status expected)
HOSTILE: dict[str, tuple[dict[str, str], dict[str, Any], int]] = {
    "no key": ({}, {"json": GOOD}, 401),
    "unknown key": ({"X-API-Key": "not-a-configured-key-0000"}, {"json": GOOD}, 401),
    # the key is checked before the length: no key, no 413 that says what the limit is
    "no key, too large": ({}, {"content": b"x" * (LIMIT + 1)}, 401),
    "too large by content-length": (PORTAL, {"content": b"x" * (LIMIT + 1)}, 413),
    "too large, chunked": (PORTAL, {"content": _chunks}, 413),
    "not JSON": (PORTAL, {"content": b"{not json"}, 422),
    "empty body": (PORTAL, {"content": b""}, 422),
    "a JSON list": (PORTAL, {"json": [GOOD]}, 422),
    "wrong types": (PORTAL, {"json": {**GOOD, "dossier_id": ["A"], "owner_id": {"x": 1}}}, 422),
    "required field missing": (PORTAL, {"json": {"dossier_id": "ROUTE-X"}}, 422),
    "unscorable channel": (PORTAL, {"json": {**GOOD, "channel": "fax"}}, 422),
    "unplaceable time": (PORTAL, {"json": {**GOOD, "submitted_at": "next tuesday"}}, 422),
    "good dossier": (PORTAL, {"json": GOOD}, 200),
    "good dossier again": (PORTAL, {"json": GOOD}, 200),
}


@pytest.fixture(scope="module")
def clients(
    split: dict[str, Any], model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, TestClient]]:
    """The app with the fast path on and off, each on its own engine over the same history.

    Two engines, so the same good dossier is new to each (a repeat would answer ``repeat``).
    """
    out = {}
    for name, fast in (("fast", True), ("route", False)):
        cfg = settings_for(split["history"], model_dir, tmp_path_factory.mktemp(f"state-{name}"))
        engine = Engine(cfg)
        engine.start()
        out[name] = TestClient(create_app(cfg, engine=engine, fast_path=fast))
    for c in out.values():
        c.__enter__()
    yield out
    for c in out.values():
        c.__exit__(None, None, None)


def _post(client: TestClient, name: str) -> Any:
    headers, kwargs, _ = HOSTILE[name]
    kwargs = {k: (v() if callable(v) else v) for k, v in kwargs.items()}
    return client.post("/v1/score", headers=headers, **kwargs)


def test_the_fast_path_is_on_in_one_app_only(clients: dict[str, TestClient]) -> None:
    # otherwise the comparison below would compare a path with itself
    stacks = {name: c.app.middleware_stack for name, c in clients.items()}  # type: ignore[attr-defined]
    assert isinstance(stacks["fast"], FastScore)
    assert not isinstance(stacks["route"], FastScore)


def test_fast_path_and_route_answer_alike(clients: dict[str, TestClient]) -> None:
    seen = {}
    for name, (_, _, expected) in HOSTILE.items():
        fast, route = (_post(clients[side], name) for side in ("fast", "route"))
        assert fast.status_code == expected, (name, fast.text[:300])
        assert (route.status_code, route.json()) == (fast.status_code, fast.json()), name
        kept = ("content-type", "www-authenticate", "connection")
        assert {h: fast.headers.get(h) for h in kept} == {h: route.headers.get(h) for h in kept}
        seen[name] = fast
    assert seen["no key"].headers["www-authenticate"] == "APIKey"
    assert seen["too large, chunked"].headers["connection"] == "close"
    assert seen["unscorable channel"].json()["detail"][0]["loc"] == ["body", "channel"]
    assert seen["good dossier"].json()["status"] == "scored"
    assert seen["good dossier again"].json()["repeat"] is True


def _validator(spec: dict[str, Any], status: int) -> jsonschema.Draft202012Validator:
    documented = spec["paths"]["/v1/score"]["post"]["responses"]
    assert str(status) in documented, f"{status} is served but not documented"
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    # its $refs ("#/components/schemas/...") point into the document: carry the components along
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def test_every_answer_of_the_fast_path_is_documented(clients: dict[str, TestClient]) -> None:
    spec = clients["fast"].get("/openapi.json").json()
    statuses = set()
    for name in HOSTILE:
        r = _post(clients["fast"], name)
        _validator(spec, r.status_code).validate(r.json())
        statuses.add(r.status_code)
    assert statuses == {200, 401, 413, 422}


def test_the_documented_refusals_say_what_the_bodies_hold(clients: dict[str, TestClient]) -> None:
    # 500 and 503 are not provoked above: their bodies are built by answer_score alone
    spec = clients["fast"].get("/openapi.json").json()
    for status in (401, 403, 413, 500, 503):
        _validator(spec, status).validate({"detail": "what was expected, what was found"})
        with pytest.raises(jsonschema.ValidationError):
            _validator(spec, status).validate({"detail": [{"loc": ["body"]}]})
    field = {"loc": ["body", "channel"], "msg": "m", "type": "value_error"}
    _validator(spec, 422).validate({"detail": [field]})
    with pytest.raises(jsonschema.ValidationError):
        _validator(spec, 422).validate({"detail": "a sentence"})


class _Broken:
    """An engine that fails outside scoring (Engine.score turns failures inside into answers)."""

    def score(self, raw: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError(f"owner {raw.get('owner_id')} broke it")  # a value in the message


@pytest.mark.parametrize(("engine", "status"), [(_Broken(), 500), (None, 503)])
def test_failures_answer_alike_and_as_documented(
    clients: dict[str, TestClient],
    engine: Any,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = clients["fast"].get("/openapi.json").json()
    answers = []
    for c in clients.values():
        state = c.app.state  # type: ignore[attr-defined]
        kept, state.engine = state.engine, engine
        try:
            r = c.post("/v1/score", json=GOOD, headers=PORTAL)
        finally:
            state.engine = kept
        assert r.status_code == status, r.text
        _validator(spec, status).validate(r.json())
        answers.append(r.json())
    assert answers[0] == answers[1]
    assert GOOD["owner_id"] not in caplog.text  # the exception's text is never logged
