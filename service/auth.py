"""API keys: who may call the API, and with which role.

Keys come from ``DETECTOR_API_KEYS`` (comma-separated ``key:role`` pairs) or
a file (``DETECTOR_API_KEYS_FILE``, one pair per line, ``#`` comments). A key
may be given already hashed, as ``sha256=<hex>:role``, so the file need not
hold the key itself. Only SHA-256 digests are kept in memory; a request's key
is hashed and compared in constant time.

Roles: ``portal`` may score; ``admin`` may also reload. Keys are random
tokens (``detector api-key``), so a fast hash is the right one: there is no
password to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES = ("portal", "admin")
#: what each role may do
PERMISSIONS = {"portal": frozenset({"score"}), "admin": frozenset({"score", "reload"})}
#: the routes that take an API key, and what the key must allow
KEY_ROUTES = {
    "/v1/score": "score",
    "/v1/score/batch": "score",
    "/v1/admin/reload": "reload",
}
HEADER = "X-API-Key"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class KeyConfigError(ValueError):
    """The key configuration is unusable (says which entry and why)."""


class KeyRefused(Exception):
    """A request without a key that may do what it asks: 401 or 403, with the answer's body."""

    def __init__(self, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def digest(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random API key (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: the role, and a short key id for the access log."""

    role: str
    key_id: str

    def may(self, action: str) -> bool:
        return action in PERMISSIONS[self.role]


class KeyRing:
    """The configured keys, hashed.

    Parameters
    ----------
    entries : ``key:role`` or ``sha256=<hex>:role`` strings.

    Raises
    ------
    KeyConfigError
        On an entry without a role, an unknown role, or a key shorter than 16 characters.
    """

    def __init__(self, entries: list[str]) -> None:
        self._roles: dict[str, str] = {}
        for n, entry in enumerate(entries, 1):
            key, sep, role = entry.strip().rpartition(":")
            if not sep or not key:
                raise KeyConfigError(f"API key entry {n}: expected key:role, found no ':role'")
            if role not in ROLES:
                raise KeyConfigError(
                    f"API key entry {n}: role must be one of {', '.join(ROLES)}, found {role!r}"
                )
            if key.startswith("sha256="):
                hexd = key.removeprefix("sha256=").lower()
                if len(hexd) != 64 or any(c not in "0123456789abcdef" for c in hexd):
                    raise KeyConfigError(
                        f"API key entry {n}: sha256= must be followed by 64 hex digits"
                    )
                self._roles[hexd] = role
            else:
                if len(key) < 16:
                    raise KeyConfigError(
                        f"API key entry {n}: keys must be at least 16 characters, found {len(key)}"
                    )
                self._roles[digest(key)] = role

    @classmethod
    def from_settings(cls, keys: str, path: Path | None) -> KeyRing:
        """Keys from the environment variable and/or the file."""
        entries = [e for e in keys.split(",") if e.strip()]
        if path is not None:
            if not path.is_file():
                raise KeyConfigError(f"{path}: API key file not found")
            for line in path.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    entries.append(line)
        return cls(entries)

    def __len__(self) -> int:
        return len(self._roles)

    def caller(self, key: str | None) -> Caller | None:
        """The caller a presented key belongs to, or None."""
        if not key:
            return None
        d = digest(key)
        for (
            stored,
            role,
        ) in self._roles.items():  # a handful of keys: compare each, in constant time
            if hmac.compare_digest(stored, d):
                return Caller(role=role, key_id=d[:8])
        return None


def check_key(keys: KeyRing, key: str | None, action: str) -> Caller:
    """The caller of a key if its role may do ``action``: the one key check of the API.

    Raises
    ------
    KeyRefused
        401 without a known key, 403 when its role may not do ``action``.
    """
    caller = keys.caller(key)
    if caller is None:
        raise KeyRefused(
            401,
            f"missing or unknown API key: send it in the {HEADER} header",
            [(b"www-authenticate", b"APIKey")],
        )
    if not caller.may(action):
        raise KeyRefused(403, f"the {caller.role} role may not {action}; an admin key may", [])
    return caller
