"""Hand-made inputs shared by the case store tests (users, personal values, cases)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.cases.models import Case

#: the seeded users: username -> role ("nina" is a reviewer whose account is disabled)
USERS = {
    "vera": "viewer",
    "rita": "reviewer",
    "ravi": "reviewer",
    "adam": "admin",
    "nina": "reviewer",
}
#: personal values of the hand-made dossier with everything filled in
OWNER_ID = "079123456789"
HOLDER_ID = "079987654321"
PHONE = "0912345678"
OWNER_NAME = "Nguyễn Văn An"
EMAIL = "an.nguyen@example.vn"
PAYER = "PAY-TOKEN-77"
PERSONAL = {
    "owner_id": OWNER_ID,
    "owner_name": OWNER_NAME,
    "contact_phone": PHONE,
    "contact_email": EMAIL,
    "holder_id": HOLDER_ID,
    "payer_token": PAYER,
}


def dossier_fields(
    dossier_id: str, unit: str, month: str, personal: bool = False
) -> dict[str, Any]:
    """A dossier's fields as the load stores them; personal ones only when asked."""
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
        fields.update(PERSONAL)
    return fields


def make_case(
    dossier_id: str,
    unit: str,
    month: str,
    score: float,
    proxy_type: str = "identity_misuse",
    *,
    day: int = 14,
    personal: bool = False,
    **extra: Any,
) -> Case:
    """A case as a batch load would write it (reasons, gaps and evidence kept small)."""
    year, mon = (int(x) for x in month.split("-"))
    return Case(
        dossier_id=dossier_id,
        unit_id=unit,
        month=month,
        submitted_at=datetime(year, mon, day, 2, 15, tzinfo=UTC),  # 09:15 in Hanoi
        channel="online",
        risk_score=score,
        proxy_type=proxy_type,
        reasons=[
            {"code": "R101", "vi": "…", "en": "…", "evidence": {"acct_owners": 8.0}},
            {"code": "M.dev_accounts", "vi": "…", "en": "…", "evidence": {"dev_accounts": 4.0}},
        ],
        data_gaps=["no_people_registry"] if personal else [],
        probabilities={"identity_misuse": score, "self": 1 - score},
        dossier=dossier_fields(dossier_id, unit, month, personal),
        evidence={"graph": {"nodes": [], "edges": [], "graph": {}}, "related": []},
        source="batch",
        scored_at="review",
        model_version="m-test",
        **extra,
    )
