"""The case store: flagged dossiers, the team's verdicts and assignments, users, the audit log.

- :mod:`service.cases.db`: the store (SQLite or PostgreSQL, migrated on opening);
- :mod:`service.cases.queue`: the queue, one case, verdicts, assignments, the dashboard;
- :mod:`service.cases.actors`: cases by actor (an account, device, officer, unit-month...),
  their queue, one actor, one verdict on all its dossiers;
- :mod:`service.cases.load`: a batch run's flags into cases (``detector score --to-db``);
- :mod:`service.cases.feeder`: the scoring API's flags into cases;
- :mod:`service.cases.labels`: verdicts as training labels (``train --labels-from-db``);
- :mod:`service.cases.security` and :mod:`service.cases.audit`: users, sessions, the log.

The batch load and the feeder pull in the scorer; they are imported on first use, so
opening the store or reading the queue stays light. The queue function itself is
``service.cases.queue.queue`` (the package's ``queue`` is the module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from service.cases.db import CaseStore
from service.cases.labels import merge_labels, verdict_labels
from service.cases.queue import (
    CaseError,
    CaseForbidden,
    CaseInputError,
    CaseNotFound,
    QueueFilter,
    QueuePage,
    assign,
    case_detail,
    export_rows,
    record_verdict,
    unit_dashboard,
    units,
)

if TYPE_CHECKING:
    from service.cases.feeder import CaseFeeder
    from service.cases.load import LoadSummary, load_batch

__all__ = [
    "CaseError",
    "CaseFeeder",
    "CaseForbidden",
    "CaseInputError",
    "CaseNotFound",
    "CaseStore",
    "LoadSummary",
    "QueueFilter",
    "QueuePage",
    "assign",
    "case_detail",
    "export_rows",
    "load_batch",
    "merge_labels",
    "record_verdict",
    "unit_dashboard",
    "units",
    "verdict_labels",
]

_LAZY = {"CaseFeeder": "feeder", "LoadSummary": "load", "load_batch": "load"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"service.cases.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'service.cases' has no attribute {name!r}")
