"""A simulated nation: several provinces, simulated and written one at a time.

Each province is an ordinary simulated province (:func:`.core.simulate`)
with its own seed, its own share of the dossiers, its own CCCD birth-province
codes and its own block of every ID number space, so no ID repeats across the
nation. Only one province is in memory at a time: its tables are written as
one part each (``data/people/p01.parquet``, ``data/dossiers/p01-2025-07.parquet``,
...) and its labels appended to ``labels.csv`` before the next is simulated::

    OUT_DIR/data/<table>/pNN.parquet         one part per province
    OUT_DIR/data/dossiers/pNN-YYYY-MM.parquet  one part per province and month
    OUT_DIR/labels.csv, scenarios.csv        every province's, in turn
    OUT_DIR/manifest.json                    the nation's figures, and each province's

Brokers work across provinces: a few brokers of the first province, with
accounts made before the period, each take over the broker dossiers of one
local broker in every later province (owners and receiving units of that
province; the national broker's accounts, devices, phone, address and
payment token). Their accounts stay in the first province's part, once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from features.contract import PROXY_TYPES, TABLES
from features.errors import UsageError

from .assemble import Province
from .config import SimConfig
from .core import _as_text, _write_parts, _write_table, simulate

#: (description, provinces done)
NationProgress = Callable[[str, int], None]

#: the 34 provinces since the 2025 mergers: name, CCCD code of the province and of
#: the main province merged into it (a person's ID carries where the birth was registered)
PROVINCES: tuple[tuple[str, str, str], ...] = (
    ("Quảng Ngãi", "051", "062"),
    ("Hà Nội", "001", "001"),
    ("Hồ Chí Minh", "079", "074"),
    ("Đà Nẵng", "048", "049"),
    ("Gia Lai", "064", "052"),
    ("Đắk Lắk", "066", "054"),
    ("Khánh Hòa", "056", "058"),
    ("Lâm Đồng", "068", "067"),
    ("Quảng Trị", "045", "044"),
    ("Huế", "046", "046"),
    ("Hà Tĩnh", "042", "042"),
    ("Nghệ An", "040", "040"),
    ("Thanh Hóa", "038", "038"),
    ("Ninh Bình", "037", "036"),
    ("Hưng Yên", "033", "034"),
    ("Hải Phòng", "031", "030"),
    ("Quảng Ninh", "022", "022"),
    ("Bắc Ninh", "027", "024"),
    ("Phú Thọ", "025", "026"),
    ("Thái Nguyên", "019", "006"),
    ("Tuyên Quang", "008", "002"),
    ("Lào Cai", "010", "015"),
    ("Lạng Sơn", "020", "020"),
    ("Cao Bằng", "004", "004"),
    ("Điện Biên", "011", "011"),
    ("Lai Châu", "012", "012"),
    ("Sơn La", "014", "014"),
    ("Đồng Nai", "075", "070"),
    ("Tây Ninh", "072", "080"),
    ("Đồng Tháp", "087", "082"),
    ("Vĩnh Long", "086", "083"),
    ("An Giang", "089", "091"),
    ("Cần Thơ", "092", "094"),
    ("Cà Mau", "096", "095"),
)

#: every province gets at least this many dossiers
MIN_PER_PROVINCE = 400

_BROKER_SCENARIOS = ("misuse_broker_own", "misuse_broker_rented")


def part_name(index: int) -> str:
    """The file name of a province's parts: ``p01`` for the first."""
    return f"p{index + 1:02d}"


