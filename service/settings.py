"""The service's settings, from environment variables (one pydantic-settings class).

Every variable starts with ``DETECTOR_`` except ``DATABASE_URL``. ``detector
serve`` fills the data and model folders from its options. Without both of
them the service runs the workbench only (the review API and pages); the
scoring endpoints then answer 503.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: values that are never a secret, whatever the environment says
PLACEHOLDERS = {"", "change-me", "changeme", "secret", "test", "xxx"}
#: secrets that were once written in this repository (the old built-in development key):
#: anybody can read them, so a server refuses them as if they were unset
KNOWN_SECRETS = {"development only: not a secret", "tests only: a long enough secret"}
#: shortest state secret accepted from the environment (characters)
MIN_SECRET = 32
#: the installation's own secret, made on first use, in the state folder at mode 0600
SECRET_FILE = "secret"


class SecretError(ValueError):
    """The state secret is unusable; the message says what was found and what to do."""


class Settings(BaseSettings):
    """Configuration of the scoring API and the workbench (see README, "Scoring API")."""

    model_config = SettingsConfigDict(env_prefix="DETECTOR_", extra="ignore")

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
    #: key of the hashes that pseudonymise citizen IDs, phones and payment tokens (Redis, the
    #: scoring log, case evidence); unset: the installation's own, ``<state_dir>/secret``
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

    def state_folder(self) -> Path:
        """The state folder, made on first use and readable by its owner only (0700)."""
        if not self.state_dir.is_dir():
            self.state_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        return self.state_dir

    def database(self) -> str:
        """The log's database URL: ``DATABASE_URL``, else a SQLite file in the state folder.

        The SQLite file is created at mode 0600 (SQLite gives its WAL and
        shared-memory files the same mode): it holds personal data.
        """
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):  # the psycopg 3 driver
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        path = (self.state_folder() / "detector.db").resolve()
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if part.exists() and stat.S_IMODE(part.stat().st_mode) & 0o077:
                part.chmod(0o600)  # made by an earlier version, readable by others
        return f"sqlite:///{path}"

    def secret(self) -> bytes:
        """The pseudonymisation key: ``DETECTOR_STATE_SECRET``, else the installation's own.

        There is no built-in default. Without the variable, the first call
        makes 32 random bytes and keeps them in ``<state_dir>/secret`` (mode
        0600, created exclusively so that workers starting together agree);
        later calls read them back. A pseudonym is an HMAC under this key, so
        whoever lacks the key cannot test a guessed citizen ID against it.

        Raises
        ------
        SecretError
            A placeholder, a value once published in this repository, a value
            shorter than :data:`MIN_SECRET` characters, or a secret file that
            other users may read or that is not a secret this code wrote.
        """
        given = self.state_secret.strip()
        if given or self.state_secret:
            if given.lower() in PLACEHOLDERS or given in KNOWN_SECRETS:
                raise SecretError(
                    "DETECTOR_STATE_SECRET is a placeholder or a published value; unset it (the "
                    "installation then makes its own) or set a long random value "
                    '(python -c "import secrets; print(secrets.token_hex(32))")'
                )
            if len(given) < MIN_SECRET:
                raise SecretError(
                    f"DETECTOR_STATE_SECRET: expected at least {MIN_SECRET} characters, found "
                    f"{len(given)}; set a long random value or unset it"
                )
            return given.encode()
        return installation_secret(self.state_folder() / SECRET_FILE)


def installation_secret(path: Path) -> bytes:
    """The secret kept at ``path``, made (64 hex digits, mode 0600) when there is none.

    Raises
    ------
    SecretError
        When the file can be read by other users or does not hold 64 hex digits.
    """
    if not path.exists():  # written aside, then linked in: a reader never sees half a file
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: theirs is the secret
            pass
        finally:
            tmp.unlink()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretError(
            f"{path}: the state secret may be read by other users (mode {mode:04o}); "
            f"run `chmod 600 {path}`"
        )
    value = path.read_text(encoding="ascii", errors="replace").strip()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise SecretError(
            f"{path}: expected 64 hex digits written by the detector, found {len(value)} "
            "characters; delete the file to make a new secret (pseudonyms made so far change)"
        )
    return value.encode()
