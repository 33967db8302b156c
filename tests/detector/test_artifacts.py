"""The model card is checked against the model it describes, on every load.

An edited card must not show one model while another one scores: each edit
below is refused by :func:`detector.artifacts.load` and by the command line
(exit 2, one line saying what to do).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_run import run_cli

from detector.artifacts import CARD, ModelError, load


@pytest.fixture()
def model_copy(model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the session's trained model, ours to damage."""
    dst = tmp_path / "model"
    shutil.copytree(model_dir, dst)
    return dst


def _edit(model: Path, change: Callable[[dict[str, Any]], None]) -> None:
    card = json.loads((model / CARD).read_text())
    change(card)
    (model / CARD).write_text(json.dumps(card))


def _threshold(value: object) -> Callable[[dict[str, Any]], None]:
    def change(card: dict[str, Any]) -> None:
        card["moments"]["submission"]["threshold"] = value

    return change


def _nudge_threshold(card: dict[str, Any]) -> None:
    # still a valid number, but not the threshold the model flags at
    card["moments"]["submission"]["threshold"] = card["moments"]["submission"]["threshold"] / 2


def _model_version(card: dict[str, Any]) -> None:
    card["model_version"] = "0123456789ab-ba9876543210"


# (edit, what the one-line refusal must say)
EDITS = [
    (_threshold(5.0), r"threshold must be a number in \[0, 1\], found 5\.0"),
    (_threshold(-1), r"threshold must be a number in \[0, 1\], found -1"),
    (_threshold("0.1"), r"threshold must be a number in \[0, 1\], found '0\.1'"),
    (_threshold(None), r"threshold must be a number in \[0, 1\], found None"),
    (_nudge_threshold, r"threshold is .* but the model flags at"),
    (_model_version, r"model_version is '0123456789ab-ba9876543210', expected"),
]
IDS = ["threshold-5", "threshold-minus-1", "threshold-string", "threshold-null", "threshold-off"]
IDS += ["model_version"]


@pytest.mark.parametrize(("change", "message"), EDITS, ids=IDS)
def test_an_edited_card_is_refused_on_load(
    model_copy: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    load(model_copy, "submission")  # the copy as trained loads
    _edit(model_copy, change)
    with pytest.raises(ModelError, match=message) as info:
        load(model_copy, "submission")
    assert "model_card.json" in str(info.value)
    assert "retrain, or restore the card" in str(info.value)


@pytest.mark.parametrize(("change", "message"), EDITS, ids=IDS)
def test_an_edited_card_stops_the_command_line_with_exit_2(
    model_copy: Path,
    province_dir: Path,
    tmp_path: Path,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    _edit(model_copy, change)
    out = tmp_path / "scores.csv"
    proc = run_cli(
        "score", province_dir / "data", "--model", model_copy, "--out", out, "--at", "submission"
    )
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[")]
    assert len(lines) == 1 and "retrain, or restore the card" in lines[0], proc.stderr
    assert not out.exists()


def test_a_model_file_that_cannot_be_unpickled_is_a_model_error(model_copy: Path) -> None:
    # damaged bytes whose digest was written into the card too (so only unpickling can tell)
    path = model_copy / "detector-submission.joblib"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def change(card: dict[str, Any]) -> None:
        card["moments"]["submission"]["sha256"] = digest
        card["model_version"] = "-".join(m["sha256"] for _, m in sorted(card["moments"].items()))

    _edit(model_copy, change)
    with pytest.raises(ModelError, match=r"detector-submission\.joblib: cannot be loaded \(\w+\)"):
        load(model_copy, "submission")
