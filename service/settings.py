"""The service's settings, from environment variables (one pydantic-settings class).

Every variable starts with ``DETECTOR_`` except ``DATABASE_URL``. ``detector
serve`` fills the data and model folders from its options. Without both of
them the service runs the workbench only (the review API and pages); the
scoring endpoints then answer 503.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"", "change-me", "changeme", "secret", "test", "xxx"}


class Settings(BaseSettings):
    """Configuration of the scoring API and the workbench (see README, "Scoring API")."""

    model_config = SettingsConfigDict(env_prefix="DETECTOR_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path | None = None
    model_dir: Path | None = None
    state_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "DETECTOR_DATABASE_URL")
    )
    #: the live history store: "memory" (one process) or "redis" (shared by workers and hosts)
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: first part of every Redis key (the second is the data folder's fingerprint)
    redis_prefix: str = "detector"
    #: key of the hash that pseudonymises IDs and phones in Redis
    state_secret: str = ""
    #: comma-separated key:role pairs (roles: portal, admin); or a file of one pair per line
    api_keys: str = ""
    api_keys_file: Path | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_batch: int = Field(default=1000, ge=1, le=10_000)
    #: mark the session cookie Secure even when the request did not come over https
    cookie_secure: bool = False
    #: believe X-Forwarded-Proto and X-Forwarded-For (only behind a proxy that sets them)
    trust_proxy: bool = False
    #: with trust_proxy, the proxy addresses uvicorn takes those headers from (comma-separated)
    forwarded_allow_ips: str = "127.0.0.1,::1"
    #: seconds between two passes turning flagged API answers into cases
    feed_seconds: float = Field(default=5.0, gt=0, le=3600)
    #: turn flagged answers into cases in a thread of the app (tests, embedded use);
    #: ``detector serve`` runs the feeder in a process of its own instead and sets this off
    feed_in_app: bool = True

    @field_validator("data_dir", "model_dir", "api_keys_file", "database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        """An empty variable (``DATABASE_URL=``) means unset, not the current folder."""
        return None if isinstance(v, str) and not v.strip() else v

    @property
    def scoring_enabled(self) -> bool:
        """Whether the scoring engine runs: both the data and the model folder are given."""
        return self.data_dir is not None and self.model_dir is not None

    def database(self) -> str:
        """The log's database URL: ``DATABASE_URL``, else a SQLite file in the state folder."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):  # the psycopg 3 driver
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.state_dir / 'detector.db').resolve()}"

    def secret(self) -> bytes:
        """The pseudonymisation key; refuses a placeholder outside development."""
        if self.state_secret.strip().lower() in PLACEHOLDERS:
            if self.env == "production":
                raise ValueError(
                    "DETECTOR_STATE_SECRET is missing or a placeholder; set a long random value "
                    "(it keys the hash that pseudonymises IDs and phones in Redis)"
                )
            return b"development only: not a secret"
        return self.state_secret.encode()
