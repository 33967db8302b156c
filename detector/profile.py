"""What a province's own data says about it, without labels; and provinces simulated like it.

The starter model (:mod:`detector.starter`) is trained on simulated
provinces, since a province that deploys the detector has no verdicts yet.
What makes a legitimate dossier look suspicious is mostly what the export
leaves out (civil-status links not shared, people missing from the
population extract, office networks not listed) and how people file (online
share, guided self-service at the hall kiosk). All of that can be measured on
the province's unlabelled data, and :func:`measure` does.

How much misuse there is and how brokers and officers behave cannot be
measured without labels: :func:`provinces_like` draws them at random, over
wide ranges, for each simulated province, and jitters the measured settings a
little so the model does not lean on their exact values.

The mapping from a measurement to a simulator setting uses reference
figures of the simulator's own world (:data:`REFERENCE`), read off default
provinces of 50,000 and 100,000 dossiers (``relations`` rows per person with
no link missing, desk-visit rows per counter dossier with none missing,
office-network share of online filings at the default kiosk share).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from detector.simulate import DEFAULT_SHARES, SimConfig
from features import Dataset
from features.contract import LOCAL_TZ, TABLES
from features.networks import ip_membership

__all__ = ["REFERENCE", "Profile", "measure", "provinces_like"]

#: figures of the simulator's world the measurements are read against (module docstring)
REFERENCE = {
    "relations_per_person": 1.075,
    "visits_per_counter_dossier": 1.62,
    "office_share_of_online": 0.07,
    "online_share": 0.836,
}
#: the optional tables a province may lack
OPTIONAL = tuple(t for t in TABLES if t not in ("dossiers", "accounts"))
#: the misuse scenarios, whose shares are drawn per simulated province
MISUSE_SCENARIOS = (
    "misuse_broker_own",
    "misuse_broker_rented",
    "misuse_borrowed",
    "misuse_takeover",
    "misuse_deceased",
)
#: legitimate look-alikes whose shares cannot be measured either: drawn around the default
LOOK_ALIKES = ("family_elder_apart", "family_household", "assisted", "authorized_mandate")
#: largest simulated province: past it, more dossiers change little but time
MAX_SIM_DOSSIERS = 60_000


@dataclass(frozen=True)
class Profile:
    """A province as its unlabelled data shows it (every share in [0, 1]).

    Attributes
    ----------
    dossiers, months, start : volume, length of the period (calendar months), first day.
    online_share : share of dossiers filed online.
    people_missing : share of person owners absent from ``people`` (NaN when it is absent).
    households_missing : share of people without a household ID.
    relations_missing : share of civil-status links estimated not to be shared.
    networks_missing : share of units without office networks.
    visits_missing : share of desk visits estimated not to be logged.
    kiosk_share : estimated share of dossiers filed by citizens at a hall kiosk.
    absent_tables : optional tables the folder does not hold.
    """

    dossiers: int
    months: int
    start: str
    online_share: float
    people_missing: float
    households_missing: float
    relations_missing: float
    networks_missing: float
    visits_missing: float
    kiosk_share: float
    absent_tables: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (for the model card)."""
        out = asdict(self)
        out["absent_tables"] = list(self.absent_tables)
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def _share(numerator: float, denominator: float, default: float) -> float:
    return float(numerator / denominator) if denominator else default


def _clip(value: float, low: float = 0.0, high: float = 0.95) -> float:
    return float(min(max(value, low), high)) if math.isfinite(value) else low


def measure(ds: Dataset) -> Profile:
    """Measure a province's data (see the module docstring); needs no labels.

    Parameters
    ----------
    ds : the data folder as :func:`features.read_dataset` reads it.

    Notes
    -----
    A table the folder lacks gives the simulator's default for its setting
    and is listed in ``absent_tables``, so the simulated provinces lack it
    too. Linear in the number of dossiers (one pass over the distinct IPs).
    """
    t, present = ds.tables, ds.present
    d = t["dossiers"]
    n = len(d)
    local = d["submitted_at"].dt.tz_convert(LOCAL_TZ)
    if n:
        first, last = local.min(), local.max()
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        start = f"{first.year:04d}-{first.month:02d}-01"
    else:
        months, start = 1, "2025-01-01"
    online = d["channel"] == "online"
    online_share = _share(float(online.sum()), n, REFERENCE["online_share"])
    base = SimConfig()
    people = t["people"]
    people_missing = base.people_missing
    households_missing = base.households_missing
    if "people" in present and len(people):
        persons = d["owner_id"].dropna()
        persons = persons[persons.str.fullmatch(r"\d{12}")]
        if len(persons):
            people_missing = 1 - float(persons.isin(set(people["person_id"])).mean())
        households_missing = float(people["household_id"].isna().mean())
    relations_missing = base.relations_missing
    if {"relations", "people"} <= present and len(people):
        density = len(t["relations"]) / len(people)
        relations_missing = 1 - density / REFERENCE["relations_per_person"]
    networks_missing = base.networks_missing
    if "units" in present and len(t["units"]):
        networks_missing = float(t["units"]["office_networks"].isna().mean())
    visits_missing = base.visits_missing
    counter = float((d["channel"] == "counter").sum())
    if "counter_visits" in present and counter:
        per = len(t["counter_visits"]) / counter
        visits_missing = 1 - per / REFERENCE["visits_per_counter_dossier"]
    kiosk = DEFAULT_SHARES["self_kiosk"]
    if online.any() and "units" in present:
        _, office = ip_membership(d["ip"], d["unit_id"], t["units"])
        known = office[online].notna()
        if known.any():
            office_share = float((office[online][known] == 1).mean())
            kiosk = kiosk * office_share / REFERENCE["office_share_of_online"]
    return Profile(
        dossiers=n,
        months=int(min(max(months, 1), 60)),
        start=start,
        online_share=_clip(online_share, 0.05, 0.99),
        people_missing=_clip(people_missing),
        households_missing=_clip(households_missing),
        relations_missing=_clip(relations_missing),
        networks_missing=_clip(networks_missing, 0.0, 1.0),
        visits_missing=_clip(visits_missing),
        kiosk_share=_clip(kiosk, 0.005, 0.2),
        absent_tables=tuple(x for x in OPTIONAL if x not in present),
    )