def plan(cfg: SimConfig, provinces: int) -> list[SimConfig]:
    """The settings of each province of a nation of ``cfg.dossiers`` dossiers.

    Provinces differ in size (:data:`MIN_PER_PROVINCE` each, then of the rest
    an even half and a lognormal share) and each has a seed of its own drawn
    from ``cfg.seed``: province ``i``'s seed does not depend on how many
    provinces there are. Province ``i`` is ``PROVINCES[i]``.

    Raises
    ------
    UsageError
        When ``provinces`` is not between 1 and 34, or the dossiers are too
        few to give each province :data:`MIN_PER_PROVINCE`.
    """
    if not 1 <= provinces <= len(PROVINCES):
        raise UsageError(f"--provinces must be between 1 and {len(PROVINCES)} (got {provinces})")
    if cfg.dossiers < MIN_PER_PROVINCE * provinces:
        raise UsageError(
            f"--dossiers must be at least {MIN_PER_PROVINCE * provinces:,} for {provinces} "
            f"provinces ({MIN_PER_PROVINCE} each; got {cfg.dossiers:,})"
        )
    rng = np.random.default_rng([cfg.seed, provinces])
    weight = rng.lognormal(0, 0.5, provinces)
    share = 0.5 / provinces + 0.5 * weight / weight.sum()
    exact = MIN_PER_PROVINCE + (cfg.dossiers - MIN_PER_PROVINCE * provinces) * share
    sizes = np.floor(exact).astype(np.int64)
    sizes[np.argsort(sizes - exact)[: cfg.dossiers - int(sizes.sum())]] += 1  # largest remainders
    seeds = np.random.SeedSequence(cfg.seed).spawn(provinces)
    return [
        dataclasses.replace(
            cfg,
            dossiers=int(sizes[i]),
            seed=int(seeds[i].generate_state(1)[0]),
            home_province=PROVINCES[i][1],
            merged_province=PROVINCES[i][2],
            province_index=i,
            province_count=provinces,
            unit_prefix=f"{PROVINCES[i][1]}.",
        )
        for i in range(provinces)
    ]


def _brokers_filing_own(p: Province) -> pd.DataFrame:
    """The cards of ``p``'s brokers with at least one dossier through their own account."""
    own = p.broker_dossiers.merge(p.scenarios, on="dossier_id")
    filing = own.loc[own["scenario"] == "misuse_broker_own", "broker"].unique()
    return p.brokers[p.brokers["broker"].isin(filing)]


