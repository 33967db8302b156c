"""Fixtures of the case store tests: a fresh store on SQLite or PostgreSQL, users, cases by hand.

Every store test runs twice, on a SQLite file and on a fresh PostgreSQL schema
(``database_url_pg`` in ``tests/service/conftest.py``; skipped, saying so, when
PostgreSQL is not reachable).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from case_data import USERS

from service.cases.db import CaseStore
from service.cases.models import User
from service.cases.security import Who


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cases.db'}"
    return str(request.getfixturevalue("database_url_pg"))


@pytest.fixture
def case_store(db_url: str) -> Iterator[CaseStore]:
    store = CaseStore(db_url)
    yield store
    store.dispose()


@pytest.fixture
def who(case_store: CaseStore) -> dict[str, Who]:
    """The seeded users as the routes pass them (the password hash is never checked here)."""
    out = {}
    with case_store.session() as s:
        for name, role in USERS.items():
            user = User(
                username=name,
                display_name=name.title(),
                role=role,
                password_hash="not-a-hash",
                active=name != "nina",
            )
            s.add(user)
            s.flush()
            out[name] = Who(user.id, name, user.display_name, role, "csrf")
    return out
