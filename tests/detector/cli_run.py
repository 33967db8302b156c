"""Run the real ``detector`` command line in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str | Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m service.cli ARGS`` (the ``detector`` console script); whatever happens, the user never sees a traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    output = proc.stderr + proc.stdout
    assert "Traceback" not in output, output[max(0, output.index("Traceback") - 2000) :][:6000]
    return proc
