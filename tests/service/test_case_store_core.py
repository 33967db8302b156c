"""The case store's foundations: migrations, append-only audit, passwords, sessions, CSRF.

Run on SQLite and, when reachable, PostgreSQL (a fresh schema per test).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.cases import audit, security
from service.cases.db import CaseStore
from service.cases.models import AuditEntry, User, WebSession


@pytest.fixture
def store(database_url: str | None, tmp_path: Path) -> CaseStore:
    st = CaseStore(database_url or f"sqlite:///{tmp_path / 'cases.db'}")
    yield st
    st.dispose()


def test_migrations_create_every_table_and_run_twice(store: CaseStore) -> None:
    again = CaseStore(engine=store.engine)  # a second start must find nothing to do
    names = set(sa.inspect(again.engine).get_table_names())
    expected = {"users", "web_sessions", "cases", "verdicts", "assignments", "audit_log"}
    assert expected | {"unit_months", "officer_months", "case_store_version"} <= names


def test_the_migrations_build_what_the_models_declare(store: CaseStore) -> None:
    # the models are what the code queries; the migrations are what a database gets
    from service.cases.models import Base

    inspector = sa.inspect(store.engine)
    for table in Base.metadata.sorted_tables:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.columns} <= columns, table.name
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        assert {i.name for i in table.indexes} <= indexes, table.name


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_rewrite_the_audit_log(store: CaseStore, statement: str) -> None:
    with store.session() as s:
        audit.record(s, None, "login_failed", username="mallory", ip="10.0.0.1")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as c:
        c.execute(sa.text(statement))
    with store.session() as s:
        (entry,) = s.scalars(sa.select(AuditEntry))
        assert (entry.action, entry.username) == ("login_failed", "mallory")


def test_an_unknown_audit_action_is_a_programming_error(store: CaseStore) -> None:
    with pytest.raises(ValueError, match="unknown audit action 'peek'"), store.session() as s:
        audit.record(s, None, "peek")


def test_passwords_are_argon2id_and_only_the_right_one_logs_in(store: CaseStore) -> None:
    with store.session() as s:
        user = security.create_user(s, "thu.nguyen", "mật khẩu đủ dài", "reviewer")
        assert user.password_hash.startswith("$argon2id$")
        assert "mật khẩu" not in user.password_hash
    with store.session() as s:
        assert security.authenticate(s, "thu.nguyen", "mật khẩu đủ dài") is not None
        assert security.authenticate(s, "thu.nguyen", "mật khẩu đủ dàI") is None
        assert security.authenticate(s, "nobody", "mật khẩu đủ dài") is None


@pytest.mark.parametrize(
    ("username", "password", "role", "match"),
    [
        ("a b", "long enough pw", "viewer", "username"),
        ("anna", "short", "viewer", "at least 10"),
        ("anna", "long enough pw", "superuser", "role: expected one of viewer, reviewer, admin"),
    ],
)
def test_bad_users_are_refused_with_the_field_named(
    store: CaseStore, username: str, password: str, role: str, match: str
) -> None:
    with pytest.raises(security.UserError, match=match), store.session() as s:
        security.create_user(s, username, password, role)


def test_a_taken_username_is_refused(store: CaseStore) -> None:
    with store.session() as s:
        security.create_user(s, "anna", "long enough pw", "viewer")
    with pytest.raises(security.UserError, match="taken"), store.session() as s:
        security.create_user(s, "anna", "another long pw", "admin")


@pytest.mark.parametrize(
    "username",
    [
        "\u0430dmin",  # Cyrillic а: looks like "admin"
        "adm\u0131n",  # Turkish dotless ı
        "\uff41dmin",  # fullwidth ａ
        "r\u00e9viewer",  # é: a letter, but not an ASCII one
        "admin\u0661",  # Arabic-Indic digit one: a digit to str.isalnum
    ],
)
def test_look_alike_usernames_are_refused(store: CaseStore, username: str) -> None:
    """Every one of these passed ``str.isalnum``: a second "admin" an inspector could not
    tell from the first in the audit log or the assignee list."""
    with store.session() as s:
        security.create_user(s, "admin", "long enough pw", "admin")
    with (
        pytest.raises(security.UserError, match="ASCII letters, digits") as refused,
        store.session() as s,
    ):
        security.create_user(s, username, "long enough pw", "admin")
    assert ascii(username) in str(refused.value)  # what was found, "\\u0430dmin": it shows


def test_usernames_are_one_whatever_their_case(store: CaseStore) -> None:
    """Stored folded to lower case, looked up without regard to case, so ``Anna`` and
    ``anna`` can never be two users, and the login name may be typed either way."""
    with store.session() as s:
        user = security.create_user(s, "Anna.Tran", "long enough pw", "viewer", "Anna Trần")
        assert (user.username, user.display_name) == ("anna.tran", "Anna Trần")
    with pytest.raises(security.UserError, match="taken"), store.session() as s:
        security.create_user(s, "ANNA.TRAN", "another long pw", "admin")
    with store.session() as s:
        for typed in ("anna.tran", "ANNA.Tran", " Anna.Tran "):
            found = security.authenticate(s, typed, "long enough pw")
            assert found is not None and found.username == "anna.tran", typed


def test_a_user_stored_before_folding_still_logs_in_by_any_case(store: CaseStore) -> None:
    """A user created before names were folded may be stored as ``Binh``; it is still one
    user: found whatever the case typed, and ``binh`` cannot be created beside it."""
    with store.session() as s:
        s.add(User(username="Binh", role="viewer",
                            password_hash=security.hash_password("long enough pw")))  # fmt: skip
    with store.session() as s:
        found = security.authenticate(s, "binh", "long enough pw")
        assert found is not None and found.username == "Binh"
    with pytest.raises(security.UserError, match="taken"), store.session() as s:
        security.create_user(s, "binh", "another long pw", "admin")


def test_sessions_keep_only_a_hash_and_expire(store: CaseStore) -> None:
    with store.session() as s:
        user = security.create_user(s, "anna", "long enough pw", "viewer")
        token, who = security.start_session(s, user)
    with store.session() as s:
        (row,) = s.scalars(sa.select(WebSession))
        assert token not in row.token_hash  # a copy of the database does not log anyone in
        assert security.session_user(s, token) == who
        assert security.session_user(s, token + "x") is None
        assert security.session_user(s, None) is None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with store.session() as s:
        assert security.session_user(s, token) is None
        security.end_session(s, token)
        assert s.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 0


def test_csrf_tokens_must_match_the_session() -> None:
    who = security.Who(1, "anna", "Anna", "viewer", "tok-123")
    assert security.csrf_ok(who, "tok-123")
    assert not security.csrf_ok(who, "tok-124")
    assert not security.csrf_ok(who, None)
    assert not security.csrf_ok(who, "")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {"read"}),
        ("reviewer", {"read", "write", "reveal"}),
        ("admin", {"read", "write", "reveal", "admin"}),
    ],
)
def test_what_each_role_may_do(role: str, allowed: set[str]) -> None:
    who = security.Who(1, "u", "u", role, "t")
    assert {a for a in ("read", "write", "reveal", "admin") if who.may(a)} == allowed
