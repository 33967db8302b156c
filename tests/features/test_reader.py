"""Reading data folders: files, formats, contract errors, dirty rows."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hand_made import AN, MST, Tables, write_csv

from features import ContractError, UsageError, check_folder, read_dataset, read_labels
from features.contract import LOCAL_TZ, OPTIONAL_TABLES, TABLES

TS = f"datetime64[ns, {LOCAL_TZ}]"


def test_frames_have_exactly_the_contract_columns_and_dtypes(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    for row in tables["dossiers"]:
        row["some_extra_column"] = "ignored"  # columns not in the contract are dropped
    ds = read_dataset(folder_of(tables))
    for name, table in TABLES.items():
        assert list(ds[name].columns) == table.column_names
    d = ds["dossiers"]
    assert str(d["submitted_at"].dtype) == TS
    assert d["dossier_id"].dtype == "str"
    assert str(ds["people"]["birth_date"].dtype) == "datetime64[ns]"
    assert str(ds["accounts"]["verification_level"].dtype) == "Int64"
    assert str(ds["units"]["online_target"].dtype) == "float64"
    # IDs keep their leading zeros; timestamps keep their local wall time
    assert d.loc[0, "owner_id"] == AN
    assert d.loc[0, "submitted_at"] == pd.Timestamp("2025-03-14T08:12:45+07:00")
    assert ds.sources["dossiers"].name == "dossiers.csv"


def test_missing_folder() -> None:
    with pytest.raises(ContractError, match="data folder not found"):
        read_dataset("/nonexistent/folder")


def test_missing_required_table(tables: Tables, folder_of: Callable[..., Path]) -> None:
    del tables["accounts"]
    with pytest.raises(ContractError, match=r"required table 'accounts' is missing"):
        read_dataset(folder_of(tables))


def test_missing_required_column_names_file_column_and_what_was_found(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    for row in tables["dossiers"]:
        del row["submitted_at"]
    with pytest.raises(ContractError) as caught:
        read_dataset(folder_of(tables))
    message = str(caught.value)
    assert message.startswith("dossiers.csv: required column 'submitted_at' is missing")
    assert "(found: dossier_id, procedure_code, unit_id, channel, synced_at" in message
    assert "\n" not in message


def test_missing_required_column_in_parquet(tables: Tables, folder_of: Callable[..., Path]) -> None:
    for row in tables["accounts"]:
        del row["holder_id"]
    with pytest.raises(ContractError, match=r"accounts\.parquet: required column 'holder_id'"):
        read_dataset(folder_of(tables, fmt="parquet"))


def test_random_bytes_are_refused_quickly(tables: Tables, folder_of: Callable[..., Path]) -> None:
    folder = folder_of(tables)
    rng = np.random.default_rng(20250314)
    (folder / "dossiers.csv").write_bytes(rng.bytes(50 * 1024 * 1024))
    start = time.perf_counter()
    with pytest.raises(ContractError, match=r"^dossiers\.csv: not a text file") as caught:
        read_dataset(folder)
    assert time.perf_counter() - start < 5
    assert "\n" not in str(caught.value)


def test_non_utf8_file_is_refused(tables: Tables, folder_of: Callable[..., Path]) -> None:
    # the same CSV saved in a legacy Vietnamese code page (cp1258) is not UTF-8
    folder = folder_of(tables)
    text = (folder / "people.csv").read_text(encoding="utf-8")
    (folder / "people.csv").write_bytes(text.encode("cp1258", errors="replace"))
    with pytest.raises(ContractError, match=r"people\.csv: not UTF-8 text"):
        read_dataset(folder)


def test_invalid_utf8_after_the_header_is_refused(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # the first MiB is valid (checked up front); Arrow finds the bad bytes further on
    tables["units"] += [{**tables["units"][1], "unit_id": f"U{i}"} for i in range(3, 30_000)]
    folder = folder_of(tables)
    assert (folder / "units.csv").stat().st_size > 1 << 20
    with (folder / "units.csv").open("ab") as fh:
        fh.write(b"U9,Ph\xf0\x28ng,commune,,,\n")  # a broken multi-byte sequence
    with pytest.raises(ContractError, match=r"units\.csv: cannot be read as a UTF-8 CSV"):
        read_dataset(folder)


def test_a_broken_row_past_the_first_mib_is_refused_without_its_content(
    tables: Tables, folder_of: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the header check decodes the first MiB; past it, Arrow finds the row with bad bytes and
    # the wrong number of fields, cannot decode it to hand it to the row handler, and fails
    folder = folder_of(tables)
    row = dict(tables["dossiers"][0])
    padding = [{**row, "dossier_id": f"PAD{i:05d}"} for i in range(6000)]
    write_csv(folder / "dossiers.csv", tables["dossiers"] + padding)
    assert (folder / "dossiers.csv").stat().st_size > 1 << 20
    with (folder / "dossiers.csv").open("ab") as fh:
        fh.write(f"D-BROKEN,1.001193,U1,online,,{AN},".encode() + b"Nguy\xff\xfen V\xe0n An\n")
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(
        ContractError, match=r"dossiers\.csv: cannot be read as a UTF-8 CSV"
    ) as info:
        read_dataset(folder)
    assert AN not in str(info.value) and "An" not in str(info.value).split("(")[-1]
    assert "got 7" in str(info.value)  # still says what was wrong with the row
    assert unraisable == []  # nothing printed to stderr behind the one line


def test_empty_file_is_refused(tables: Tables, folder_of: Callable[..., Path]) -> None:
    folder = folder_of(tables)
    (folder / "accounts.csv").write_bytes(b"")
    with pytest.raises(ContractError, match=r"accounts\.csv: the file is empty"):
        read_dataset(folder)


def test_a_header_only_dossiers_file_is_read_and_reported(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # a month without dossiers is not an error: zero rows of the contract's columns, and a finding
    folder = folder_of(tables)
    write_csv(folder / "dossiers.csv", [], list(tables["dossiers"][0]))
    ds = read_dataset(folder)
    assert "dossiers" in ds.present and len(ds["dossiers"]) == 0
    assert list(ds["dossiers"].columns) == TABLES["dossiers"].column_names
    assert str(ds["dossiers"]["submitted_at"].dtype) == TS
    [finding] = ds.report.find("no_dossiers", "dossiers")
    assert finding.severity == "warning"
    assert "0 row(s) read" in finding.message_en and "đọc 0 dòng" in finding.message_vi


def _empty(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(b"")


def _drop_submitted_at(folder: Path) -> None:
    text = (folder / "dossiers.csv").read_text(encoding="utf-8")
    (folder / "dossiers.csv").write_text(text.replace("submitted_at", "sent"), encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_empty("dossiers.csv"), r"dossiers\.csv: the file is empty; expected a CSV header row"),
        (_empty("people.csv"), r"people\.csv: the file is empty"),  # optional tables too
        (lambda f: (f / "accounts.csv").unlink(), r"required table 'accounts' is missing"),
        (_drop_submitted_at, r"dossiers\.csv: required column 'submitted_at' is missing"),
        (_empty("units.parquet"), r"units\.parquet: not a readable Parquet file"),
    ],
    ids=["empty-dossiers", "empty-optional", "no-accounts", "no-column", "bad-parquet"],
)
def test_check_folder_refuses_what_read_dataset_refuses(
    tables: Tables,
    folder_of: Callable[..., Path],
    damage: Callable[[Path], None],
    message: str,
) -> None:
    folder = folder_of(tables)
    check_folder(folder)  # the clean folder passes
    damage(folder)
    with pytest.raises(ContractError, match=message):
        check_folder(folder)
    with pytest.raises(ContractError, match=message):
        read_dataset(folder)


def test_check_folder_passes_what_read_dataset_reads(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    folder = folder_of(tables)
    # a header-only table (a month without dossiers) and dirty rows are read, not refused
    write_csv(folder / "dossiers.csv", [], list(tables["dossiers"][0]))
    with (folder / "accounts.csv").open("a", encoding="utf-8") as fh:
        fh.write("garbage,with,too,few\n")
    check_folder(folder)
    assert read_dataset(folder).report.count("bad_csv_row", "accounts") == 1
    with pytest.raises(ContractError, match="data folder not found"):
        check_folder(folder / "nowhere")


def test_a_text_file_that_is_not_a_csv(tables: Tables, folder_of: Callable[..., Path]) -> None:
    folder = folder_of(tables)
    (folder / "dossiers.csv").write_text("hello world\nthis is not a table\n", encoding="utf-8")
    with pytest.raises(
        ContractError,
        match=r"dossiers\.csv: required column 'dossier_id'.*"
        r"found: hello world",
    ):
        read_dataset(folder)


def test_semicolon_separated_file_gets_a_hint(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # Excel in a comma-decimal locale saves ';'-separated "CSV"
    folder = folder_of(tables)
    text = (folder / "dossiers.csv").read_text(encoding="utf-8")
    (folder / "dossiers.csv").write_text(text.replace(",", ";"), encoding="utf-8")
    with pytest.raises(ContractError, match=r"dossiers\.csv: .*contract requires commas$"):
        read_dataset(folder)


def test_rows_with_wrong_field_count_are_skipped_and_counted(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    folder = folder_of(tables)
    lines = (folder / "dossiers.csv").read_text(encoding="utf-8").splitlines()
    # data row 2 gets 3 extra fields, and a short garbage row goes after row 3
    lines[2] += ",x,y,z"
    lines.insert(4, "garbage,row")
    (folder / "dossiers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = read_dataset(folder)
    (finding,) = ds.report.find("bad_csv_row")
    assert finding.severity == "error" and finding.count == 2
    # records 2 and 4 of the file; 19 fields expected, 22 and 2 found
    assert [(e["record"], e["fields"]) for e in finding.examples] == [(2, 22), (4, 2)]
    assert ds["dossiers"]["dossier_id"].tolist() == ["D1", "D3", "D4"]
    status = ds.report.tables["dossiers"]
    assert (status.rows_read, status.rows_kept, status.rows_skipped) == (5, 3, 2)


def test_csv_details(tables: Tables, folder_of: Callable[..., Path]) -> None:
    # BOM, header names in capitals with spaces, a quoted comma and newline, blank cells
    folder = folder_of(tables)
    rename = {"unit_id": " Unit_ID ", "name": "NAME"}
    rows = [{rename.get(k, k): v for k, v in r.items()} for r in tables["units"]]
    rows[0]["NAME"] = 'Trung tâm, "một cửa"\ntầng 2'
    rows[1]["online_target"] = "   "
    write_csv(folder / "units.csv", rows)
    raw = (folder / "units.csv").read_bytes()
    (folder / "units.csv").write_bytes(b"\xef\xbb\xbf" + raw)
    ds = read_dataset(folder)
    units = ds["units"]
    assert units["unit_id"].tolist() == ["U1", "U2"]  # matched despite case, spaces, BOM
    assert units.loc[0, "name"] == 'Trung tâm, "một cửa"\ntầng 2'
    assert pd.isna(units.loc[1, "online_target"])  # blank is unknown, not an error
    assert ds.report.findings == ()


def test_parquet_wins_over_csv(tables: Tables, folder_of: Callable[..., Path]) -> None:
    folder = folder_of(tables)
    parquet_rows = tables["units"][:1]
    pd.DataFrame(parquet_rows, dtype=object).to_parquet(folder / "units.parquet", index=False)
    ds = read_dataset(folder)
    assert ds.sources["units"].name == "units.parquet"
    assert ds["units"]["unit_id"].tolist() == ["U1"]  # the CSV has U1 and U2
    assert ds.report.tables["units"].file_format == "parquet"


def test_parquet_typed_columns(tables: Tables, folder_of: Callable[..., Path]) -> None:
    folder = folder_of(tables)
    people = pd.DataFrame(tables["people"], dtype=object)
    # IDs stored as int64 lose their zeros: 079095012345 -> 79095012345, 001088... -> 1088...
    people["person_id"] = people["person_id"].astype("int64")
    people["birth_date"] = pd.to_datetime(people["birth_date"]).dt.date
    (folder / "people.csv").unlink()
    pq.write_table(pa.Table.from_pandas(people, preserve_index=False), folder / "people.parquet")
    accounts = pd.DataFrame(tables["accounts"], dtype=object)
    accounts["holder_id"] = accounts["holder_id"].astype("int64")  # MST 0100233488 -> 100233488
    accounts["verification_level"] = accounts["verification_level"].astype("int64")
    # naive timestamps (no zone): read as +07:00
    accounts["created_at"] = pd.to_datetime(accounts["created_at"]).dt.tz_localize(None)
    accounts.to_parquet(folder / "accounts.parquet", index=False)
    ds = read_dataset(folder)
    report = ds.report
    assert ds["people"]["person_id"].tolist()[:2] == [AN, "079195000002"]
    assert ds["people"].loc[3, "person_id"] == "001088000004"  # two zeros restored
    assert report.count("person_id_repaired", "people", "person_id") == 4
    assert report.count("id_stored_as_number", "people", "person_id") == 4
    assert ds["accounts"]["holder_id"].tolist() == [AN, MST, "001088000004"]
    assert report.count("business_id_repaired", "accounts", "holder_id") == 1
    assert ds["accounts"]["verification_level"].tolist() == [2, 2, 1]
    assert ds["accounts"].loc[0, "created_at"] == pd.Timestamp("2024-01-05T10:00:00+07:00")
    assert report.count("timestamp_without_offset", "accounts", "created_at") == 3
    assert str(ds["people"]["birth_date"].dtype) == "datetime64[ns]"
    assert ds["people"].loc[0, "birth_date"] == pd.Timestamp("1995-04-12")
    # once repaired, the IDs join: no unknown holders, no ID problems
    assert report.count("unknown_holder") == 0 and report.count("person_id_not_12_digits") == 0


def test_parquet_utc_timestamps_are_converted(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    folder = folder_of(tables)
    visits = pd.DataFrame(tables["counter_visits"], dtype=object)
    visits["visited_at"] = pd.to_datetime(visits["visited_at"]).dt.tz_convert("UTC")
    (folder / "counter_visits.csv").unlink()
    visits.to_parquet(folder / "counter_visits.parquet", index=False)
    ds = read_dataset(folder)
    visited = ds["counter_visits"].loc[0, "visited_at"]
    assert str(visited.tz) == LOCAL_TZ and visited.hour == 8  # 01:00 UTC = 08:00 local
    assert ds.report.findings == ()


def test_absent_optional_tables(tables: Tables, folder_of: Callable[..., Path]) -> None:
    for name in OPTIONAL_TABLES:
        del tables[name]
    ds = read_dataset(folder_of(tables))
    assert ds.present == frozenset({"dossiers", "accounts"})
    absent = ds.report.find("table_absent")
    assert sorted(f.table for f in absent) == sorted(OPTIONAL_TABLES)
    assert all(f.severity == "info" for f in absent)
    assert "population extract" in next(f for f in absent if f.table == "people").message_en
    people = ds["people"]
    assert len(people) == 0 and list(people.columns) == TABLES["people"].column_names
    assert str(people["birth_date"].dtype) == "datetime64[ns]"
    assert str(ds["counter_visits"]["visited_at"].dtype) == TS
    assert len(ds.rejected["people"]) == 0 and "reason" in ds.rejected["people"]
    assert not ds.report.has_errors


def test_only_requested_tables_are_read(tables: Tables, folder_of: Callable[..., Path]) -> None:
    seen: list[str] = []
    ds = read_dataset(folder_of(tables), tables=["units", "staff"], progress=seen.append)
    assert ds.present == frozenset({"units", "staff"})
    assert len(ds["dossiers"]) == 0
    assert ds.report.findings == ()  # tables not asked for are not "absent"
    assert "reading units.csv" in seen and "reading dossiers.csv" not in seen
    with pytest.raises(UsageError, match="unknown table"):
        read_dataset(folder_of(tables), tables=["dossier"])


def test_read_labels(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    write_csv(path, [
        {"dossier_id": "D1", "proxy_type": "self"},
        {"dossier_id": "D2", "proxy_type": "Officer_Proxy "},  # case and space forgiven
        {"dossier_id": "D3", "proxy_type": "broker"},  # not a proxy type: unusable
        {"dossier_id": "D1", "proxy_type": "self"},  # exact duplicate: merged
        {"dossier_id": "", "proxy_type": "self"},
    ])  # fmt: skip
    labels, report = read_labels(tmp_path)
    assert labels.to_dict("list") == {
        "dossier_id": ["D1", "D2"],
        "proxy_type": ["self", "officer_proxy"],
    }
    assert report.count("unusable_label") == 1
    assert report.count("bad_enum", "labels", "proxy_type") == 1
    assert report.count("duplicate_row") == 1 and report.count("missing_key") == 1
    assert report.tables["labels"].rows_read == 5
    with pytest.raises(ContractError, match="labels file not found"):
        read_labels(tmp_path / "nope.csv")


def _split(folder: Path, name: str, at: int) -> Path:
    """Turn ``<name>.csv`` into a folder ``<name>/`` of two CSV parts, split after data row ``at``."""
    lines = (folder / f"{name}.csv").read_text(encoding="utf-8").splitlines()
    (folder / f"{name}.csv").unlink()
    (folder / name).mkdir()
    header, rows = lines[0], lines[1:]
    (folder / name / "2025-03.csv").write_text("\n".join([header, *rows[:at]]) + "\n", "utf-8")
    (folder / name / "2025-04.csv").write_text("\n".join([header, *rows[at:]]) + "\n", "utf-8")
    return folder


def test_a_table_may_come_as_a_folder_of_parts(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    whole = read_dataset(folder_of(tables))
    parted = read_dataset(_split(folder_of(tables), "dossiers", 2))
    pd.testing.assert_frame_equal(parted["dossiers"], whole["dossiers"])
    assert parted.sources["dossiers"].name == "dossiers" and parted.sources["dossiers"].is_dir()
    assert parted.report.tables["dossiers"].rows_read == whole.report.tables["dossiers"].rows_read
    check_folder(parted.sources["dossiers"].parent)  # the header check reads every part


def test_parquet_parts_are_read_like_one_file(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    folder = folder_of(tables, "parquet")
    whole = read_dataset(folder)
    frame = pq.read_table(folder / "dossiers.parquet")
    (folder / "dossiers.parquet").unlink()
    (folder / "dossiers").mkdir()
    pq.write_table(frame.slice(0, 1), folder / "dossiers" / "part-0.parquet")
    pq.write_table(frame.slice(1), folder / "dossiers" / "part-1.parquet")
    (folder / "dossiers" / "_notes.txt").write_text("not a part")
    pd.testing.assert_frame_equal(read_dataset(folder)["dossiers"], whole["dossiers"])


def test_a_skipped_row_in_a_later_part_keeps_its_number_in_the_whole_table(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    folder = _split(folder_of(tables), "dossiers", 2)
    second = folder / "dossiers" / "2025-04.csv"
    lines = second.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "garbage,row")  # after the part's first data row: record 4 of the table
    second.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = read_dataset(folder)
    (finding,) = ds.report.find("bad_csv_row")
    assert finding.count == 1 and "(expected 19)" in finding.message_en
    assert [(e["record"], e["part"]) for e in finding.examples] == [(4, "2025-04.csv")]
    assert ds["dossiers"]["dossier_id"].tolist() == ["D1", "D2", "D3", "D4"]


def test_a_part_without_a_required_column_is_named(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    folder = _split(folder_of(tables), "dossiers", 2)
    second = folder / "dossiers" / "2025-04.csv"
    lines = second.read_text(encoding="utf-8").splitlines()
    second.write_text("\n".join(line.split(",", 1)[1] for line in lines) + "\n", "utf-8")
    with pytest.raises(ContractError, match=r"^2025-04\.csv: required column 'dossier_id'"):
        read_dataset(folder)
    with pytest.raises(ContractError, match=r"^2025-04\.csv: required column 'dossier_id'"):
        check_folder(folder)


def test_an_empty_table_folder_is_no_table(tables: Tables, folder_of: Callable[..., Path]) -> None:
    folder = folder_of(tables)
    (folder / "accounts.csv").unlink()
    (folder / "accounts").mkdir()
    with pytest.raises(ContractError, match=r"required table 'accounts' is missing"):
        read_dataset(folder)
