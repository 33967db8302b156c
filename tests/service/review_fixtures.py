"""A small case store built by hand for the review API tests: users, cases, dashboard rows.

Six cases across three units and three months, with known scores, so every
filter, sort and page has an answer one can work out by reading the table
below. Only case 1 has personal fields worth revealing; case 6's dossier ID
looks like a spreadsheet formula (the export must defuse it).

====  ==========  =====  =======  =====  ===============  ==========  ========
case  dossier     unit   month    score  predicted type   status      assignee
====  ==========  =====  =======  =====  ===============  ==========  ========
1     D-001       U01    2025-11  0.95   identity_misuse  open        -
2     D-002       U01    2025-11  0.80   officer_proxy    open        -
3     D-003       U02    2025-12  0.70   identity_misuse  open        -
4     D-004       U02    2025-12  0.55   officer_proxy    open        rita
5     D-005       U03    2025-10  0.40   identity_misuse  legitimate  -
6     =SUM(1,2)   U03    2025-10  0.30   officer_proxy    open        -
====  ==========  =====  =======  =====  ===============  ==========  ========
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from service.cases.db import CaseStore
from service.cases.models import Case, OfficerMonth, UnitMonth, User
from service.cases.security import start_session

PASSWORD = "correct horse battery"
#: Argon2id with small parameters: the production cost (64 MiB, about half a second
#: here) is the point in production and only slows tests; the algorithm is the same
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_HASH = CHEAP.hash(PASSWORD)
#: username -> role of the seeded users ("nina" is a disabled reviewer)
USERS = {"vera": "viewer", "rita": "reviewer", "ravi": "reviewer", "adam": "admin"}
ROLE_USER = {"viewer": "vera", "reviewer": "rita", "admin": "adam"}

OWNER_ID = "079123456789"
PHONE = "0912345678"
OWNER_NAME = "Nguyễn Văn An"
EMAIL = "an.nguyen@example.vn"
PERSONAL_VALUES = (OWNER_ID, PHONE, OWNER_NAME, EMAIL, "PAY-TOKEN-77")

# id, dossier, unit, month, score, predicted type, status, verdict type, assignee
CASES: list[tuple[int, str, str, str, float, str, str, str | None, str | None]] = [
    (1, "D-001", "U01", "2025-11", 0.95, "identity_misuse", "open", None, None),
    (2, "D-002", "U01", "2025-11", 0.80, "officer_proxy", "open", None, None),
    (3, "D-003", "U02", "2025-12", 0.70, "identity_misuse", "open", None, None),
    (4, "D-004", "U02", "2025-12", 0.55, "officer_proxy", "open", None, "rita"),
    (5, "D-005", "U03", "2025-10", 0.40, "identity_misuse", "legitimate", "family", None),
    (6, "=SUM(1,2)", "U03", "2025-10", 0.30, "officer_proxy", "open", None, None),
]


def _dossier(dossier_id: str, unit: str, month: str, personal: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "dossier_id": dossier_id,
        "procedure_code": "1.001193",
        "unit_id": unit,
        "channel": "online",
        "submitted_at": f"{month}-14T09:15:00+07:00",
        "account_id": f"ACC-{dossier_id}",
        "declared_relation": "self",
        "device_id": "DEV-9",
    }
    if personal:
        fields.update(
            owner_id=OWNER_ID,
            owner_name=OWNER_NAME,
            contact_phone=PHONE,
            contact_email=EMAIL,
            holder_id="079987654321",
            payer_token="PAY-TOKEN-77",
        )
    return fields


def seed(store: CaseStore) -> None:
    """Users, the six cases, and unit and officer months for U01 and U02."""
    with store.session() as s:
        ids: dict[str, int] = {}
        for name, role in USERS.items():
            user = User(username=name, display_name=name.title(), role=role, password_hash=_HASH)
            s.add(user)
            s.flush()
            ids[name] = user.id
        s.add(
            User(
                username="nina",
                display_name="Nina",
                role="reviewer",
                password_hash=_HASH,
                active=False,
            )
        )
        for cid, dossier_id, unit, month, score, ptype, status, vtype, assignee in CASES:
            s.add(
                Case(
                    id=cid,
                    dossier_id=dossier_id,
                    unit_id=unit,
                    month=month,
                    submitted_at=datetime.fromisoformat(f"{month}-14T02:15:00+00:00"),
                    channel="online",
                    risk_score=score,
                    proxy_type=ptype,
                    reasons=[
                        {
                            "code": "R03",
                            "vi": "Nhiều hồ sơ từ một thiết bị",
                            "en": "Many dossiers from one device",
                            "evidence": {"device_dossiers_30d": 12},
                        }
                    ],
                    data_gaps=["account_not_in_accounts"] if cid == 1 else [],
                    probabilities={"identity_misuse": score, "self": 1 - score},
                    dossier=_dossier(dossier_id, unit, month, personal=cid == 1),
                    evidence={
                        "graph": {
                            "nodes": [{"id": "d:D-001", "kind": "dossier"}],
                            "edges": [],
                        },
                        "related": [
                            {
                                "dossier_id": "D-002",
                                "via": "device",
                                "submitted_at": "2025-11-14T09:15:00+07:00",
                            }
                        ],
                    }
                    if cid == 1
                    else None,
                    source="batch" if cid != 2 else "api",
                    scored_at="review" if cid != 2 else "submission",
                    model_version="test-1",
                    status=status,
                    verdict_type=vtype,
                    assignee_id=ids[assignee] if assignee else None,
                )
            )
        for unit, month, n, claimed, genuine, suspected in [
            ("U01", "2025-11", 100, 0.80, 0.60, 4.0),
            ("U01", "2025-12", 120, 0.85, 0.55, 6.0),
            ("U02", "2025-11", 50, 0.50, 0.50, 0.0),
            ("U02", "2025-12", 50, 0.70, 0.40, 3.0),
        ]:
            s.add(
                UnitMonth(
                    unit_id=unit,
                    month=month,
                    dossiers=n,
                    claimed_online_share=claimed,
                    estimated_genuine_online_share=genuine,
                    suspected_officer_proxy=suspected,
                    flagged_officer_proxy=int(suspected // 2),
                )
            )
        for staff, unit, month, accepted, suspected in [
            ("S-11", "U01", "2025-11", 40, 3.0),
            ("S-12", "U01", "2025-12", 35, 5.0),
            ("S-21", "U02", "2025-12", 20, 2.5),
        ]:
            s.add(
                OfficerMonth(
                    staff_id=staff,
                    unit_id=unit,
                    month=month,
                    dossiers_accepted=accepted,
                    suspected_officer_proxy=suspected,
                    flagged_officer_proxy=1,
                )
            )
    if store.engine.dialect.name == "postgresql":  # ids were given: move the sequence past them
        with store.session() as s:
            s.execute(sa.text("SELECT setval(pg_get_serial_sequence('cases', 'id'), 100)"))


def log_in(client: TestClient, store: CaseStore, username: str) -> str:
    """Open a session for ``username`` straight in the store (no password check), set the
    cookie on ``client``; the session's CSRF token."""
    with store.session() as s:
        user = s.scalar(sa.select(User).where(User.username == username))
        assert user is not None, username
        token, who = start_session(s, user)
    set_session(client, token)
    return who.csrf_token


def set_session(client: TestClient, token: str) -> None:
    """Put a session cookie in ``client``'s jar where the server's own Set-Cookie lands
    (the standard library's cookie jar files a dotless host under ``<host>.local``), so a
    later login replaces it instead of sitting beside it."""
    client.cookies.set("detector_session", token, domain="testserver.local", path="/")


def utc_now() -> datetime:
    return datetime.now(UTC)
