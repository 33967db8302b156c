"""Every declaration of the feature registry gives the same value in batch and for one dossier.

Parametrised over the registry (:data:`parity.NAMES`): a new declaration is
covered without touching this file, and a failure names the feature, event
flag, key or data gap that disagrees, with the first dossiers where it does.
The data are the small simulated province: whole, without any optional
table, and with the unknown keys and odd records the simulator never writes
(pandas matches NaN with NaN in merges and lookups; the single-dossier path
must do the same).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from parity import NAMES, columns, differences, unknown_keys, without

from features import read_dataset

OPTIONAL = ("people", "relations", "authorizations", "staff", "units", "counter_visits")
VARIANTS: dict[str, Callable[[Any], tuple[Any, frozenset[str]]]] = {
    "whole": lambda ds: (ds.tables, ds.present),
    "no_optional_table": lambda ds: without(ds, OPTIONAL),
    "unknown_keys": lambda ds: (unknown_keys(ds), ds.present),
}


@pytest.fixture(scope="module")
def sides(province_dir: Path) -> Callable[[str], Any]:
    """Both paths' values for a variant, computed once per module."""
    ds = read_dataset(province_dir / "data")
    done: dict[str, Any] = {}

    def get(variant: str) -> Any:
        if variant not in done:
            done[variant] = columns(*VARIANTS[variant](ds))
        return done[variant]

    return get


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", NAMES)
def test_batch_and_one_dossier_agree(sides: Callable[[str], Any], variant: str, name: str) -> None:
    ids, cols = sides(variant)
    assert differences(name, ids, *cols[name]) == ""


def test_a_disagreement_is_named() -> None:
    # what a failure of the test above reads like: the declaration, then the dossiers
    found = differences("owner_age", ["D1", "D2"], [40.0, float("nan")], [40.0, 41.0])
    assert found == "owner_age: 1 of 2 differ, e.g. D2: batch=nan online=41.0"
