"""Workbench users: password hashes (Argon2id), sessions and CSRF tokens.

A session token is 32 random bytes sent once in an HttpOnly cookie; the store
keeps only its SHA-256, so a copy of the database does not let anyone in.
Each session has its own CSRF token, which every state-changing request must
echo (form field ``csrf_token`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from service.cases.models import USER_ROLES, User, WebSession

#: Argon2id with the library's RFC 9106 "low memory" profile (64 MiB, 3 passes)
_hasher = PasswordHasher()
#: a hash to verify against when the user does not exist, so timing does not tell
_DUMMY = _hasher.hash("not a password of anyone")
SESSION_HOURS = 12
MIN_PASSWORD = 10
#: a login name: ASCII only, so no look-alike (Cyrillic "а" in "аdmin") can pass for another
USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class UserError(ValueError):
    """A user could not be created or changed; the message says what was expected."""


@dataclass(frozen=True)
class Who:
    """The logged-in user of a request, as routes and templates need it."""

    id: int
    username: str
    display_name: str
    role: str
    csrf_token: str

    def may(self, action: str) -> bool:
        """``read`` for every role; ``write`` (verdicts, assignments) for reviewers and
        admins; ``reveal`` (unmasked IDs and phones) for reviewers and admins;
        ``admin`` (audit log, users) for admins only."""
        need = {"read": "viewer", "write": "reviewer", "reveal": "reviewer", "admin": "admin"}
        return USER_ROLES.index(self.role) >= USER_ROLES.index(need[action])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def find_user(s: Session, username: str) -> User | None:
    """The user with this login name, whatever its case (surrounding spaces ignored).

    Names are folded to lower case when created (:func:`create_user`), so
    ``Rita`` and ``rita`` are one user. A user stored before that with capitals
    is still found by any case; should two such old names differ only by case,
    the one typed exactly wins, and no new one can be added beside them.
    """
    typed = username.strip()
    return s.scalar(
        sa.select(User)
        .where(sa.func.lower(User.username) == typed.lower())
        .order_by((User.username == typed).desc(), User.id)
        .limit(1)
    )


def create_user(
    s: Session, username: str, password: str, role: str, display_name: str = ""
) -> User:
    """Add a user; refuses an unknown role, a taken name or a short password.

    The name is stored in lower case (``display_name`` keeps the person's
    spelling) and must be 1-64 ASCII letters, digits, '.', '_' or '-': a
    look-alike letter from another alphabet would make a second "admin" that
    nobody can tell from the first in the audit log.

    Raises
    ------
    UserError
        Saying which field is unusable and what was expected.
    """
    username = username.strip()
    if not USERNAME.fullmatch(username):
        raise UserError(
            f"username: expected 1-64 ASCII letters, digits, '.', '_' or '-', found {username!a}"
        )
    if role not in USER_ROLES:
        raise UserError(f"role: expected one of {', '.join(USER_ROLES)}, found {role!r}")
    check_password(password)
    if find_user(s, username) is not None:
        raise UserError(f"username {username.lower()!r} is taken")
    user = User(
        username=username.lower(),
        display_name=display_name or username.lower(),
        role=role,
        password_hash=hash_password(password),
    )
    s.add(user)
    s.flush()
    return user


def check_password(password: str) -> None:
    """Refuse a password too short to be one (:data:`MIN_PASSWORD` characters)."""
    if len(password) < MIN_PASSWORD:
        raise UserError(
            f"password: expected at least {MIN_PASSWORD} characters, found {len(password)}"
        )


def set_password(s: Session, user: User, password: str) -> int:
    """Give ``user`` a new password and end their sessions; how many were ended.

    Whoever held a session under the old password (perhaps the reason for
    the reset) is logged out with it.

    Raises
    ------
    UserError
        A password shorter than :data:`MIN_PASSWORD`; nothing is changed.
    """
    check_password(password)
    user.password_hash = hash_password(password)
    return end_user_sessions(s, user)


def set_active(s: Session, user: User, active: bool) -> int:
    """Enable or disable ``user``; disabling ends their sessions. How many were ended.

    A disabled user's sessions are refused anyway (:func:`session_user`), but
    are deleted too, so enabling the user again does not bring them back.
    """
    user.active = active
    return 0 if active else end_user_sessions(s, user)


def end_user_sessions(s: Session, user: User) -> int:
    """Delete every session of ``user``; how many there were."""
    where = WebSession.user_id == user.id
    count = s.scalar(sa.select(sa.func.count()).select_from(WebSession).where(where)) or 0
    s.execute(sa.delete(WebSession).where(where))
    return int(count)


def authenticate(s: Session, username: str, password: str) -> User | None:
    """The active user with this name (any case) and password, else None (same cost either way)."""
    user = find_user(s, username)
    try:
        if user is None or not user.active:
            _hasher.verify(_DUMMY, password + "x")
            return None
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(s: Session, user: User, hours: int = SESSION_HOURS) -> tuple[str, Who]:
    """A new session for ``user``: the token for the cookie (shown once) and who it is."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    s.add(
        WebSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    s.flush()
    return token, Who(user.id, user.username, user.display_name, user.role, csrf)


def session_user(s: Session, token: str | None) -> Who | None:
    """Who holds this session token, if it is known, unexpired and its user active."""
    if not token or len(token) > 128:
        return None
    row = s.execute(
        sa.select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    sess, user = row
    expires = sess.expires_at if sess.expires_at.tzinfo else sess.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC) or not user.active:
        return None
    return Who(user.id, user.username, user.display_name, user.role, sess.csrf_token)


def end_session(s: Session, token: str | None) -> None:
    if token:
        s.execute(sa.delete(WebSession).where(WebSession.token_hash == _digest(token)))


def csrf_ok(who: Who, sent: str | None) -> bool:
    """Whether a request echoed its session's CSRF token (constant-time comparison)."""
    return bool(sent) and hmac.compare_digest(who.csrf_token.encode(), str(sent).encode())
