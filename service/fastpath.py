"""``POST /v1/score`` answered before FastAPI's middleware and routing (pure ASGI).

The portal calls this endpoint while a citizen waits, hundreds of times a
second at peak. Profiled under load, about a third of the server's time per
request went to the layers every FastAPI request crosses (error, telemetry
and body-limit middlewares, the router, the request/response wrappers), not to
scoring. This module answers that one route directly, with the same
behaviour as the documented FastAPI route in :mod:`service.routes.score`
(which stays: it carries the OpenAPI description and answers if this path is
switched off):

- 401 / 403 for a missing, unknown or unauthorised key;
- 413 above ``max_body_bytes``, from Content-Length or while reading;
- 422 with field-level ``loc`` for a body that is not a usable dossier;
- the score otherwise, counted and timed for ``GET /metrics`` under the same
  labels as every other request.

Anything unexpected answers 500 with a JSON body and is logged without the
exception's text (which might quote a citizen ID); :meth:`Engine.score` itself
already turns scoring failures into ``status: "unscored"`` answers.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from pydantic import ValidationError

from service import metrics
from service.auth import ASGIApp, KeyRefused, Receive, Scope, Send, check_key
from service.engine import Engine, Unscorable
from service.schemas import DossierIn

log = logging.getLogger(__name__)

PATH = "/v1/score"
_JSON = [(b"content-type", b"application/json")]
_LATENCY = metrics.LATENCY.labels(PATH)
_COUNTS: dict[int, Any] = {}


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: list[Any] | None = None):
        self.status, self.body, self.headers = status, body, headers or []


def _counter(status: int) -> Any:
    c = _COUNTS.get(status)
    if c is None:
        c = _COUNTS[status] = metrics.REQUESTS.labels(PATH, "POST", str(status))
    return c


class FastScore:
    """Wraps the app's middleware stack; answers ``POST /v1/score``, passes the rest on.

    Parameters
    ----------
    app
        The stack FastAPI built (everything else goes there unchanged).
    state
        The FastAPI app's ``state``: ``engine``, ``keys`` and ``settings`` are read
        per request, so reloads and test overrides are seen at once.
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        engine: Engine | None = self.state.engine
        if engine is None or getattr(engine, "disabled", False):
            await self.app(scope, receive, send)  # the documented route says why (503)
            return
        try:
            status, body, headers = (
                200,
                self._answer(engine, scope, await self._body(scope, receive)),
                [],
            )
        except _Refused as exc:
            status, body, headers = exc.status, exc.body, exc.headers
        except Exception as exc:  # never a traceback to the portal; never the message in the log
            log.error("POST /v1/score failed outside scoring (%s)", type(exc).__name__)
            status, body, headers = 500, {"detail": "internal error; proceed without a score"}, []
        payload = orjson.dumps(body)
        headers = [*_JSON, (b"content-length", str(len(payload)).encode()), *headers]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        _LATENCY.observe(time.perf_counter() - started)
        _counter(status).inc()

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The request body, refusing a bad key before reading it and a large one while reading."""
        key = None
        limit: int = self.state.settings.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit() and int(value) > limit:
                raise _Refused(413, too_large(limit, int(value)), [(b"connection", b"close")])
        try:
            check_key(self.state.keys, key, "score")
        except KeyRefused as exc:
            raise _Refused(exc.status, {"detail": exc.detail}, exc.headers) from None
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refused(499, {"detail": "client went away"})
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                raise _Refused(413, too_large(limit, seen), [(b"connection", b"close")])
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _answer(self, engine: Engine, scope: Scope, body: bytes) -> dict[str, Any]:
        try:
            dossier = DossierIn.model_validate_json(body)
        except ValidationError as exc:
            errors = [
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
            raise _Refused(422, {"detail": errors}) from None
        try:
            return engine.score(dossier.model_dump())
        except Unscorable as exc:
            problem = {"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}
            raise _Refused(422, {"detail": [problem]}) from None


def too_large(limit: int, size: int) -> dict[str, Any]:
    """The 413 answer's body, for the fast path and the app's body limit alike."""
    return {"detail": f"request body too large: at most {limit} bytes, found {size} or more"}
