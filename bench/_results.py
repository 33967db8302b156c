"""Where benchmarks write their figures: ``bench/results/<name>.json``."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def write_results(name: str, **fields: Any) -> Path:
    """Write the machine, the time of measurement and ``fields``; print and return the path."""
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **fields,
    }
    path = Path(__file__).parent / "results" / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {path}")
    return path
