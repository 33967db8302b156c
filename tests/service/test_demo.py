"""What ``make run`` prepares before serving: local API keys and workbench logins (made once)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from service import demo
from service.cases.db import CaseStore
from service.cases.security import authenticate


def test_local_logins_are_made_once_and_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DETECTOR_STATE_DIR", str(tmp_path / "state"))
    first = demo.logins(tmp_path)
    again = demo.logins(tmp_path)  # a second `make run` keeps them
    assert first == again
    assert [(name, role) for name, role, _ in first] == [
        ("admin", "admin"),
        ("reviewer", "reviewer"),
        ("viewer", "viewer"),
    ]
    assert stat.S_IMODE((tmp_path / "logins.txt").stat().st_mode) == 0o600
    store = CaseStore(f"sqlite:///{tmp_path / 'state' / 'detector.db'}")
    with store.session() as s:
        for name, role, password in first:
            user = authenticate(s, name, password)
            assert user is not None and user.role == role
        assert authenticate(s, "admin", first[1][2]) is None  # passwords differ per user
    store.dispose()


def test_local_api_keys_are_made_once(tmp_path: Path) -> None:
    portal, admin = demo.keys(tmp_path)
    assert demo.keys(tmp_path) == (portal, admin) and portal != admin
    assert len(portal) >= 16