def national_brokers(p: Province, rng: np.random.Generator) -> pd.DataFrame:
    """A few of the first province's brokers, who will also work in the others.

    About one broker in ten, at least two, among those filing through their
    own accounts, all made before the period (a broker cannot file in another
    province through an account made later).
    """
    cand = _brokers_filing_own(p)
    cand = cand[cand["ready"]]
    if cand.empty:
        return cand
    k = min(len(cand), max(2, len(p.brokers) // 10))
    return cand.iloc[np.sort(rng.choice(len(cand), k, replace=False))].reset_index(drop=True)


def lend_brokers(p: Province, national: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """National brokers take over local brokers' dossiers in province ``p`` (in place).

    Each national broker takes over one local broker (one who files through
    their own account) and all of that broker's dossiers: the local broker's
    own accounts and devices on them become the national broker's (by
    position), and so do the phone, IP address and payment token where the
    dossier shows the local broker's; a stale mandate the local broker waved
    gets the national broker as grantee. Owners, units, times and labels
    stay as they were.

    Returns
    -------
    One row per dossier taken over: dossier_id, account_id (the national
    broker's first account, naming the broker), scenario.
    """
    local = _brokers_filing_own(p)
    k = min(len(national), len(local))
    if k == 0:
        return pd.DataFrame(columns=["dossier_id", "account_id", "scenario"])
    local = local.iloc[np.sort(rng.choice(len(local), k, replace=False))].reset_index(drop=True)
    nat = national.iloc[rng.choice(len(national), k, replace=False)].reset_index(drop=True)
    acc_map: dict[str, str] = {}
    dev_map: dict[str, str] = {}
    for (_, lo), (_, na) in zip(local.iterrows(), nat.iterrows(), strict=True):
        acc_map.update(
            {a: na["accounts"][j % len(na["accounts"])] for j, a in enumerate(lo["accounts"])}
        )
        dev_map.update(
            {v: na["devices"][j % len(na["devices"])] for j, v in enumerate(lo["devices"])}
        )
    pair = pd.concat(
        [
            local[["broker", "person_id", "phone", "ip", "token"]],
            nat[["person_id", "phone", "ip", "token", "accounts"]].add_prefix("nat_"),
        ],
        axis=1,
    ).set_index("broker")
    broker_of = p.broker_dossiers.set_index("dossier_id")["broker"]
    broker_of = broker_of[broker_of.isin(pair.index)]
    d = p.tables["dossiers"]
    who = d["dossier_id"].map(broker_of)
    rows = who.notna().to_numpy()
    side = pair.loc[who[rows].astype(np.int64).to_numpy()]

    def swap(col: str, old: str, new: str) -> None:
        values = d[col].to_numpy(copy=True)
        here = values[rows]
        values[rows] = np.where(here == side[old].to_numpy(), side[new].to_numpy(), here)
        d[col] = values

    for col, mapping in (("account_id", acc_map), ("device_id", dev_map)):
        values = d[col].to_numpy(copy=True)
        values[rows] = [mapping.get(v, v) for v in values[rows]]
        d[col] = values
    swap("contact_phone", "phone", "nat_phone")
    swap("ip", "ip", "nat_ip")
    swap("payer_token", "token", "nat_token")
    if "authorizations" in p.tables:
        claimed = pd.DataFrame(
            {
                "authorization_id": d.loc[rows, "authorization_id"].to_numpy(),
                "local": side["person_id"].to_numpy(),
                "national": side["nat_person_id"].to_numpy(),
            }
        ).dropna()
        claimed = claimed.drop_duplicates("authorization_id").set_index("authorization_id")
        auth = p.tables["authorizations"]
        ref = auth["authorization_id"].map(claimed["local"])
        mine = (auth["grantee_id"] == ref).to_numpy()
        grantee = auth["grantee_id"].to_numpy(copy=True)
        grantee[mine] = auth.loc[mine, "authorization_id"].map(claimed["national"]).to_numpy()
        auth["grantee_id"] = grantee
    taken = pd.DataFrame(
        {
            "dossier_id": d.loc[rows, "dossier_id"].to_numpy(),
            "account_id": [a[0] for a in side["nat_accounts"]],
        }
    ).drop_duplicates("dossier_id")
    return taken.merge(p.scenarios, on="dossier_id")


def _clear(out: Path) -> Path:
    """Make ``out/data`` and remove any table written there before (file or folder)."""
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob("*"):
        if stale.stem in TABLES:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    return data


def simulate_nation(
    cfg: SimConfig,
    provinces: int,
    out_dir: str | Path,
    fmt: str = "parquet",
    progress: NationProgress | None = None,
) -> dict[str, object]:
    """Simulate ``provinces`` provinces and write them under ``out_dir`` as parts.

    Parameters
    ----------
    cfg : the nation's settings; ``cfg.dossiers`` is the total over provinces.
    provinces : how many (1 to 34); see :func:`plan` for their sizes and seeds.
    out_dir : the folder to write (see the module docstring for the layout).
    fmt : csv or parquet (parquet is smaller and faster to read).
    progress : called with a description and the number of provinces done.

    Returns
    -------
    The nation's manifest (also written to ``manifest.json``).

    Raises
    ------
    UsageError
        When the settings cannot produce the nation.

    Notes
    -----
    Peak memory is about that of the largest province: each is written, and
    dropped, before the next is simulated. Time is linear in the dossiers.
    """
    if fmt not in ("csv", "parquet"):
        raise UsageError(f"--format must be csv or parquet (got {fmt!r})")
    cfg.check()
    configs = plan(cfg, provinces)
    for c in configs:
        c.check()
    say = progress or (lambda _msg, _done: None)
    out = Path(out_dir)
    data = _clear(out)
    rng = np.random.default_rng([cfg.seed, provinces, 1])
    national = pd.DataFrame()
    lent: list[pd.DataFrame] = []
    per_province: list[dict[str, Any]] = []
    label_schema = pa.schema([("dossier_id", pa.string()), ("proxy_type", pa.string())])
    scenario_schema = pa.schema([("dossier_id", pa.string()), ("scenario", pa.string())])
    options = pacsv.WriteOptions(quoting_style="needed")
    with contextlib.ExitStack() as stack:
        labels = stack.enter_context(
            pacsv.CSVWriter(out / "labels.csv", label_schema, write_options=options)
        )
        scenarios = stack.enter_context(
            pacsv.CSVWriter(out / "scenarios.csv", scenario_schema, write_options=options)
        )
        for i, pcfg in enumerate(configs):
            name, part = PROVINCES[i][0], part_name(i)
            where = f"{part} {name} ({i + 1}/{provinces})"

            def stage(msg: str, where: str = where, i: int = i) -> None:
                say(f"{where}: {msg}", i)

            p = simulate(pcfg, progress=stage)
            if i == 0:
                national = national_brokers(p, rng)
                taken = pd.DataFrame(columns=["dossier_id", "account_id", "scenario"])
            else:
                taken = lend_brokers(p, national, rng)
            lent.append(taken.assign(province=part))
            say(f"{where}: writing", i)
            for table in TABLES:
                if table not in p.tables:
                    continue
                if table == "dossiers":
                    _write_parts(p.tables[table], data / table, fmt, prefix=f"{part}-")
                else:
                    (data / table).mkdir(exist_ok=True)
                    _write_table(p.tables[table], data / table / part, fmt)
            labels.write_table(_as_text(p.labels))
            scenarios.write_table(_as_text(p.scenarios))
            m = dict(p.manifest)
            del m["generator"]
            per_province.append(
                {
                    "part": part,
                    "name": name,
                    "province_codes": [pcfg.home_province, pcfg.merged_province],
                    "national_broker_dossiers": len(taken),
                    **m,
                }
            )
            del p
            gc.collect()
            say(f"{where}: written", i + 1)
    manifest = _nation_manifest(cfg, fmt, per_province, national, pd.concat(lent))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _nation_manifest(
    cfg: SimConfig,
    fmt: str,
    per_province: list[dict[str, Any]],
    national: pd.DataFrame,
    lent: pd.DataFrame,
) -> dict[str, object]:
    """The nation's figures: sums over provinces, shares weighted by their dossiers."""
    total = sum(int(m["dossiers"]) for m in per_province)

    def summed(key: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in per_province:
            for k, v in m[key].items():
                out[k] = out.get(k, 0) + int(v)
        return dict(sorted(out.items()))

    def weighted(values: list[float], digits: int) -> float:
        return round(
            sum(v * int(m["dossiers"]) for v, m in zip(values, per_province, strict=True)) / total,
            digits,
        )

    shares = {
        k: weighted([float(m["proxy_type_share"][k]) for m in per_province], 5) for k in PROXY_TYPES
    }
    online = weighted([float(m["claimed_online_share"]) for m in per_province], 4)
    brokers = []
    for _, b in national.iterrows():
        mine = lent[lent["account_id"] == b["accounts"][0]]
        brokers.append(
            {
                "accounts": list(b["accounts"]),
                "home": per_province[0]["part"],
                "dossiers_elsewhere": mine.groupby("province").size().to_dict(),
            }
        )
    return {
        "generator": "detector simulate --provinces",
        "seed": cfg.seed,
        "provinces": len(per_province),
        "format": fmt,
        "dossiers": total,
        "months": cfg.months,
        "start": cfg.start,
        "dirt": cfg.dirt,
        "proxy_type_share": shares,
        "scenario_counts": summed("scenario_counts"),
        "claimed_online_share": online,
        "rows": summed("rows"),
        "cross_province_brokers": brokers,
        "per_province": per_province,
    }
