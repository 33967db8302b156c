"""The real command line, run as a subprocess: exit codes, messages, damaged inputs.

Exit codes: 0 ok, 2 unusable input, 1 internal error. Whatever the input, the
user sees a report or one line, never a traceback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_run import run_cli

from detector.simulate import Province


def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, timeout=timeout, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    # progress lines ("[  1.2 s] reading the data folder") may come first when stderr is a pipe
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    return lines[0]


@pytest.fixture()
def copy(province_dir: Path, tmp_path: Path) -> Path:
    """A copy of the small province's data folder, ours to damage."""
    dst = tmp_path / "data"
    shutil.copytree(province_dir / "data", dst)
    return dst


def _report(path: Path) -> dict:
    return json.loads(path.read_text())


def _count(report: dict, code: str, table: str | None = None, column: str | None = None) -> int:
    return sum(
        f["count"]
        for f in report["findings"]
        if f["code"] == code
        and (table is None or f["table"] == table)
        and (column is None or f["column"] == column)
    )


# ----------------------------------------------------------------- simulate
def test_simulate_writes_a_province_and_says_where(tmp_path: Path) -> None:
    proc = run("simulate", tmp_path / "p", "--dossiers", 1500, "--months", 2, "--seed", 4)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "p" / "data") in proc.stdout
    assert (tmp_path / "p" / "labels.csv").exists()
    assert "identity_misuse" in proc.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["simulate"], "Missing argument"),
        (["simulate", "x", "--dossiers", "abc"], "--dossiers"),
        (["simulate", "x", "--dossiers", "10"], "at least 200"),
        (["simulate", "x", "--start", "yesterday"], "YYYY-MM-DD"),
        (["simulate", "x", "--format", "xlsx"], "csv or parquet"),
        (["nonsense"], "No such command"),
        (["validate", "/definitely/not/here"], "not/here"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    args = [a if a != "x" else str(tmp_path / "x") for a in args]
    proc = run(*args)
    assert proc.returncode == 2
    assert expected in one_line_error(proc)


# ----------------------------------------------------------------- validate
def test_validate_reports_the_simulated_dirt(
    province_dir: Path, province: Province, tmp_path: Path
) -> None:
    out = tmp_path / "q.json"
    proc = run("validate", province_dir / "data", "--json", out, "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    rep = _report(out)
    dirt = province.manifest["dirt_counts"]
    tables = rep["tables"]
    distinct = province.tables["dossiers"]["dossier_id"].nunique()
    assert tables["dossiers"]["rows_kept"] + tables["dossiers"]["rows_rejected"] == distinct
    assert _count(rep, "duplicate_row", "dossiers") == dirt["duplicated_rows"]
    written = province.tables["dossiers"]["submitted_at"]  # duplicated rows count as read
    naive = written.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", na=False).sum()
    assert naive >= dirt["timestamp_no_offset"]
    assert _count(rep, "timestamp_without_offset", "dossiers", "submitted_at") == naive
    assert _count(rep, "person_id_repaired", "dossiers", "owner_id") >= dirt["owner_id_lost_zero"]
    written_rows = province.tables["dossiers"]["ip"]
    bad_ips = written_rows.isin(["unknown", "300.12.1.1", "192.168.1", "::ffff:zz", "0"]).sum()
    assert bad_ips >= dirt["bad_ip"]
    assert _count(rep, "bad_ip", "dossiers", "ip") == bad_ips
    assert _count(rep, "synced_before_submitted") >= dirt["synced_before_submitted"]
    assert _count(rep, "person_id_century_sex_mismatch") >= dirt["people_sex_contradiction"]
    # names typed without diacritics, in capitals or with extra spaces still match; typos do not
    typos = dirt["owner_name_typo"]
    assert typos > 0
    # (some typed names are blanked later, some owners are not in the extract)
    assert 0.8 * typos <= _count(rep, "owner_name_mismatch", "dossiers") <= typos * 1.2 + 5
    assert _count(rep, "bad_enum", "dossiers", "channel") >= dirt["bad_channel"]
    # the report shows no personal data in clear
    text = out.read_text()
    for pid in province.tables["people"]["person_id"].head(2000):
        assert pid not in text


def test_validate_prints_a_vietnamese_report_by_default(province_dir: Path) -> None:
    proc = run("validate", province_dir / "data")
    assert proc.returncode == 0
    assert "Phát hiện" in proc.stdout and "dossiers" in proc.stdout


def test_missing_required_column_stops_with_one_line(copy: Path) -> None:
    d = pd.read_csv(copy / "dossiers.csv", dtype=str, keep_default_na=False)
    d.drop(columns=["submitted_at"]).to_csv(copy / "dossiers.csv", index=False)
    proc = run("validate", copy)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "dossiers.csv" in line and "submitted_at" in line


def test_missing_required_table_stops_with_one_line(copy: Path) -> None:
    (copy / "accounts.csv").unlink()
    proc = run("validate", copy)
    assert proc.returncode == 2
    assert "accounts" in one_line_error(proc)


def test_missing_optional_tables_are_reported_with_what_they_disable(
    copy: Path, tmp_path: Path
) -> None:
    for name in ("people", "relations", "counter_visits"):
        (copy / f"{name}.csv").unlink()
    out = tmp_path / "q.json"
    proc = run("validate", copy, "--json", out)
    assert proc.returncode == 0, proc.stderr
    rep = _report(out)
    absent = {f["table"]: f for f in rep["findings"] if f["code"] == "table_absent"}
    assert set(absent) == {"people", "relations", "counter_visits"}
    assert "household" in absent["people"]["message_en"].lower()


def test_garbage_rows_are_skipped_and_counted_and_good_rows_kept(
    copy: Path, tmp_path: Path
) -> None:
    n_before = sum(1 for _ in (copy / "dossiers.csv").open()) - 1
    with (copy / "dossiers.csv").open("a") as fh:
        fh.write("garbage,with,too,few,fields\n")
        fh.write(",".join(["x"] * 40) + "\n")
        fh.write("\n")
    out = tmp_path / "q.json"
    proc = run("validate", copy, "--json", out)
    assert proc.returncode == 0, proc.stderr
    rep = _report(out)
    assert _count(rep, "bad_csv_row", "dossiers") == 2
    t = rep["tables"]["dossiers"]
    assert t["rows_kept"] + t["rows_rejected"] + t["rows_merged"] == n_before


def test_wrong_types_are_reported_not_fatal(copy: Path, tmp_path: Path) -> None:
    acc = pd.read_csv(copy / "accounts.csv", dtype=str, keep_default_na=False)
    acc.loc[:9, "verification_level"] = "high"
    acc.to_csv(copy / "accounts.csv", index=False)
    units = pd.read_csv(copy / "units.csv", dtype=str, keep_default_na=False)
    units.loc[0, "online_target"] = "85%"
    units.loc[1, "online_target"] = "lots"
    units.to_csv(copy / "units.csv", index=False)
    # an export tool that turned IDs into numbers, in Parquet (which wins over CSV)
    people = pd.read_csv(copy / "people.csv", dtype=str, keep_default_na=False)
    people["person_id"] = people["person_id"].astype(np.int64)
    people.to_parquet(copy / "people.parquet", index=False)
    out = tmp_path / "q.json"
    proc = run("validate", copy, "--json", out)
    assert proc.returncode == 0, proc.stderr
    rep = _report(out)
    assert _count(rep, "bad_number", "accounts", "verification_level") == 10
    assert _count(rep, "percent_value", "units", "online_target") == 1
    assert _count(rep, "bad_number", "units", "online_target") == 1
    assert _count(rep, "id_stored_as_number", "people", "person_id") > 0
    assert rep["tables"]["people"]["file_format"] == "parquet"


def test_fifty_megabytes_of_garbage_is_a_clear_error(copy: Path) -> None:
    rng = np.random.default_rng(50)
    (copy / "dossiers.csv").write_bytes(
        rng.integers(0, 256, 50 * 1024 * 1024, dtype=np.uint8).tobytes()
    )
    proc = run("validate", copy, timeout=120)
    assert proc.returncode == 2
    assert "dossiers.csv" in one_line_error(proc)


# ----------------------------------------------------------------- a folder without dossiers
@pytest.fixture()
def no_dossiers(copy: Path) -> Path:
    """The copy with a dossiers.csv of its header only: a month without dossiers."""
    with (copy / "dossiers.csv").open(encoding="utf-8") as fh:
        header = fh.readline()
    (copy / "dossiers.csv").write_text(header, encoding="utf-8")
    return copy


def test_validate_says_the_dossiers_table_has_no_rows(no_dossiers: Path, tmp_path: Path) -> None:
    # a warning, not a failure: the folder follows the contract and score/report run on it
    out = tmp_path / "q.json"
    proc = run("validate", no_dossiers, "--json", out, "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    [finding] = [f for f in _report(out)["findings"] if f["code"] == "no_dossiers"]
    assert finding["severity"] == "warning" and finding["table"] == "dossiers"
    assert "nothing to score" in finding["message_en"]
    assert "không có hồ sơ" in finding["message_vi"]
    assert "no_dossiers" in proc.stdout and "nothing to score" in proc.stdout
    proc = run("validate", no_dossiers)  # the Vietnamese report says it too
    assert proc.returncode == 0 and "không có hồ sơ" in proc.stdout


@pytest.mark.parametrize("at", ["review", "submission"])
def test_score_of_no_dossiers_writes_the_columns_and_says_0(
    no_dossiers: Path, model_dir: Path, tmp_path: Path, at: str
) -> None:
    out = tmp_path / "scores.csv"
    proc = run("score", no_dossiers, "--model", model_dir, "--out", out, "--at", at, "--details")
    assert proc.returncode == 0, proc.stderr
    assert f"0 dossiers scored at {at}, 0 flagged" in proc.stdout
    scores = pd.read_csv(out)
    assert len(scores) == 0
    assert list(scores.columns[:5]) == [
        "dossier_id",
        "risk_score",
        "proxy_type",
        "flagged",
        "reasons",
    ]
    assert "p_officer_proxy" in scores.columns  # --details adds its columns, empty too


def test_report_of_no_dossiers_writes_the_columns_and_says_0(
    no_dossiers: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "units.csv"
    proc = run("report", no_dossiers, "--model", model_dir, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "0 dossiers" in proc.stdout
    units = pd.read_csv(out)
    assert len(units) == 0
    assert list(units.columns[:6]) == [
        "unit_id",
        "month",
        "dossiers",
        "claimed_online_share",
        "estimated_genuine_online_share",
        "suspected_officer_proxy",
    ]
    officers = pd.read_csv(tmp_path / "units_officers.csv")
    assert len(officers) == 0 and "staff_id" in officers.columns


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (["train"], ["--out", "MODEL"]),
        (["rules", "backtest"], []),
        (["evaluate"], ["--out", "EVAL"]),
    ],
)
def test_learning_from_no_dossiers_stops_in_one_line(
    no_dossiers: Path,
    province_dir: Path,
    tmp_path: Path,
    command: list[str],
    options: list[str],
) -> None:
    options = [str(tmp_path / o) if o.isupper() else o for o in options]
    proc = run(*command, no_dossiers, *options, "--labels", province_dir / "labels.csv")
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "dossiers.csv" in line and "nothing to learn from" in line
    assert not (tmp_path / "MODEL").exists() and not (tmp_path / "EVAL").exists()


@pytest.mark.parametrize("command", ["validate", "score", "report", "train"])
def test_a_zero_byte_dossiers_file_is_one_line_and_exit_2(
    copy: Path, province_dir: Path, model_dir: Path, tmp_path: Path, command: str
) -> None:
    (copy / "dossiers.csv").write_bytes(b"")
    extra = {
        "validate": [],
        "score": ["--model", model_dir, "--out", tmp_path / "s.csv"],
        "report": ["--model", model_dir, "--out", tmp_path / "r.csv"],
        "train": ["--labels", province_dir / "labels.csv", "--out", tmp_path / "model"],
    }[command]
    proc = run(command, copy, *extra)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "dossiers.csv: the file is empty; expected a CSV header row" in line


def test_a_broken_row_past_the_first_mib_is_one_line_without_personal_data(copy: Path) -> None:
    # bad bytes and too few fields: Arrow cannot even decode the row to report it
    assert (copy / "dossiers.csv").stat().st_size > 1 << 20
    with (copy / "dossiers.csv").open("ab") as fh:
        fh.write(b"D-BROKEN,1.001193,U001,online,,079095012345,Nguy\xff\xfen V\xe0n An\n")
    proc = run("validate", copy)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert "dossiers.csv: cannot be read as a UTF-8 CSV file" in line
    assert "079095012345" not in line and "An" not in line.split("(")[-1]


@pytest.mark.slow
def test_a_fifty_megabyte_export_is_read_whole(tmp_path: Path) -> None:
    proc = run("simulate", tmp_path / "big", "--dossiers", 200_000, "--months", 6, "--seed", 9)
    assert proc.returncode == 0
    size = (tmp_path / "big" / "data" / "dossiers.csv").stat().st_size
    assert size > 45e6
    out = tmp_path / "q.json"
    proc = run("validate", tmp_path / "big" / "data", "--json", out, timeout=600)
    assert proc.returncode == 0, proc.stderr
    distinct = pd.read_csv(tmp_path / "big" / "labels.csv", dtype=str)["dossier_id"].nunique()
    t = _report(out)["tables"]["dossiers"]
    assert t["rows_kept"] + t["rows_rejected"] == distinct


@pytest.mark.parametrize(
    "args",
    [
        ["score", "D", "--model", "M", "--out", "s.csv", "--to-db"],
        ["train", "D", "--out", "M", "--labels-from-db"],
    ],
)
def test_the_batch_layer_alone_names_what_the_case_store_options_need(
    args: list[str], tmp_path: Path
) -> None:
    # the options are declared once, in detector.cli; the case store behind them is the service's
    proc = subprocess.run(
        [sys.executable, "-m", "detector.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "need the case store, which comes with the service" in one_line_error(proc)


def test_the_service_adds_commands_without_replacing_the_batch_ones() -> None:
    from detector.cli import app as batch_app
    from service import cli as service_cli

    names = [c.name or c.callback.__name__ for c in batch_app.registered_commands if c.callback]
    assert names.count("score") == names.count("train") == 1
    assert {"serve", "api-key"} <= set(names)
    score = next(c for c in batch_app.registered_commands if c.name == "score" or (
        c.callback and c.callback.__name__ == "score"))  # fmt: skip
    assert score.callback is not None and score.callback.__module__ == "detector.cli"
    assert service_cli.detector_cli.case_store is not None
