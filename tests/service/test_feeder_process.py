"""``detector serve``'s case feeder process ends with its server, on every kind of stop.

The probe behind issue #14: after ``kill -TERM`` of a ready server, the feeder
kept running with parent 1 for 54 s and more, twice in two tries (uvicorn
raises SIGTERM again after its shutdown, and the default handler ended the
server before it could stop the feeder).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from server_run import Server
from svc import KEYS

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.update(int(x) for x in text)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def _feeder_of(server: Server) -> int:
    assert server.proc is not None
    for pid in _children(server.proc.pid):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:  # not the resource tracker
            return pid
    raise AssertionError("detector serve started no feeder process")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_the_feeder_stops_with_its_server(
    split: dict[str, Any], model_dir: Path, tmp_path: Path, how: signal.Signals
) -> None:
    env = {"DETECTOR_API_KEYS": KEYS, "DETECTOR_STATE_DIR": str(tmp_path), "DATABASE_URL": ""}
    server = Server(split["history"], model_dir, env).start()
    try:
        feeder = _feeder_of(server)
        assert _alive(feeder)
        assert server.proc is not None
        os.kill(server.proc.pid, how)
        server.proc.wait(20)
        assert _gone_within(feeder, 5), f"the feeder outlived its server after {how.name}"
    finally:
        server.stop()
