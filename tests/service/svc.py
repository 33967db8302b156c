"""Constants and helpers shared by the service tests (keys, databases, settings)."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

from service.settings import Settings

CUTOFF = "2025-11-01"
PORTAL_KEY = "portal-key-for-tests-0001"
ADMIN_KEY = "admin-key-for-tests-00001"
KEYS = f"{PORTAL_KEY}:portal,{ADMIN_KEY}:admin"
PORTAL = {"X-API-Key": PORTAL_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}
#: made per test run: no secret that works on a server is written in the repository
STATE_SECRET = secrets.token_hex(32)
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_reachable() -> bool:
    import sqlalchemy as sa

    try:
        with sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2}).connect():
            return True
    except Exception:
        return False


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def settings_for(
    history: Path,
    model_dir: Path,
    state: Path,
    store: str = "memory",
    database_url: str | None = None,
) -> Settings:
    return Settings(
        data_dir=history,
        model_dir=model_dir,
        state_dir=state,
        store=store,  # type: ignore[arg-type]
        api_keys=KEYS,
        database_url=database_url,
        state_secret=STATE_SECRET,
        redis_prefix=f"detector-test-{uuid.uuid4().hex[:8]}",
    )
