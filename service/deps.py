"""Dependencies shared by the routes (``Annotated`` aliases); tests swap them with overrides."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from service.auth import Caller, KeyRing
from service.engine import Engine

access = logging.getLogger("detector.access")

_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="API key (roles: portal, admin)"
)


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_keys(request: Request) -> KeyRing:
    keys: KeyRing = request.app.state.keys
    return keys


def _caller(
    request: Request,
    keys: Annotated[KeyRing, Depends(get_keys)],
    key: Annotated[str | None, Security(_api_key)] = None,
) -> Caller:
    caller = keys.caller(key)
    if caller is None:
        raise HTTPException(
            status_code=401,
            detail="missing or unknown API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    request.state.caller = caller
    return caller


def allowed(action: str):  # type: ignore[no-untyped-def]
    """A dependency that admits callers whose role may do ``action`` (403 otherwise)."""

    def check(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if not caller.may(action):
            raise HTTPException(
                status_code=403, detail=f"the {caller.role} role may not {action}; an admin key may"
            )
        return caller

    return check


EngineDep = Annotated[Engine, Depends(get_engine)]
Scorer = Annotated[Caller, Depends(allowed("score"))]
Admin = Annotated[Caller, Depends(allowed("reload"))]
