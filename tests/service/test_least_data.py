"""Least data: what the scoring log and the case store keep of a dossier sent to the API.

The probe behind issue #14 found every dossier sent to the API in clear in
``scoring_log`` (citizen ID, name, phone, e-mail, payment token), flagged or
not. Now the log keeps a replay record with the owner ID, phone and payment
token pseudonymised, never the name or e-mail; a flagged dossier's clear
fields wait in ``case_fields`` until the feeder has made its case.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from svc import PORTAL

from service.cases.feeder import CaseFeeder, feed_round
from service.cases.models import Case
from service.log import scoring_log

SENT = 400
#: personal fields of a submission; the first three are what the history needs (as pseudonyms)
PERSONAL = ("owner_id", "contact_phone", "payer_token", "owner_name", "contact_email")
NEVER_KEPT = ("owner_name", "contact_email")


def _forms(value: str) -> set[str]:
    """A value as typed and as the reader would normalise it (digits of a phone)."""
    text = value.strip()
    digits = re.sub(r"\D", "", text)
    return {text} | ({digits} if len(digits) >= 8 else set())


def _log_rows(client: TestClient) -> dict[str, dict[str, Any]]:
    engine = client.app.state.engine.log_store.engine  # type: ignore[attr-defined]
    t = scoring_log.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.dossier_id, t.dossier, t.answer, t.case_fields)).all()
    return {r[0]: {"replay": r[1], "answer": r[2], "case_fields": r[3]} for r in rows}


def test_the_log_keeps_no_personal_value_in_clear_but_a_flagged_ones_until_its_case(
    client: TestClient, split: dict[str, Any]
) -> None:
    bodies = [b for b in split["later"][:SENT] if str(b.get("dossier_id") or "").strip()]
    answers = []
    for start in range(0, len(bodies), 200):
        r = client.post(
            "/v1/score/batch", json={"dossiers": bodies[start : start + 200]}, headers=PORTAL
        )
        assert r.status_code == 200, r.text
        answers += [item["answer"] for item in r.json()["results"] if item["answer"]]
    flagged = {a["dossier_id"] for a in answers if a.get("flagged")}
    assert flagged, "the sample holds no flagged dossier: pick a larger one"
    rows = _log_rows(client)
    checked = 0
    for body in bodies:
        dossier_id = str(body["dossier_id"]).strip()
        row = rows.get(dossier_id)
        if row is None:  # refused as unscorable: nothing kept
            continue
        kept = " ".join(str(v) for k, v in row.items() if k != "case_fields" and v)
        for field in PERSONAL:
            value = body.get(field)
            if not isinstance(value, str) or len(value.strip()) < 6:
                continue
            for form in _forms(value):
                assert form not in kept, f"{field} of {dossier_id} in clear in the log"
                if field in NEVER_KEPT:
                    assert form not in str(row["case_fields"]), f"{field} kept for a case"
                checked += 1
        if dossier_id not in flagged:
            assert row["case_fields"] is None
    assert checked > SENT  # the sample did carry personal values
    # a flagged dossier's clear fields wait for its case (the app's feeder thread may have
    # made some cases already, and emptied their fields)
    app = client.app
    with app.state.cases.session() as s:  # type: ignore[attr-defined]
        made = set(s.scalars(sa.select(Case.dossier_id).where(Case.source == "api")))
    for dossier_id in flagged - made:
        assert rows[dossier_id]["case_fields"] is not None
    # once the feeder has made the cases, the log lets go of the clear fields
    feeder = CaseFeeder(
        app.state.cases, app.state.engine.log_store, app.state.engine.settings.secret()
    )  # type: ignore[attr-defined]
    feed_round(feeder)
    assert all(r["case_fields"] is None for r in _log_rows(client).values())
    with app.state.cases.session() as s:  # type: ignore[attr-defined]
        cases = {c.dossier_id: c for c in s.scalars(sa.select(Case).where(Case.source == "api"))}
    assert flagged <= set(cases)
    for dossier_id in flagged:
        assert not set(NEVER_KEPT) & set(cases[dossier_id].dossier)
