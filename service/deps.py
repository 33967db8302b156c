"""Dependencies shared by the routes (``Annotated`` aliases); tests swap them with overrides.

Kept flat (one dependency per request besides the key header): on the
scoring path every resolved dependency costs tens of microseconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from service.auth import Caller, KeyRing
from service.engine import Engine

_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key (roles: portal, admin)"
)


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def authorize(request: Request, key: str | None, action: str) -> Caller:
    """The caller of a request if its key's role may do ``action``; else 401 or 403."""
    keys: KeyRing = request.app.state.keys
    caller = keys.caller(key)
    if caller is None:
        raise HTTPException(
            status_code=401,
            detail="missing or unknown API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    if not caller.may(action):
        raise HTTPException(
            status_code=403, detail=f"the {caller.role} role may not {action}; an admin key may"
        )
    request.state.caller = caller
    return caller


def allowed(action: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that admits callers whose key's role may do ``action``.

    401 without a known key, 403 when the role may not (the key's digest
    prefix is kept on the request for the access log, never the key).
    """

    async def check(
        request: Request, key: Annotated[str | None, Security(_api_key)] = None
    ) -> Caller:
        return authorize(request, key, action)

    return check


EngineDep = Annotated[Engine, Depends(get_engine)]
Scorer = Annotated[Caller, Depends(allowed("score"))]
Admin = Annotated[Caller, Depends(allowed("reload"))]
