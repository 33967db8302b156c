"""One test per data-quality finding code: change one cell of the clean world, see one finding.

The clean world (``hand_made.BASE``) gives no finding at all, so the finding
counted in each case can only come from the change the case makes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hand_made import AN, BASE, BINH, Tables

from features import FINDING_CODES, read_dataset
from features.contract import TABLES

Mutation = Callable[[Tables], None]


def put(table: str, index: int, **values: str) -> Mutation:
    """Set cells of row ``index`` of ``table``."""

    def mutate(tables: Tables) -> None:
        tables[table][index].update(values)

    return mutate


def add(table: str, like: int, **values: str) -> Mutation:
    """Append a copy of row ``like`` of ``table`` with some cells changed."""

    def mutate(tables: Tables) -> None:
        tables[table].append({**tables[table][like], **values})

    return mutate


def drop_table(table: str) -> Mutation:
    def mutate(tables: Tables) -> None:
        del tables[table]

    return mutate


def drop_column(table: str, column: str) -> Mutation:
    def mutate(tables: Tables) -> None:
        for row in tables[table]:
            del row[column]

    return mutate


def blank(table: str, column: str) -> Mutation:
    """Empty one column in every row of ``table``."""

    def mutate(tables: Tables) -> None:
        for row in tables[table]:
            row[column] = ""

    return mutate


# (code, table, column, change, expected count); each comment says why that count
CASES: list[tuple[str, str, str | None, Mutation, int]] = [
    # no dossier has an ID, so every row is set aside: one table without a usable dossier
    ("no_dossiers", "dossiers", None, blank("dossiers", "dossier_id"), 1),
    # the relations file is gone: one absent table
    ("table_absent", "relations", None, drop_table("relations"), 1),
    # the device_id column is gone from dossiers: one absent column
    ("column_absent", "dossiers", "device_id", drop_column("dossiers", "device_id"), 1),
    # no "+07:00": read as local time, noted once for D1
    (
        "timestamp_without_offset",
        "dossiers",
        "submitted_at",
        put("dossiers", 0, submitted_at="2025-03-14T08:12:45"),
        1,
    ),
    # day-first date is not ISO 8601
    (
        "bad_timestamp",
        "dossiers",
        "accepted_at",
        put("dossiers", 1, accepted_at="14/03/2025 08:45"),
        1,
    ),
    ("bad_date", "people", "birth_date", put("people", 3, birth_date="29/02/1988"), 1),
    # 1988-02-30 does not exist
    ("bad_date", "staff", "active_from", put("staff", 0, active_from="1988-02-30"), 1),
    ("bad_enum", "dossiers", "channel", put("dossiers", 0, channel="web"), 1),
    ("bad_enum", "people", "sex", put("people", 0, sex="Nam"), 1),
    (
        "bad_number",
        "accounts",
        "verification_level",
        put("accounts", 0, verification_level="two"),
        1,
    ),
    ("percent_value", "units", "online_target", put("units", 0, online_target="85%"), 1),
    # level 3 does not exist; a share above 1 is impossible
    (
        "value_out_of_range",
        "accounts",
        "verification_level",
        put("accounts", 0, verification_level="3"),
        1,
    ),
    ("value_out_of_range", "units", "online_target", put("units", 1, online_target="1.2"), 1),
    ("bad_ip", "dossiers", "ip", put("dossiers", 0, ip="300.1.1.1"), 1),
    ("bad_ip", "accounts", "created_ip", put("accounts", 1, created_ip="2001:ee0::zz"), 1),
    (
        "bad_cidr",
        "units",
        "office_networks",
        put("units", 0, office_networks="10.20.0.0/16;not-a-net"),
        1,
    ),
    # full_name is required and not nullable in the contract
    ("missing_value", "people", "full_name", put("people", 1, full_name=""), 1),
    # a fourth account with no account_id: unusable
    ("missing_key", "accounts", "account_id", add("accounts", 2, account_id=""), 1),
    ("missing_key", "relations", "related_id", put("relations", 0, related_id=""), 1),
    (
        "missing_submitted_at",
        "dossiers",
        "submitted_at",
        put("dossiers", 2, submitted_at="", synced_at=""),
        1,
    ),
    (
        "submitted_at_from_synced_at",
        "dossiers",
        "submitted_at",
        put("dossiers", 2, submitted_at="yesterday"),
        1,
    ),
    # D1 exported twice: merged once
    ("duplicate_row", "dossiers", None, add("dossiers", 0), 1),
    ("duplicate_row", "relations", None, add("relations", 0), 1),
    # D1 again but as a counter dossier: the second one loses
    ("conflicting_duplicate", "dossiers", "dossier_id", add("dossiers", 0, channel="counter"), 1),
    (
        "conflicting_duplicate",
        "people",
        "person_id",
        add("people", 0, full_name="Nguyễn Văn Ba"),
        1,
    ),
    # spreadsheet dropped the leading zero (11 digits) / both zeros of 001 (10 digits)
    ("person_id_repaired", "dossiers", "owner_id", put("dossiers", 0, owner_id="79095012345"), 1),
    ("person_id_repaired", "staff", "person_id", put("staff", 0, person_id="1088000004"), 1),
    ("person_id_not_12_digits", "staff", "person_id", put("staff", 0, person_id="12345"), 1),
    (
        "person_id_unknown_province",
        "counter_visits",
        "person_id",
        put("counter_visits", 0, person_id="099195000002"),
        1,
    ),
    (
        "person_id_bad_century_digit",
        "relations",
        "related_id",
        put("relations", 0, related_id="079505000003"),
        1,
    ),
    # An's ID says male (digit 0) but the extract now says female
    ("person_id_century_sex_mismatch", "people", "person_id", put("people", 0, sex="F"), 1),
    # An's ID says born '95 but the extract now says 1996
    (
        "person_id_birth_year_mismatch",
        "people",
        "person_id",
        put("people", 0, birth_date="1996-04-12"),
        1,
    ),
    # stdnum's invalid-checksum example, as a second business
    (
        "business_id_invalid",
        "businesses",
        "business_id",
        add("businesses", 0, business_id="0100233480"),
        1,
    ),
    ("business_id_invalid", "dossiers", "owner_id", put("dossiers", 2, owner_id="0100233489"), 1),
    # an old identity-card label is neither a CCCD nor an MST
    ("owner_id_malformed", "dossiers", "owner_id", put("dossiers", 0, owner_id="CMND 1234"), 1),
    (
        "owner_id_malformed",
        "authorizations",
        "grantor_id",
        put("authorizations", 0, grantor_id="n/a"),
        1,
    ),
    # a business account held by a citizen ID
    (
        "holder_type_mismatch",
        "accounts",
        "holder_id",
        put("accounts", 0, account_type="business"),
        1,
    ),
    ("unknown_reference", "dossiers", "account_id", put("dossiers", 0, account_id="A999"), 1),
    ("unknown_reference", "dossiers", "unit_id", put("dossiers", 1, unit_id="U9"), 1),
    ("unknown_reference", "dossiers", "received_by", put("dossiers", 1, received_by="S9"), 1),
    (
        "unknown_reference",
        "dossiers",
        "authorization_id",
        put("dossiers", 3, authorization_id="M9"),
        1,
    ),
    ("unknown_reference", "staff", "unit_id", put("staff", 0, unit_id="U9"), 1),
    ("unknown_reference", "counter_visits", "unit_id", put("counter_visits", 0, unit_id="U9"), 1),
    # a valid-looking CCCD and a valid MST that the extracts do not contain
    ("unknown_owner", "dossiers", "owner_id", put("dossiers", 0, owner_id="079095099999"), 1),
    ("unknown_owner", "dossiers", "owner_id", put("dossiers", 2, owner_id="0314409058"), 1),
    ("unknown_holder", "accounts", "holder_id", put("accounts", 2, holder_id="079095099999"), 1),
    # D2 submitted 08:30, accepted 08:00
    (
        "accepted_before_submitted",
        "dossiers",
        "accepted_at",
        put("dossiers", 1, accepted_at="2025-03-14T08:00:00+07:00"),
        1,
    ),
    (
        "synced_before_submitted",
        "dossiers",
        "synced_at",
        put("dossiers", 2, synced_at="2025-03-15T13:00:00+07:00"),
        1,
    ),
    # A1 now created on 03-18: D1 (03-14) came before it, D4 (03-20) after
    (
        "account_created_after_use",
        "dossiers",
        "account_id",
        put("accounts", 0, created_at="2025-03-18T00:00:00+07:00"),
        1,
    ),
    ("death_before_birth", "people", "death_date", put("people", 3, death_date="1980-01-01"), 1),
    ("birth_in_future", "people", "birth_date", put("people", 2, birth_date="2200-01-01"), 1),
    (
        "active_to_before_active_from",
        "staff",
        "active_to",
        put("staff", 0, active_to="2019-12-31"),
        1,
    ),
    (
        "mandate_ends_before_start",
        "authorizations",
        "valid_to",
        put("authorizations", 0, valid_to="2023-12-31"),
        1,
    ),
    # D3 is online: it must have come through an account
    ("online_without_account", "dossiers", "account_id", put("dossiers", 2, account_id=""), 1),
    # not An's name even without diacritics ("NGUYEN VAN AN" in BASE does match)
    (
        "owner_name_mismatch",
        "dossiers",
        "owner_name",
        put("dossiers", 0, owner_name="Tran Van Be"),
        1,
    ),
]

#: codes whose cases need a file built differently; tested in test_reader.py
TESTED_IN_READER = {"bad_csv_row", "id_stored_as_number", "business_id_repaired", "unusable_label"}


def test_every_code_has_a_test() -> None:
    covered = {case[0] for case in CASES} | TESTED_IN_READER
    assert covered == set(FINDING_CODES)


def test_base_folder_is_clean(tables: Tables, folder_of: Callable[..., Path]) -> None:
    ds = read_dataset(folder_of(tables))
    assert ds.report.findings == ()
    assert len(ds.row_issues) == 0
    assert ds.present == frozenset(TABLES)


@pytest.mark.parametrize(
    ("code", "table", "column", "change", "count"),
    CASES,
    ids=[f"{c[0]}-{c[1]}.{c[2]}" for c in CASES],
)
def test_finding(
    code: str,
    table: str,
    column: str | None,
    change: Mutation,
    count: int,
    tables: Tables,
    folder_of: Callable[..., Path],
) -> None:
    change(tables)
    ds = read_dataset(folder_of(tables))
    findings = ds.report.find(code, table, column)
    assert sum(f.count for f in findings) == count
    finding = findings[0]
    assert finding.severity == FINDING_CODES[code].severity
    assert finding.message_en and finding.message_vi and finding.message_en != finding.message_vi
    assert "{" not in finding.message_en + finding.message_vi  # every placeholder filled
    if FINDING_CODES[code].row_level and FINDING_CODES[code].severity != "error":
        listed = ds.row_issues.query("code == @code and table == @table and column == @column")
        assert len(listed) == count


def test_bad_values_become_unknown(tables: Tables, folder_of: Callable[..., Path]) -> None:
    put("dossiers", 0, channel="web", ip="300.1.1.1", accepted_at="later")(tables)
    put("units", 0, online_target="85%", office_networks="10.20.0.0/16;bad")(tables)
    put("accounts", 0, verification_level="3")(tables)
    ds = read_dataset(folder_of(tables))
    d1 = ds["dossiers"].iloc[0]
    assert pd.isna(d1["channel"]) and pd.isna(d1["ip"]) and pd.isna(d1["accepted_at"])
    assert ds["units"].loc[0, "online_target"] == pytest.approx(0.85)
    assert ds["units"].loc[0, "office_networks"] == "10.20.0.0/16"  # the valid part is kept
    assert pd.isna(ds["accounts"].loc[0, "verification_level"])


def test_case_and_spaces_in_enums_are_forgiven(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    put("dossiers", 0, channel="Online ", declared_relation="LEGAL REP")(tables)
    put("people", 0, sex="m")(tables)
    ds = read_dataset(folder_of(tables))
    assert ds.report.findings == ()  # nothing to report: the values are clear
    assert ds["dossiers"].loc[0, ["channel", "declared_relation"]].tolist() == [
        "online",
        "legal_rep",
    ]
    assert ds["people"].loc[0, "sex"] == "M"


def test_id_problems_are_checked_wherever_the_id_appears(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # An's record now says female, so his ID (digit 4 = 0, male) contradicts it in every
    # table that holds it: the dossier he owns, his account, his relation, his business,
    # the mandate he received
    put("people", 0, sex="F")(tables)
    report = read_dataset(folder_of(tables)).report
    code = "person_id_century_sex_mismatch"
    assert report.count(code, "dossiers", "owner_id") == 1  # D1 (D4 is owned by Cúc)
    assert report.count(code, "accounts", "holder_id") == 1
    assert report.count(code, "relations", "person_id") == 1
    assert report.count(code, "businesses", "legal_rep_id") == 1
    assert report.count(code, "authorizations", "grantee_id") == 1
    assert report.count(code, "authorizations", "grantor_id") == 0  # Bình is consistent


def test_examples_mask_personal_values(tables: Tables, folder_of: Callable[..., Path]) -> None:
    put("dossiers", 0, owner_id="CMND 1234567", owner_name="Tran Van Be")(tables)
    report = read_dataset(folder_of(tables)).report
    (malformed,) = report.find("owner_id_malformed")
    # record 1 = first data row; the dossier ID is not personal, the owner ID is
    assert malformed.examples[0] == {"record": 1, "dossier_id": "D1", "owner_id": "*********67"}
    dumped = json.dumps(report.to_dict(), ensure_ascii=False)
    for secret in ("CMND1234567", "Tran Van Be", AN, BINH, "Nguyễn Văn An", "0903123456"):
        assert secret not in dumped


def test_row_issues_point_at_the_normalised_rows(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # D1 is duplicated with other content (rejected), D4 gets a bad IP: the issue must point
    # at D4's row in the final frame and carry its record number (4th data row)
    add("dossiers", 0, channel="counter")(tables)
    put("dossiers", 3, ip="1.2.3")(tables)
    ds = read_dataset(folder_of(tables))
    (issue,) = ds.row_issues.query("code == 'bad_ip'").itertuples()
    assert ds["dossiers"].loc[issue.row, "dossier_id"] == "D4"
    assert issue.record == 4


def test_rejected_rows_are_kept_aside_with_reason(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    put("dossiers", 2, submitted_at="", synced_at="")(tables)
    add("dossiers", 0, channel="counter")(tables)
    ds = read_dataset(folder_of(tables))
    rejected = ds.rejected["dossiers"]
    assert sorted(rejected["reason"]) == ["conflicting_duplicate", "missing_submitted_at"]
    assert sorted(rejected["record"]) == [3, 5]  # D3 is data row 3, the D1 copy row 5
    assert ds["dossiers"]["dossier_id"].tolist() == ["D1", "D2", "D4"]
    status = ds.report.tables["dossiers"]
    assert (status.rows_read, status.rows_kept, status.rows_rejected) == (5, 3, 2)
    assert ds.report.has_errors


def test_fallback_to_synced_at(tables: Tables, folder_of: Callable[..., Path]) -> None:
    put("dossiers", 2, submitted_at="not a time")(tables)
    ds = read_dataset(folder_of(tables))
    d3 = ds["dossiers"].set_index("dossier_id").loc["D3"]
    assert d3["submitted_at"] == pd.Timestamp("2025-03-15T14:05:00+07:00")  # its synced_at
    assert ds.report.count("bad_timestamp", "dossiers", "submitted_at") == 1
    assert not ds.report.has_errors  # nothing was rejected


def test_owner_gap_is_not_checked_without_the_extract(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # without people/businesses we cannot know who is missing: no unknown_owner at all
    del tables["people"], tables["businesses"]
    put("dossiers", 0, owner_id="079095099999")(tables)
    report = read_dataset(folder_of(tables)).report
    assert report.count("unknown_owner") == 0
    assert report.count("table_absent") == 2


def test_online_without_account_is_not_repeated_for_an_absent_column(
    tables: Tables, folder_of: Callable[..., Path]
) -> None:
    # no account_id column at all: one column_absent, not one finding per online dossier
    drop_column("dossiers", "account_id")(tables)
    report = read_dataset(folder_of(tables)).report
    assert report.count("column_absent", "dossiers", "account_id") == 1
    assert report.count("online_without_account") == 0


def test_report_to_dict_and_summary(tables: Tables, folder_of: Callable[..., Path]) -> None:
    del tables["relations"]
    put("dossiers", 0, channel="web")(tables)
    report = read_dataset(folder_of(tables)).report
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["findings_by_severity"] == {"error": 0, "warning": 1, "info": 1}
    assert as_json["tables"]["relations"]["present"] is False
    lines = report.summary_lines()
    assert lines[0].startswith("dossiers: 4 read, 4 kept")
    assert any(line.startswith("WARNING bad_enum") for line in lines)
    assert any("không thuộc" in line for line in report.summary_lines("vi"))
    # findings come most severe first
    assert [f.severity for f in report.findings] == ["warning", "info"]
    assert BASE["dossiers"][0]["channel"] == "online"  # the fixture copy was changed, not BASE
