"""The one scoring route: key check, body limit, error mapping and the scoring call.

``POST /v1/score`` is called while a citizen waits, hundreds of times a second
at peak. Profiled under load, about a third of the server's time per request
went to the layers every FastAPI request crosses, so :class:`FastScore`
answers that route before them (pure ASGI). The documented FastAPI route in
:mod:`service.routes.score` answers when the fast path is off, and
``/v1/score/batch`` maps each of its dossiers. All of them, and the
:class:`KeyGate` and :class:`BodyLimit` middlewares in front of every other
route, call the functions of this module, so a request gets the same status
and body whichever way it came in:

- 401 / 403 for a missing, unknown or unauthorised key (:func:`caller_of`),
  checked before the body is read;
- 413 above the body limit, from Content-Length or while reading
  (:func:`read_body`);
- 422 with field-level ``loc`` for a body that is not a usable dossier
  (:func:`field_errors`, :func:`unscorable_error`);
- 500 with a JSON body for anything unexpected, logged without the
  exception's text (which might quote a citizen ID);
- the score otherwise (:func:`score_dossier`); :meth:`Engine.score` itself
  turns scoring failures into ``status: "unscored"`` answers.

Every refusal is a :class:`Refusal` (status, body, headers); :func:`send_json`
writes it. The OpenAPI description of the scoring routes is :data:`RESPONSES`,
with the models the bodies are built to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from service import metrics
from service.auth import KEY_ROUTES, ASGIApp, Caller, KeyRefused, Message, Receive, Scope, Send
from service.auth import check_key as _check_key
from service.engine import Engine, Unscorable
from service.schemas import DossierIn, ErrorOut, ValidationErrorOut

log = logging.getLogger(__name__)

PATH = "/v1/score"
#: the answer of a request that failed outside scoring (never a traceback)
INTERNAL = "internal error; proceed without a score"
#: what the scoring routes may answer besides 200, as FastAPI's ``responses``
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no or unknown API key (`WWW-Authenticate: APIKey`)"},
    403: {"model": ErrorOut, "description": "the key's role may not score"},
    413: {"model": ErrorOut, "description": "request body too large (`Connection: close`)"},
    422: {"model": ValidationErrorOut, "description": "unscorable: field-level errors"},
    500: {"model": ErrorOut, "description": "failed outside scoring: proceed without a score"},
    503: {"model": ErrorOut, "description": "the scoring engine has not started yet"},
}
#: the answer before the lifespan handler has loaded the engine
STARTING = "the scoring engine has not started yet; proceed without a score"
_JSON = [(b"content-type", b"application/json")]
_CLOSE = [(b"connection", b"close")]
_LATENCY = metrics.LATENCY.labels(PATH)
_COUNTS: dict[int, Any] = {}

Headers = list[tuple[bytes, bytes]]


class Refusal(Exception):
    """A request answered without a score: the status, the JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: Headers | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or []


# ----------------------------------------------------------------- the door
def caller_of(keys: Any, key: str | None, action: str) -> Caller:
    """The caller of a key whose role may do ``action``: :func:`service.auth.check_key`.

    Raises
    ------
    Refusal
        401 (with ``WWW-Authenticate``) without a known key, 403 when its role may not.
    """
    try:
        return _check_key(keys, key, action)
    except KeyRefused as exc:
        raise Refusal(exc.status, {"detail": exc.detail}, exc.headers) from None


def too_large(limit: int, size: int) -> Refusal:
    """The 413 of a body over ``limit`` bytes (``size`` is what was declared or seen so far)."""
    detail = f"request body too large: at most {limit} bytes, found {size} or more"
    return Refusal(413, {"detail": detail}, list(_CLOSE))


