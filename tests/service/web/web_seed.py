"""A case store seeded from the session's simulated province, for the page tests.

Cases are flagged dossiers of the simulated province chosen by their true
type (the simulator's labels), each with reasons written like the detection
rules' (``detector/rules.yaml``: the same codes, sentences and evidence
features), data gaps, probabilities, the dossier's own fields and the real
evidence subgraph (:func:`features.evidence_subgraph`), with the links the
reasons point at marked and every personal value pseudonymised, exactly as
the batch load stores them. The dashboard's unit × month and officer × month
figures come from the same dossiers and labels. No model is trained: the
pages are under test, not the scorer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
import yaml

import detector
from features import EntityIndex, evidence_subgraph, mark, read_dataset, to_json
from features.contract import LOCAL_TZ, PROXY_TYPES
from service.cases._evidence import related_dossiers, suspicious_edges
from service.cases._private import evidence_pseudonymiser, to_utc
from service.cases.actors import place_in_actors
from service.cases.db import CaseStore
from service.cases.load import DOSSIER_FIELDS, json_safe
from service.cases.models import Actor, Case, OfficerMonth, UnitMonth
from service.cases.security import create_user

SECRET = b"page tests: not a real secret"
PASSWORD = "mat-khau-thu-nghiem-2025"
#: (username, role, display name) of the test users, one per role
USERS = (
    ("an.admin", "admin", "Nguyễn Văn An"),
    ("binh.reviewer", "reviewer", "Trần Thị Bình"),
    ("chi.viewer", "viewer", "Lê Minh Chi"),
)
_RULES_FILE = Path(detector.__file__).with_name("rules.yaml")
_RULES = {r["id"]: r for r in yaml.safe_load(_RULES_FILE.read_text(encoding="utf-8"))["rules"]}
#: per true type: how many cases, and the rules their reasons are written from
_PLAN = {
    "identity_misuse": (14, ("R101", "R102")),
    "officer_proxy": (14, ("R201", "R204")),
    "family": (4, ("R102",)),
    "authorized": (4, ("R103",)),
}
_GAPS = (
    "relation_unknown",
    "owner_not_in_population_extract",
    "device_missing",
    "unit_network_unknown",
)


@dataclass
class Seeded:
    """What the tests need to know about the seeded store."""

    store: CaseStore
    case_ids: list[int]
    by_type: dict[str, list[int]]
    units: list[str]
    #: case id of the highest-scored identity-misuse case with related dossiers that are cases
    linked_case: int
    #: the unit of the first officer-proxy case (its dashboard has suspected officers)
    officer_unit: str
    #: the months of the officer-proxy cases, most recent first
    months: list[str]
    #: a case predicted misuse whose own probabilities make a family filing the likeliest
    doubtful: int
    #: the actor cases (detector.actors.actor_cases over the flagged cases), most dossiers first
    actor_ids: list[int] = field(default_factory=list)


def _evidence_values(rule: str, node: dict[str, Any]) -> dict[str, Any]:
    """Plausible evidence values for a rule, taken from the graph where it has them."""
    owners = int(node.get("owner_count") or 6)
    values = {
        "acct_new_unlinked_owners_30d": max(5, owners - 1),
        "acct_owners": owners,
        "holder_relation": "none_known",
        "declared_relation": "self",
        "claim_status": "unknown_id",
        "holder_staff_role": "one_stop_officer",
        "owner_at_desk_today": 1.0,
        "unit_target_gap": 0.12,
        "day_of_month": 27,
    }
    if rule == "R201":
        values["holder_relation"] = "staff_same_unit"
    return {k: values[k] for k in _RULES[rule]["evidence"] if k in values}


def _reasons(rules: tuple[str, ...], account: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        r = _RULES[rule]
        out.append(
            {
                "code": rule,
                "vi": r["description_vi"],
                "en": r["description_en"],
                "evidence": _evidence_values(rule, account),
            }
        )
    out.append(
        {
            "code": "M.dev_accounts",
            "vi": "số tài khoản dùng thiết bị: 7 (thường gặp: 1)",
            "en": "accounts using the device: 7 (typical: 1)",
            "evidence": {"dev_accounts": 7, "typical": 1},
        }
    )
    return out


def seed(store: CaseStore, province_dir: Path) -> Seeded:
    """Fill ``store`` with users, about 36 cases and the dashboard figures.

    Notes
    -----
    Deterministic: the dossiers of each true type are taken at even steps
    through the file (so they spread over the months), among those with an
    account (so the graph has a holder); the first broker case's related
    dossiers are added, so its page links to other cases; scores fall from
    0.97 by 0.015 in that order, so case ids follow the score.
    """
    ds = read_dataset(province_dir / "data")
    index = EntityIndex.from_dataset(ds)
    labels = pd.read_csv(province_dir / "labels.csv", dtype=str)
    d = ds.tables["dossiers"].drop_duplicates("dossier_id").set_index("dossier_id", drop=False)
    accounts = ds.tables["accounts"].set_index("account_id")["holder_id"]
    pseudonymise = evidence_pseudonymiser(SECRET)
    rng = np.random.default_rng(5)
    chosen: dict[str, list[str]] = {}
    for true_type, (n, _rules) in _PLAN.items():
        ids = labels.loc[labels["proxy_type"] == true_type, "dossier_id"]
        ids = [i for i in ids if i in d.index and pd.notna(d.at[i, "account_id"])]
        chosen[true_type] = ids[:: max(1, len(ids) // n)][:n]  # spread over the months
    # the first broker case's related dossiers are cases too, so the page links between them
    first = evidence_subgraph(index, chosen["identity_misuse"][0], max_related=8)
    taken = {i for ids in chosen.values() for i in ids}
    truth = labels.drop_duplicates("dossier_id").set_index("dossier_id")["proxy_type"]
    for r in related_dossiers(first)[:3]:
        other = r["dossier_id"]
        if other not in taken and truth.get(other) in _PLAN and other in d.index:
            chosen[str(truth[other])].insert(1, other)
            taken.add(other)
    rows: list[dict[str, Any]] = []
    score = 0.97
    for true_type, ids in chosen.items():
        rules = _PLAN[true_type][1]
        predicted = (
            true_type if true_type in ("identity_misuse", "officer_proxy") else "identity_misuse"
        )
        for dossier_id in ids:
            graph = evidence_subgraph(index, dossier_id, max_related=8)
            account_key = f"account:{d.at[dossier_id, 'account_id']}"
            account = dict(graph.nodes[account_key]) if account_key in graph else {}
            reasons = _reasons(rules, account)
            mark(graph, suspicious_edges(graph, reasons), strict=False)
            evidence = {
                "graph": to_json(graph, pseudonymise),
                "related": related_dossiers(graph),
            }
            row = d.loc[dossier_id]
            fields = {k: row.get(k) for k in DOSSIER_FIELDS if k in row.index}
            fields["holder_id"] = accounts.get(row["account_id"])
            probs = rng.dirichlet(np.ones(len(PROXY_TYPES)))
            probs = {t: round(float(p) * 0.3, 4) for t, p in zip(PROXY_TYPES, probs, strict=True)}
            probs[predicted] = round(1 - sum(v for t, v in probs.items() if t != predicted), 4)
            if dossier_id == ids[-1] and true_type == "family":
                # as an inspector met it: "identity misuse" on the badge, family at 89.8 %
                probs = {t: 0.0 for t in PROXY_TYPES}
                probs.update(family=0.898, identity_misuse=0.061, self=0.041)
            submitted = pd.Timestamp(row["submitted_at"])
            gaps = [g for g in _GAPS if rng.random() < 0.3]
            rows.append(
                {
                    "dossier_id": dossier_id,
                    "unit_id": str(row["unit_id"]),
                    "month": submitted.tz_convert(LOCAL_TZ).strftime("%Y-%m"),
                    "submitted_at": to_utc(submitted.to_pydatetime()),
                    "channel": str(row["channel"]),
                    "risk_score": round(score, 3),
                    "proxy_type": predicted,
                    "reasons": json_safe(reasons),
                    "data_gaps": gaps,
                    "probabilities": probs,
                    "dossier": json_safe(fields),
                    "evidence": json_safe(evidence),
                    "source": "batch",
                    "scored_at": "review",
                    "model_version": "test-seed-1",
                }
            )
            score = max(0.41, score - 0.015)
    with store.session() as s:
        for username, role, name in USERS:
            create_user(s, username, PASSWORD, role, name)
        cases = [Case(**r) for r in rows]
        s.add_all(cases)
        s.flush()
        ids_by_dossier = {c.dossier_id: c.id for c in cases}
        s.add_all(UnitMonth(**r) for r in _unit_months(d, labels))
        scored = pd.DataFrame(
            {
                "dossier_id": [r["dossier_id"] for r in rows],
                "risk_score": [r["risk_score"] for r in rows],
                "proxy_type": [r["proxy_type"] for r in rows],
                **{f"p_{t}": [r["probabilities"].get(t, 0.0) for r in rows] for t in PROXY_TYPES},
                "flagged": True,
            }
        )
        place_in_actors(s, detector.actor_cases(scored, ds.tables["dossiers"], pseudonymise))
        actor_ids = list(s.scalars(sa.select(Actor.id).order_by(Actor.n_dossiers.desc(), Actor.id)))
        s.add_all(OfficerMonth(**r) for r in _officer_months(d, labels))
    by_type = {t: [ids_by_dossier[i] for i in ids] for t, ids in chosen.items()}
    with_related = [
        ids_by_dossier[r["dossier_id"]]
        for r in rows
        if any(x["dossier_id"] in ids_by_dossier for x in r["evidence"]["related"])
    ]
    return Seeded(
        store=store,
        case_ids=sorted(ids_by_dossier.values()),
        by_type=by_type,
        units=sorted({r["unit_id"] for r in rows}),
        linked_case=with_related[0] if with_related else by_type["identity_misuse"][0],
        officer_unit=str(d.at[chosen["officer_proxy"][0], "unit_id"]),
        months=sorted(
            {r["month"] for r in rows if r["dossier_id"] in chosen["officer_proxy"]}, reverse=True
        ),
        doubtful=by_type["family"][-1],
        actor_ids=actor_ids,
    )


def _months(d: pd.DataFrame) -> pd.Series:
    return d["submitted_at"].dt.tz_convert(LOCAL_TZ).dt.strftime("%Y-%m")


def _unit_months(d: pd.DataFrame, labels: pd.DataFrame) -> list[dict[str, Any]]:
    """Claimed online share, and the share left once the true officer proxies are taken out."""
    truth = labels.drop_duplicates("dossier_id").set_index("dossier_id")["proxy_type"]
    frame = pd.DataFrame(
        {
            "unit_id": d["unit_id"].astype(str),
            "month": _months(d),
            "online": d["channel"].eq("online"),
            "proxy": truth.reindex(d.index).eq("officer_proxy").to_numpy(),
        }
    ).dropna(subset=["month"])
    out = []
    for (unit, month), g in frame.groupby(["unit_id", "month"]):
        n = len(g)
        out.append(
            {
                "unit_id": unit,
                "month": month,
                "dossiers": n,
                "claimed_online_share": round(float(g["online"].mean()), 4),
                "estimated_genuine_online_share": round(
                    float((g["online"] & ~g["proxy"]).sum()) / n, 4
                ),
                "suspected_officer_proxy": round(float(g["proxy"].sum()) * 0.9, 2),
                "flagged_officer_proxy": int(g["proxy"].sum()) // 2,
            }
        )
    return out


def _officer_months(d: pd.DataFrame, labels: pd.DataFrame) -> list[dict[str, Any]]:
    """Dossiers accepted by each officer per month, and how many were true officer proxies."""
    truth = labels.drop_duplicates("dossier_id").set_index("dossier_id")["proxy_type"]
    frame = pd.DataFrame(
        {
            "staff_id": d["received_by"],
            "unit_id": d["unit_id"].astype(str),
            "month": _months(d),
            "proxy": truth.reindex(d.index).eq("officer_proxy").to_numpy(),
        }
    ).dropna(subset=["staff_id", "month"])
    out = []
    for (staff, unit, month), g in frame.groupby(["staff_id", "unit_id", "month"]):
        out.append(
            {
                "staff_id": str(staff),
                "unit_id": unit,
                "month": month,
                "dossiers_accepted": len(g),
                "suspected_officer_proxy": round(float(g["proxy"].sum()) * 0.9, 2),
                "flagged_officer_proxy": int(g["proxy"].sum()) // 2,
            }
        )
    return out
