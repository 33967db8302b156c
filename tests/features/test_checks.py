"""One dossier's ID findings (for the scoring API) are the batch reader's, for the same ID."""

from __future__ import annotations

import pandas as pd
import pytest

from features._private import empty_frame
from features.checks import check_ids, dossier_id_issues
from features.contract import TABLES
from features.normalise import normalise_dossier, normalise_table


def _batch_codes(owner_id: str) -> list[tuple[str, str | None]]:
    """(code, column) of what check_ids finds in a one-dossier folder without people."""
    tables = {name: empty_frame(table) for name, table in TABLES.items()}
    raw = pd.DataFrame(
        [{c.name: None for c in TABLES["dossiers"].columns} | {"owner_id": owner_id}]
    )
    tables["dossiers"], _ = normalise_table(raw, TABLES["dossiers"])
    return [(i.code, i.column) for i in check_ids(tables) if i.n]


@pytest.mark.parametrize(
    ("owner_id", "expected"),
    [
        ("12 34", "owner_id_malformed"),  # issue #13: scored with a gap, and now with its finding
        ("12AB", "owner_id_malformed"),
        ("079123456789", None),  # a citizen ID of HCMC, century digit 1
        ("079 123 456 789", None),  # separators are not a finding (normalised away)
        ("999123456789", "person_id_unknown_province"),
        ("079923456789", "person_id_bad_century_digit"),
        ("0100233488", None),  # a valid tax code
        ("0100233488001", None),  # its branch 001
        ("0100233481", "business_id_invalid"),  # wrong check digit
    ],
)
def test_one_dossier_gets_the_batch_readers_id_findings(
    owner_id: str, expected: str | None
) -> None:
    d, _ = normalise_dossier({"dossier_id": "D1", "owner_id": owner_id})
    found = dossier_id_issues(d)
    assert [(i.code, i.column) for i in found] == _batch_codes(owner_id)
    assert [i.code for i in found] == ([expected] if expected else [])
    assert all(list(i.rows) == [0] for i in found)  # row label 0, as normalise_dossier's issues


def test_an_unknown_owner_id_is_a_data_gap_not_a_finding() -> None:
    d, _ = normalise_dossier({"dossier_id": "D1"})
    assert dossier_id_issues(d) == []
