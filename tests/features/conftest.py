"""Fixtures for the features tests; the hand-made data itself is in ``hand_made.py``."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which leaves sys.path alone; the tests
# import the hand-made data as a plain module from this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from hand_made import BASE, Tables, write_folder


@pytest.fixture
def tables() -> Tables:
    """A fresh deep copy of the clean ``BASE`` world, to change one thing in."""
    return copy.deepcopy(BASE)


@pytest.fixture
def folder_of(tmp_path: Path) -> Callable[..., Path]:
    """Write tables to a new folder under tmp_path and return it."""
    counter = iter(range(1000))

    def make(tables: Tables, fmt: str = "csv") -> Path:
        return write_folder(tmp_path / f"data{next(counter)}", tables, fmt)

    return make