def _shares(profile: Profile, rng: np.random.Generator) -> dict[str, float]:
    """Scenario shares: measured online and kiosk shares, drawn misuse and look-alikes."""
    shares = dict(DEFAULT_SHARES)
    # how much misuse, and of which kind: unknowable without labels, drawn wide
    misuse = float(np.exp(rng.uniform(np.log(0.004), np.log(0.06))))
    mix = rng.dirichlet([3.0, 2.0, 1.5, 1.0, 0.8])
    for name, part in zip(MISUSE_SCENARIOS, mix, strict=True):
        shares[name] = misuse * float(part)
    for name in LOOK_ALIKES:  # legitimate filings for others: around the default, up to 2.5x
        shares[name] = DEFAULT_SHARES[name] * float(np.exp(rng.uniform(np.log(0.5), np.log(2.5))))
    shares["self_kiosk"] = profile.kiosk_share * float(rng.uniform(0.7, 1.4))
    # desk and postal filings make up what is not online (officer proxies come out of desk ones)
    offline = _clip(1 - profile.online_share * float(rng.uniform(0.97, 1.03)), 0.01, 0.9)
    default_offline = DEFAULT_SHARES["counter"] + DEFAULT_SHARES["postal"]
    shares["counter"] = offline * DEFAULT_SHARES["counter"] / default_offline
    shares["postal"] = offline * DEFAULT_SHARES["postal"] / default_offline
    others = [k for k in shares if k != "self_online"]
    shares["self_online"] = 1.0 - sum(shares[k] for k in others)
    if shares["self_online"] < 0.05:  # a very offline province: scale the rest down
        scale = 0.95 / sum(shares[k] for k in others)
        shares = {k: (v * scale if k != "self_online" else v) for k, v in shares.items()}
        shares["self_online"] = 1.0 - sum(shares[k] for k in others)
    return shares


def provinces_like(
    profile: Profile, n: int, seed: int = 0, max_dossiers: int = MAX_SIM_DOSSIERS
) -> list[SimConfig]:
    """``n`` simulator settings around a measured province (module docstring).

    Parameters
    ----------
    profile : what :func:`measure` found.
    n : how many provinces.
    seed : the settings and each province's own seed derive from it.
    max_dossiers : the largest simulated province (a bigger one is simulated at this size
        over the same months, so units see about the same volume a month).

    Returns
    -------
    list of SimConfig, each valid (``check()`` passes).
    """
    rng = np.random.default_rng(seed)
    size = int(min(max(profile.dossiers, 2_000), max_dossiers))
    out = []
    for _ in range(n):

        def jitter(value: float, spread: float = 0.1) -> float:
            return _clip(value + float(rng.uniform(-spread, spread)), 0.0, 0.97)

        cfg = SimConfig(
            dossiers=size,
            months=profile.months,
            seed=int(rng.integers(0, 2**31 - 1)),
            start=profile.start,
            officer_proxy_share=float(np.exp(rng.uniform(np.log(0.002), np.log(0.04)))),
            dirt=float(rng.uniform(0.5, 1.5)),
            shares=_shares(profile, rng),
            people_missing=jitter(profile.people_missing, 0.03),
            households_missing=jitter(profile.households_missing),
            relations_missing=jitter(profile.relations_missing, 0.15),
            networks_missing=_clip(jitter(profile.networks_missing), 0.0, 1.0),
            visits_missing=jitter(profile.visits_missing),
            absent_tables=profile.absent_tables,
            dossiers_per_broker=float(np.exp(rng.uniform(np.log(15), np.log(300)))),
            broker_stealth=float(rng.uniform(0.0, 0.9)),
            officer_stealth=float(rng.uniform(0.0, 0.9)),
        )
        cfg.check()
        out.append(cfg)
    return out


def settings_table(configs: list[SimConfig]) -> pd.DataFrame:
    """The drawn settings, one row per simulated province (for the model card and notebooks)."""
    rows = []
    for c in configs:
        misuse = sum(c.shares[k] for k in MISUSE_SCENARIOS)
        rows.append(
            {
                "seed": c.seed,
                "dossiers": c.dossiers,
                "identity_misuse_share": round(misuse, 4),
                "officer_proxy_share": round(c.officer_proxy_share, 4),
                "kiosk_share": round(c.shares["self_kiosk"], 4),
                "relations_missing": round(c.relations_missing, 3),
                "people_missing": round(c.people_missing, 3),
                "dossiers_per_broker": round(c.dossiers_per_broker, 1),
                "broker_stealth": round(c.broker_stealth, 2),
                "officer_stealth": round(c.officer_stealth, 2),
            }
        )
    return pd.DataFrame(rows)
