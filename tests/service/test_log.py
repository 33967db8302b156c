"""The durable log on SQLite and on PostgreSQL (when reachable): append, repeat, read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.log import ScoringLog, log_engine


@pytest.fixture
def scoring_log(database_url: str | None, tmp_path: Path) -> ScoringLog:
    url = database_url or f"sqlite:///{tmp_path / 'log.db'}"
    return ScoringLog(log_engine(url))


def test_a_dossier_is_recorded_once_and_its_answer_kept(scoring_log: ScoringLog) -> None:
    answer = {"dossier_id": "D1", "risk_score": 0.25, "reasons": [{"code": "R101"}]}
    dossier = {"dossier_id": "D1", "owner_name": "Nguyễn Văn Á"}
    assert scoring_log.record("D1", 1_700_000_000, False, dossier, answer, "v1") is True
    # sent again, even with another answer: the first is the one kept
    assert scoring_log.record("D1", 1_700_000_000, False, dossier, {"x": 1}, "v1") is False
    assert scoring_log.answer("D1") == answer
    assert scoring_log.answer("D2") is None
    assert scoring_log.count() == 1


def test_entries_come_back_in_log_order_without_history_dossiers(scoring_log: ScoringLog) -> None:
    for i, in_history in enumerate([False, True, False, False]):
        scoring_log.record(
            f"D{i}", 1_700_000_000 - i, in_history, {"dossier_id": f"D{i}"}, {}, "v1"
        )
    got = list(scoring_log.entries(batch=2))
    assert [d["dossier_id"] for _, d in got] == ["D0", "D2", "D3"]  # D1 was already in the folder
    seqs = [s for s, _ in got]
    assert seqs == sorted(seqs)
    assert [d["dossier_id"] for _, d in scoring_log.entries(after=seqs[0])] == ["D2", "D3"]
    assert scoring_log.last_seq() == max(seqs)


def test_the_log_and_the_case_store_open_the_same_file_with_the_same_settings(
    tmp_path: Path,
) -> None:
    """One engine factory: the shared SQLite file is never opened with two sets of settings."""
    from service.cases.db import CaseStore

    url = f"sqlite:///{tmp_path / 'detector.db'}"
    log_side = log_engine(url)
    store = CaseStore(url)
    pragmas = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")

    def read(engine: Any, name: str) -> object:
        with engine.connect() as conn:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

    assert [read(log_side, p) for p in pragmas] == [read(store.engine, p) for p in pragmas]
    assert [read(log_side, p) for p in pragmas] == ["wal", 1, 10000, 1]
    # only the log defers WAL checkpoints to its own thread
    assert read(log_side, "wal_autocheckpoint") == 0
    assert read(store.engine, "wal_autocheckpoint") == 1000
    store.dispose()
    log_side.dispose()
