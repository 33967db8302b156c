"""Small data folders built by hand (imported by conftest.py and the tests).

``BASE`` is a clean, consistent little world: every table and every column is
present, every ID is valid and agrees with the population extract, every
reference resolves and every event happens in a possible order. Reading it
gives no finding at all (``test_base_folder_is_clean``), so a test that
changes one cell and sees one finding knows that change caused it.

The people (IDs follow the CCCD layout: province, century/sex digit, year):

- ``079095012345`` Nguyễn Văn An, male, born 1995 in HCMC (079) -> digit 4 = 0, "95"
- ``079195000002`` Trần Thị Bình, female, born 1995 in HCMC -> digit 4 = 1
- ``079305000003`` Nguyễn Thị Cúc, female, born 2005 -> digit 4 = 3 (2000s), "05"
- ``001088000004`` Lê Văn Dũng, male, born 1988 in Hà Nội (001): a one-stop officer

``0100233488`` is a real published tax code (python-stdnum's own example).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

AN, BINH, CUC, DUNG = "079095012345", "079195000002", "079305000003", "001088000004"
MST = "0100233488"

BASE: dict[str, list[dict[str, str]]] = {
    "units": [
        {"unit_id": "U1", "name": "Trung tâm Phục vụ hành chính công", "level": "province",
         "parent_unit_id": "", "office_networks": "10.20.0.0/16", "online_target": "0.85"},
        {"unit_id": "U2", "name": "UBND phường Bến Nghé", "level": "commune",
         "parent_unit_id": "U1", "office_networks": "10.30.0.0/24;2001:db8::/32",
         "online_target": "0.6"},
    ],
    "staff": [
        {"staff_id": "S1", "person_id": DUNG, "unit_id": "U2", "role": "one_stop_officer",
         "active_from": "2020-01-01", "active_to": ""},
    ],
    "people": [
        {"person_id": AN, "full_name": "Nguyễn Văn An", "birth_date": "1995-04-12", "sex": "M",
         "province_code": "079", "household_id": "H1", "death_date": ""},
        {"person_id": BINH, "full_name": "Trần Thị Bình", "birth_date": "1995-09-30", "sex": "F",
         "province_code": "079", "household_id": "H2", "death_date": ""},
        {"person_id": CUC, "full_name": "Nguyễn Thị Cúc", "birth_date": "2005-06-01", "sex": "F",
         "province_code": "079", "household_id": "H1", "death_date": ""},
        {"person_id": DUNG, "full_name": "Lê Văn Dũng", "birth_date": "1988-02-29", "sex": "M",
         "province_code": "001", "household_id": "H3", "death_date": ""},
    ],
    "relations": [
        {"person_id": AN, "related_id": CUC, "relation": "parent_of"},
    ],
    "authorizations": [
        {"authorization_id": "M1", "grantor_id": BINH, "grantee_id": AN,
         "procedure_code": "", "valid_from": "2024-01-01", "valid_to": "2026-01-01"},
    ],
    "businesses": [
        {"business_id": MST, "name": "Công ty TNHH ABC", "legal_rep_id": AN,
         "registered_at": "2010-05-20"},
    ],
    "counter_visits": [
        {"visit_id": "V1", "unit_id": "U2", "person_id": BINH,
         "visited_at": "2025-03-14T08:00:00+07:00"},
    ],
    "accounts": [
        {"account_id": "A1", "holder_id": AN, "account_type": "citizen",
         "verification_level": "2", "created_at": "2024-01-05T10:00:00+07:00",
         "created_ip": "113.161.1.10"},
        {"account_id": "A2", "holder_id": MST, "account_type": "business",
         "verification_level": "2", "created_at": "2024-02-01T09:00:00+07:00",
         "created_ip": "2001:ee0:4141::1"},
        {"account_id": "A3", "holder_id": DUNG, "account_type": "citizen",
         "verification_level": "1", "created_at": "2023-06-01T14:00:00+07:00",
         "created_ip": "10.30.0.7"},
    ],
    "dossiers": [
        # D1: An files for himself online; the name is typed in capitals without diacritics,
        # which must still match "Nguyễn Văn An"
        {"dossier_id": "D1", "procedure_code": "1.001193", "unit_id": "U1", "channel": "online",
         "submitted_at": "2025-03-14T08:12:45+07:00", "synced_at": "2025-03-16T09:00:00+07:00",
         "account_id": "A1", "owner_id": AN, "owner_name": "NGUYEN VAN AN",
         "declared_relation": "self", "authorization_id": "", "contact_phone": "0903123456",
         "contact_email": "an@example.vn", "ip": "113.161.1.10", "device_id": "dev-1",
         "attachment_kind": "digital", "payer_token": "tok-1", "received_by": "S1",
         "accepted_at": "2025-03-16T10:00:00+07:00"},
        # D2: Bình at the desk, accepted by officer S1
        {"dossier_id": "D2", "procedure_code": "2.000123", "unit_id": "U2", "channel": "counter",
         "submitted_at": "2025-03-14T08:30:00+07:00", "synced_at": "2025-03-14T08:30:00+07:00",
         "account_id": "", "owner_id": BINH, "owner_name": "Trần Thị Bình",
         "declared_relation": "self", "authorization_id": "", "contact_phone": "0912000111",
         "contact_email": "", "ip": "", "device_id": "", "attachment_kind": "scan",
         "payer_token": "", "received_by": "S1", "accepted_at": "2025-03-14T08:45:00+07:00"},
        # D3: the business, through its own account, by its legal representative
        {"dossier_id": "D3", "procedure_code": "1.004227", "unit_id": "U1", "channel": "online",
         "submitted_at": "2025-03-15T14:00:00+07:00", "synced_at": "2025-03-15T14:05:00+07:00",
         "account_id": "A2", "owner_id": MST, "owner_name": "Công ty TNHH ABC",
         "declared_relation": "legal_rep", "authorization_id": "", "contact_phone": "",
         "contact_email": "", "ip": "2001:ee0:4141::1", "device_id": "dev-2",
         "attachment_kind": "digital", "payer_token": "tok-2", "received_by": "",
         "accepted_at": ""},
        # D4: An files for his daughter Cúc, with a mandate reference he holds from Bình
        {"dossier_id": "D4", "procedure_code": "1.001193", "unit_id": "U1", "channel": "online",
         "submitted_at": "2025-03-20T20:00:00+07:00", "synced_at": "2025-03-21T08:00:00+07:00",
         "account_id": "A1", "owner_id": CUC, "owner_name": "Nguyễn Thị Cúc",
         "declared_relation": "parent", "authorization_id": "M1", "contact_phone": "0903123456",
         "contact_email": "", "ip": "113.161.1.10", "device_id": "dev-1",
         "attachment_kind": "photo", "payer_token": "tok-1", "received_by": "S1",
         "accepted_at": "2025-03-21T09:00:00+07:00"},
    ],
}  # fmt: skip

Tables = dict[str, list[dict[str, str]]]


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    """Write rows as a UTF-8 CSV exactly as given (strings, no type guessing)."""
    columns = columns or (list(rows[0]) if rows else [])
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_folder(folder: Path, tables: Tables, fmt: str = "csv") -> Path:
    """Write every table of ``tables`` into ``folder`` as CSV or Parquet (all text)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        if fmt == "csv":
            write_csv(folder / f"{name}.csv", rows)
        else:
            pd.DataFrame(rows, dtype=object).to_parquet(folder / f"{name}.parquet", index=False)
    return folder