def header(scope: Scope, name: bytes) -> bytes | None:
    """A request header's raw value, or None."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def declared_too_large(scope: Scope, limit: int) -> Refusal | None:
    """The 413 of a declared Content-Length over ``limit``, or None."""
    value = header(scope, b"content-length")
    if value is not None and value.isdigit() and int(value) > limit:
        return too_large(limit, int(value))
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refused once it passes ``limit`` bytes.

    Raises
    ------
    Refusal
        413 past the limit; 499 when the client went away.
    """
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(499, {"detail": "client went away"})
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise too_large(limit, seen)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_json(send: Send, status: int, body: Any, headers: Headers | None = None) -> None:
    """One JSON answer, with its length (not chunked: cheaper for callers)."""
    payload = orjson.dumps(body)
    head = [*_JSON, (b"content-length", str(len(payload)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": payload})


# ----------------------------------------------------------------- the error mapping
def error_entries(
    errors: Iterable[Mapping[str, Any]], prefix: tuple[str | int, ...] = ()
) -> list[dict[str, Any]]:
    """Pydantic's (or FastAPI's) errors as the API's ``FieldError`` entries, ``loc`` under ``prefix``.

    Only ``loc``, ``msg`` and ``type``: the input itself may be a citizen's value.
    """
    return [{"loc": [*prefix, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in errors]


def field_errors(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[dict[str, Any]]:
    """A validation error's ``FieldError`` entries, ``loc`` under ``prefix``."""
    return error_entries(exc.errors(include_url=False, include_input=False), prefix)


def unscorable_error(exc: Unscorable, prefix: tuple[str | int, ...]) -> dict[str, Any]:
    """A required field that normalisation found unusable, as a ``FieldError`` entry."""
    return {"loc": [*prefix, exc.field], "msg": str(exc), "type": "value_error"}


def score_dossier(engine: Engine, dossier: DossierIn, prefix: tuple[str | int, ...]) -> Any:
    """The engine's answer for a validated dossier.

    Raises
    ------
    Refusal
        422 when a required field is unusable once normalised.
    """
    try:
        return engine.score(dossier.model_dump())
    except Unscorable as exc:
        raise Refusal(422, {"detail": [unscorable_error(exc, prefix)]}) from None


def score_json(engine: Engine, body: bytes) -> Any:
    """Validate a JSON body (pydantic's JSON parser, in one call) and score it.

    Raises
    ------
    Refusal
        422 for a body that is not a usable dossier.
    """
    try:
        dossier = DossierIn.model_validate_json(body)
    except ValidationError as exc:
        raise Refusal(422, {"detail": field_errors(exc, ("body",))}) from None
    return score_dossier(engine, dossier, ("body",))


def batch_item(engine: Engine, i: int, item: dict[str, Any]) -> dict[str, Any]:
    """One dossier of a batch: its answer, or ``invalid`` with the same errors as alone."""
    prefix: tuple[str | int, ...] = ("dossiers", i)
    try:
        answer = score_dossier(engine, DossierIn.model_validate(item), prefix)
    except ValidationError as exc:
        return {"index": i, "status": "invalid", "errors": field_errors(exc, prefix)}
    except Refusal as exc:
        return {"index": i, "status": "invalid", "errors": exc.body["detail"]}
    return {"index": i, "status": answer["status"], "answer": answer}


async def answer_score(scope: Scope, receive: Receive, state: Any) -> tuple[int, Any, Headers]:
    """``POST /v1/score`` from the request to (status, JSON body, extra headers).

    The key is checked before the body is read, the declared length before a
    byte is read, the body's length as it arrives. ``state`` holds ``engine``,
    ``keys`` and ``settings``, read per request so reloads and test overrides
    are seen at once.
    """
    try:
        key = header(scope, b"x-api-key")
        caller_of(state.keys, None if key is None else key.decode("latin-1"), "score")
        limit: int = state.settings.max_body_bytes
        refused = declared_too_large(scope, limit)
        if refused is not None:
            raise refused
        body = await read_body(receive, limit)
        engine: Engine | None = state.engine
        if engine is None:
            raise Refusal(503, {"detail": STARTING})
        return 200, score_json(engine, body), []
    except Refusal as exc:
        return exc.status, exc.body, exc.headers
    except Exception as exc:  # never a traceback to the portal; never the message in the log
        log.error("POST /v1/score failed outside scoring (%s)", type(exc).__name__)
        return 500, {"detail": INTERNAL}, []


# ----------------------------------------------------------------- ASGI
def _counter(status: int) -> Any:
    c = _COUNTS.get(status)
    if c is None:
        c = _COUNTS[status] = metrics.REQUESTS.labels(PATH, "POST", str(status))
    return c


class FastScore:
    """Answers ``POST /v1/score`` before FastAPI's layers (pure ASGI); passes the rest on.

    Counted and timed for ``GET /metrics`` under the same labels as every other request.

    Parameters
    ----------
    app
        The stack FastAPI built (everything else goes there unchanged).
    state
        The FastAPI app's ``state`` (see :func:`answer_score`).
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, body, headers = await answer_score(scope, receive, self.state)
        await send_json(send, status, body, headers)
        _LATENCY.observe(time.perf_counter() - started)
        _counter(status).inc()


class KeyGate:
    """Checks the API key of :data:`~service.auth.KEY_ROUTES` before anything reads the body.

    A request without a key that may do what it asks is answered 401 or 403
    at once, whatever its body (an unknown caller learns nothing of what the
    body should hold, and costs no parsing). The caller goes into the scope's
    ``state`` for the routes and the access log.

    Parameters
    ----------
    app
        The application behind the gate.
    state
        Holds ``keys`` (:class:`~service.auth.KeyRing`), read per request.
    """

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        action = KEY_ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        # no key configured at all: a workbench-only server, whose key routes answer 503
        if action is None or scope["method"] != "POST" or not len(self.state.keys):
            await self.app(scope, receive, send)
            return
        key = header(scope, b"x-api-key")
        try:
            caller = caller_of(
                self.state.keys, None if key is None else key.decode("latin-1"), action
            )
        except Refusal as exc:
            await send_json(send, exc.status, exc.body, exc.headers)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over a limit with 413, before reading them whole (pure ASGI).

    The batch endpoint gets its own, larger limit. A declared Content-Length
    over the limit is refused at once; a chunked body is counted as it
    arrives, and once past the limit the 413 goes out at once and the
    application reads a disconnect (whatever it answers then is dropped).
    Raising inside ``receive`` instead would reach FastAPI's body parser,
    which turns any error into a 400 (a 422 here): the probe saw a chunked
    519 KB verdict get 422.
    """

    def __init__(self, app: ASGIApp, limit: int, batch_limit: int) -> None:
        self.app, self.limit, self.batch_limit = app, limit, batch_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.batch_limit if scope["path"].endswith("/batch") else self.limit
        refused = declared_too_large(scope, limit)
        if refused is not None:
            await send_json(send, refused.status, refused.body, refused.headers)
            return
        seen = 0
        over = False

        async def bounded() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    exc = too_large(limit, seen)
                    await send_json(send, exc.status, exc.body, exc.headers)
                    return {"type": "http.disconnect"}
            return message

        async def answering(message: Message) -> None:
            if not over:
                await send(message)

        try:
            await self.app(scope, bounded, answering)
        except ClientDisconnect:
            if not over:
                raise
