"""Issue #4: the API against its own OpenAPI schema, with generated requests (schemathesis).

Every operation gets valid and invalid requests generated from the schema;
every answer must be documented (status code, content type, headers, body
schema) and none may be a server error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from svc import ADMIN_KEY, settings_for

from service.app import create_app
from service.engine import Engine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_schema(
    split: dict[str, Any], model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    cfg = settings_for(split["history"], model_dir, tmp_path_factory.mktemp("state"))
    engine = Engine(cfg)
    engine.start()
    app = create_app(cfg, engine=engine)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)


#: the API scores dirty data that the schema would call invalid (an ID sent as a number, an
#: unknown enum value), and refuses a submitted_at it cannot place in time though the schema
#: can only say "a string": acceptance and rejection of generated data are policy, not checks
BY_DESIGN = [positive_data_acceptance, negative_data_rejection]


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_answer_is_documented_and_none_is_a_server_error(api_schema: Any, mode: str) -> None:
    # the schemathesis pytest plugin does not run on this pytest; its strategies are used directly
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    tried = []
    for op in _operations(api_schema):
        if op.path == "/v1/admin/reload":  # one reload is enough (see test_api); each takes seconds
            continue

        @given(case=op.as_strategy(generation_mode=generation))
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers={"X-API-Key": ADMIN_KEY}, excluded_checks=BY_DESIGN)

        try:
            check()
        except Unsatisfiable:  # nothing to make invalid: no body and no parameters (GET /healthz)
            assert mode == "negative" and op.method.upper() == "GET"
            continue
        tried.append(f"{op.method.upper()} {op.path}")
    assert {"POST /v1/score", "POST /v1/score/batch"} <= set(tried)


@pytest.mark.parametrize("door", ["no key", "unknown key", "too large"])
def test_refusals_at_the_door_are_documented(api_schema: Any, door: str) -> None:
    # the probe: a reload without a key got 422 (its body was read first), a chunked
    # verdict over the limit 422, and the reload's 422 did not match its documented body
    big = {"padding": "x" * (5 * 1024 * 1024)}  # over both limits (64 KiB, 4 MiB for a batch)
    headers = {
        "no key": {},
        "unknown key": {"X-API-Key": "not-a-configured-key-0000"},
        "too large": {"X-API-Key": ADMIN_KEY},
    }[door]
    expected = 413 if door == "too large" else 401
    seen = {}
    for op in _operations(api_schema):
        if op.method.upper() != "POST":
            continue
        if op.path == "/v1/session" and door != "too large":
            continue  # logging in is how a caller without a session gets one
        ids = {name: 1 for name in ("case_id", "actor_id") if "{" + name + "}" in op.path}
        params = ids or None
        case = op.Case(
            headers=headers,
            path_parameters=params,
            body=big if door == "too large" else {},
            media_type="application/json",
        )
        response = case.call_and_validate(excluded_checks=BY_DESIGN)
        seen[op.path] = response.status_code
    assert seen, "no POST operation in the schema"
    assert set(seen.values()) == {expected}, seen
