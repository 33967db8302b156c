"""Write the simulated province as the contract's tables (strings, as exported)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _catalogue as cat
from .assemble import NEVER, build_relations, device_strings, make_ids, timings
from .typologies import Filed
from .world import World

_FAR = np.iinfo(np.int64).max


def _day_str(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)
    if missing is not None:
        out[missing] = None
    return out


def _take(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """values[idx] with None where idx < 0."""
    out = values[np.maximum(idx, 0)].astype(object)
    out[idx < 0] = None
    return out


def contract_tables(
    w: World, rng: np.random.Generator, d: pd.DataFrame, filed: Filed
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """The nine tables of a data folder, the truth and the brokers.

    The truth has one row per dossier: dossier_id, proxy_type, scenario and
    broker (the number of the broker who filed it, -1 for everyone else);
    the brokers are :func:`broker_cards`.
    """
    a, cal = w.arrays, w.cal
    n = len(d)
    devices = device_strings(w, rng)
    # --- accounts
    n_acc = len(a["a_holder_p"])
    acc_id = np.array([f"TK{v:09d}" for v in w.unique(rng, n_acc, 10**9)], dtype=object)
    holder = np.where(
        a["a_holder_b"] >= 0, _take(a["b_id"], a["a_holder_b"]), _take(w.p_id, a["a_holder_p"])
    )
    created_missing = rng.random(n_acc) < 0.04
    accounts = pd.DataFrame(
        {
            "account_id": acc_id,
            "holder_id": holder,
            "account_type": np.where(a["a_holder_b"] >= 0, "business", "citizen"),
            "verification_level": a["a_level"].astype(np.int64).astype(str),
            "created_at": cal.to_strings(a["a_created"], created_missing),
            "created_ip": a["a_created_ip"],
        }
    )
    # --- dossiers
    tm = timings(w, rng, d)
    owner_p, owner_b = d["owner_p"].to_numpy(), d["owner_b"].to_numpy()
    owner_id = np.where(owner_b >= 0, _take(a["b_id"], owner_b), _take(w.p_id, owner_p))
    owner_name = np.where(owner_b >= 0, _take(a["b_name"], owner_b), _take(a["p_name"], owner_p))
    proc = d["proc"].to_numpy()
    email = np.full(n, None, dtype=object)
    has_email = (owner_p >= 0) & (rng.random(n) < 0.2)
    first_person = w.cfg.block(10_000_000)[0]  # one address per person across the nation
    email[has_email] = [
        f"nd{v:07d}@gmail.com" for v in ((first_person + owner_p[has_email]) * 7919) % 10_000_000
    ]
    pending = tm["pending"]
    accepted_by = _take(a["s_id"], np.where(pending, -1, tm["officer"]))
    dossier_ids = make_ids(w, rng, n)
    dossiers = pd.DataFrame(
        {
            "dossier_id": dossier_ids,
            "procedure_code": cat.CODES[proc],
            "unit_id": w.u_id[d["unit"].to_numpy()],
            "channel": d["channel"].to_numpy(),
            "submitted_at": cal.to_strings(d["t"].to_numpy()),
            "synced_at": cal.to_strings(tm["synced"]),
            "account_id": _take(acc_id, d["account"].to_numpy()),
            "owner_id": owner_id,
            "owner_name": owner_name,
            "declared_relation": d["declared"].to_numpy(),
            "authorization_id": d["auth"].to_numpy(),
            "contact_phone": d["phone"].to_numpy(),
            "contact_email": email,
            "ip": d["ip"].to_numpy(),
            "device_id": _take(devices, d["device"].to_numpy()),
            "attachment_kind": d["attachment"].to_numpy(),
            "payer_token": d["payer"].to_numpy(),
            "received_by": accepted_by,
            "accepted_at": cal.to_strings(tm["accepted"], pending),
        }
    )
    truth = pd.DataFrame(
        {
            "dossier_id": dossier_ids,
            "proxy_type": d["label"].to_numpy(),
            "scenario": d["scenario"].to_numpy(),
            "broker": (
                d["broker"].fillna(-1).to_numpy(np.int64)
                if "broker" in d
                else np.full(n, -1, np.int64)
            ),
        }
    )
    # --- units
    units = pd.DataFrame(
        {
            "unit_id": w.u_id,
            "name": w.u_name,
            "level": np.where(w.u_province, "province", "commune"),
            "parent_unit_id": np.where(w.u_province, None, w.u_id[0]),
            "office_networks": np.where(w.u_networks_known, w.u_cidr, None),  # type: ignore[call-overload]
            "online_target": np.char.mod("%.2f", w.u_target).astype(object),
        }
    )
    # --- staff
    ns = len(a["s_id"])
    staff = pd.DataFrame(
        {
            "staff_id": a["s_id"],
            "person_id": w.p_id[a["s_person"]],
            "unit_id": w.u_id[a["s_unit"]],
            "role": a["s_role"],
            "active_from": _day_str(a["s_from"], rng.random(ns) < 0.2),
            "active_to": _day_str(np.where(a["s_to"] == _FAR, 0, a["s_to"]), a["s_to"] == _FAR),
        }
    )
    # --- people (the extract misses some people; some deaths are not recorded yet)
    inx = a["p_in_extract"]
    death = a["p_death_day"]
    death_missing = (death == NEVER) | (rng.random(len(death)) < 0.1)
    people = pd.DataFrame(
        {
            "person_id": w.p_id,
            "full_name": a["p_name"],
            "birth_date": _day_str(a["p_birth_day"]),
            "sex": np.where(a["p_female"], "F", "M"),
            "province_code": a["p_prov"],
            "household_id": np.where(  # type: ignore[call-overload]
                a["p_hh_known"],
                np.char.add(
                    "HGD", np.char.zfill((w.cfg.block(10**8)[0] + a["p_hh"]).astype(str), 8)
                ).astype(object),
                None,
            ),
            "death_date": _day_str(np.where(death_missing, 0, death), death_missing),
        }
    )[inx].reset_index(drop=True)
    rel = build_relations(w, rng)
    relations = pd.DataFrame(
        {
            "person_id": w.p_id[rel["src"].to_numpy()],
            "related_id": w.p_id[rel["dst"].to_numpy()],
            "relation": rel["relation"].to_numpy(),
        }
    )
    # --- authorizations
    m = (
        pd.concat(filed.mandates, ignore_index=True)
        if filed.mandates
        else pd.DataFrame(
            columns=[
                "authorization_id",
                "grantor_p",
                "grantor_b",
                "grantee",
                "proc",
                "from_day",
                "to_day",
                "listed",
            ]
        )
    )
    m = m[m["listed"].astype(bool)]
    start = cal.start.astype(np.int64)
    gp, gb = m["grantor_p"].to_numpy(np.int64), m["grantor_b"].to_numpy(np.int64)
    to_day = m["to_day"].to_numpy(np.int64)
    authorizations = pd.DataFrame(
        {
            "authorization_id": m["authorization_id"].to_numpy(),
            "grantor_id": np.where(gb >= 0, _take(a["b_id"], gb), _take(w.p_id, gp)),
            "grantee_id": _take(w.p_id, m["grantee"].to_numpy(np.int64)),
            "procedure_code": _take(cat.CODES, m["proc"].to_numpy(np.int64)),
            "valid_from": _day_str(start + m["from_day"].to_numpy(np.int64)),
            "valid_to": _day_str(np.where(to_day == _FAR, 0, start + to_day), to_day == _FAR),
        }
    )
    businesses = pd.DataFrame(
        {
            "business_id": a["b_id"],
            "name": a["b_name"],
            "legal_rep_id": w.p_id[a["b_rep"]],
            "registered_at": _day_str(a["b_registered"]),
        }
    )
    # --- desk visits, plus people who came only to ask
    v = pd.concat(filed.visits, ignore_index=True)
    n_noise = int(len(v) * 0.15)
    noise = pd.DataFrame(
        {
            "person": rng.integers(0, len(w.p_id), n_noise),
            "unit": rng.integers(0, w.n_units, n_noise),
            "t": cal.draw(rng, n_noise, "office"),
        }
    )
    v = pd.concat([v, noise], ignore_index=True).sort_values("t", kind="stable")
    vp = v["person"].to_numpy(np.int64)
    counter_visits = pd.DataFrame(
        {
            "visit_id": np.array(
                [f"V{i:09d}" for i in w.cfg.block(10**9)[0] + np.arange(len(v))], dtype=object
            ),
            "unit_id": w.u_id[v["unit"].to_numpy(np.int64)],
            "person_id": _take(w.p_id, vp),
            "visited_at": cal.to_strings(np.maximum(v["t"].to_numpy(np.int64), 0)),
        }
    )
    tables = {
        "dossiers": dossiers,
        "accounts": accounts,
        "units": units,
        "staff": staff,
        "people": people,
        "relations": relations,
        "authorizations": authorizations,
        "businesses": businesses,
        "counter_visits": counter_visits,
    }
    return tables, truth, broker_cards(w, acc_id, devices)


def broker_cards(w: World, acc_id: np.ndarray, devices: np.ndarray) -> pd.DataFrame:
    """One row per broker: who they are and the trail their filings leave.

    Columns: broker (number), person_id, accounts and devices (lists of IDs,
    own accounts first), phone, ip, token, and ready (every own account was
    made before the period, so it can file from the first day anywhere).
    """
    a = w.arrays
    brokers = a["brokers"]
    return pd.DataFrame(
        {
            "broker": np.arange(len(brokers)),
            "person_id": w.p_id[brokers],
            "accounts": [list(acc_id[x]) for x in w.broker_accounts],
            "devices": [list(devices[x]) for x in w.broker_devices],
            "phone": a["p_phone"][brokers],
            "ip": a["broker_ip"],
            "token": a["broker_token"],
            "ready": [bool((a["a_created"][x] < 0).all()) for x in w.broker_accounts],
        }
    )
