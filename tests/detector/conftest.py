"""Fixtures for the detector tests; the CLI runner is in ``cli_run.py``."""

from __future__ import annotations

import sys
from pathlib import Path

# pytest runs with --import-mode=importlib, which leaves sys.path alone; the tests
# import the CLI runner as a plain module from this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))
