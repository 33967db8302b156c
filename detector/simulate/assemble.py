"""Turn generated filings into the contract's tables, with officer proxies and dirt.

Officer proxies are made last because they depend on the rest: officers at
units behind their online target turn desk submissions into "online" ones,
more often the further behind the unit's month-to-date genuine online share
is and the closer the month's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import _catalogue as cat
from .config import SimConfig
from .legitimate import LegitimateScenarios
from .misuse import MisuseScenarios
from .timing import DAY, MINUTE
from .typologies import Filed, _pick
from .world import World

NEVER = np.iinfo(np.int64).min

#: generation order: scenarios that create accounts or deaths others rely on come first
ORDER = (
    ("family_birth", "family_birth"),
    ("self_online", "self_online"),
    ("business_self", "business_self"),
    ("officer_own", "officer_own"),
    ("family_household", "family_household"),
    ("family_elder_apart", "family_elder_apart"),
    ("family_death", "family_death"),
    ("authorized_mandate", "authorized_mandate"),
    ("authorized_legal_rep", "authorized_legal_rep"),
    ("authorized_firm", "authorized_firm"),
    ("misuse_broker_own", "broker_own"),
    ("misuse_broker_rented", "broker_rented"),
    ("misuse_borrowed", "borrowed"),
    ("misuse_takeover", "takeover"),
    ("misuse_deceased", "deceased"),
    ("self_kiosk", "self_kiosk"),
    ("assisted", "assisted"),
    ("counter", "counter"),
    ("postal", "postal"),
)


class Generators(LegitimateScenarios, MisuseScenarios):
    """Every scenario generator (officer proxies are made in :func:`_officer_proxies`)."""


@dataclass
class Province:
    """A simulated province: the contract's tables plus the truth kept apart from them."""

    tables: dict[str, pd.DataFrame]
    labels: pd.DataFrame  # dossier_id, proxy_type
    scenarios: pd.DataFrame  # dossier_id, scenario (finer than proxy_type, for plausibility checks)
    manifest: dict[str, object]
    #: dossier_id, broker: which broker filed each broker dossier (kept out of the files)
    broker_dossiers: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: one row per broker, see :func:`.tables.broker_cards`
    brokers: pd.DataFrame = field(default_factory=pd.DataFrame)


def generate(cfg: SimConfig, rng: np.random.Generator, w: World) -> tuple[pd.DataFrame, Filed]:
    """All filings of the period as one frame of entity references (see typologies)."""
    g = Generators(w, rng)
    for share_key, method in ORDER:
        n = round(cfg.dossiers * cfg.shares.get(share_key, 0.0))
        if n > 0:
            getattr(g, method)(n)
    d = pd.concat(g.out.dossiers, ignore_index=True)
    d = _no_filing_after_death(w, rng, d)
    d = _officer_proxies(w, rng, d)
    d = d.sort_values("t", kind="stable").reset_index(drop=True)
    _created_before_first_use(w, rng, d)
    g.out.dossiers = [d]
    return d, g.out


def _created_before_first_use(w: World, rng: np.random.Generator, d: pd.DataFrame) -> None:
    """An account exists before it is first used (a shared account, say, was made earlier)."""
    a = w.arrays
    used = d[d["account"] >= 0]
    first = used.groupby("account")["t"].min()
    acc = first.index.to_numpy()
    late = a["a_created"][acc] >= first.to_numpy()
    fix = acc[late]
    a["a_created"][fix] = first.to_numpy()[late] - rng.integers(1, 60, len(fix)) * DAY


def _no_filing_after_death(w: World, rng: np.random.Generator, d: pd.DataFrame) -> pd.DataFrame:
    """Legitimate filings drawn before a death was decided move to before that death.

    They move back by whole weeks (same weekday and time of day); those that
    cannot move far enough, or would then precede their account, are dropped.
    Checked for the owner, then the holder.
    """
    a = w.arrays
    start = w.cal.start.astype(np.int64)
    for role in ("owner", "holder"):
        if role == "owner":
            who = d["owner_p"].to_numpy()
        else:
            acc = d["account"].to_numpy()
            who = np.where(acc >= 0, a["a_holder_p"][np.maximum(acc, 0)], -1)
        death = np.where(who >= 0, a["p_death_day"][np.maximum(who, 0)], NEVER)
        legit = (d["label"] != "identity_misuse").to_numpy() & (
            d["scenario"] != "family_death"
        ).to_numpy()
        t = d["t"].to_numpy().copy()
        bad = legit & (death != NEVER) & (start + t // DAY >= death)
        weeks = (start + t // DAY - death) // 7 + 1
        moved = t - weeks * 7 * DAY
        acc = d["account"].to_numpy()
        created = np.where(acc >= 0, a["a_created"][np.maximum(acc, 0)], NEVER)
        movable = bad & (moved >= 0) & (moved > created)
        t[movable] -= weeks[movable] * 7 * DAY
        d = d.assign(t=t)[~(bad & ~movable)].reset_index(drop=True)
    return d


def _officer_proxies(w: World, rng: np.random.Generator, d: pd.DataFrame) -> pd.DataFrame:
    a, cfg, cal = w.arrays, w.cfg, w.cal
    unit = d["unit"].to_numpy()
    t = d["t"].to_numpy()
    day = t // DAY
    key = unit.astype(np.int64) * 1000 + cal.month_index[day]
    order = np.lexsort((t, key))
    online = (d["channel"].to_numpy() == "online")[order]
    ks = key[order]
    cum_on = pd.Series(online.astype(int)).groupby(ks).cumsum().to_numpy() - online
    cum_all = pd.Series(np.ones(len(ks), int)).groupby(ks).cumsum().to_numpy() - 1
    target = w.u_target[unit[order]]
    mtd = (cum_on + 10 * target) / (cum_all + 10)  # smoothed: the first days of a month say little
    behind = np.empty(len(d))
    behind[order] = np.clip((target - mtd) / 0.12, 0, 1)
    late = 0.1 + (cal.day_of_month[day] / 31.0) ** 2
    cand = (
        (d["scenario"].to_numpy() == "counter")
        & (d["label"].to_numpy() == "self")
        & w.u_proxying[unit]
    )
    p = behind * late * cand
    if p.sum() == 0:
        return d
    p = np.clip(p * cfg.officer_proxy_share * cfg.dossiers / p.sum(), 0, 0.9)
    conv = np.flatnonzero(rng.random(len(d)) < p)
    n = len(conv)
    cu = unit[conv]
    officer = np.empty(n, np.int64)
    for u in np.unique(cu):
        rows = np.flatnonzero(cu == u)
        pool = np.flatnonzero(a["s_proxy"] & (a["s_unit"] == u))
        if len(pool) == 0:
            pool = np.flatnonzero((a["s_unit"] == u) & (a["s_role"] == "one_stop_officer"))
        officer[rows] = pool[rng.integers(0, len(pool), len(rows))]
    owner = d["owner_p"].to_numpy()[conv]
    form = a["s_proxy_form"][officer].copy()
    tc = t[conv] + rng.integers(1, 9, n) * MINUTE
    form[(form == "created_account") & (a["p_account"][owner] >= 0)] = "staff_account"
    off_p = a["s_person"][officer]
    acc = a["p_account"][off_p].copy()
    device = a["s_desk"][officer].copy()
    # shared account: one account per unit, held by an officer's relative, used at every desk
    shared = np.flatnonzero(form == "shared_account")
    for u in np.unique(cu[shared]):
        rows = shared[cu[shared] == u]
        first_officer = a["s_person"][officer[rows[0]]]
        hh_mates = np.flatnonzero(
            (a["p_hh"] == a["p_hh"][first_officer]) & (a["p_age"] >= 18) & (a["p_staff"] < 0)
        )
        holder = hh_mates[0] if len(hh_mates) else first_officer
        w.give_accounts(rng, np.array([holder]))
        acc[rows] = a["p_account"][holder]
        desks = a["s_desk"][(a["s_unit"] == u) & (a["s_desk"] >= 0)]
        device[rows] = desks[rng.integers(0, len(desks), len(rows))]
    created = np.flatnonzero(form == "created_account")
    created = created[
        np.argsort(tc[created], kind="stable")
    ]  # the account is made at the first visit
    first = created[~pd.Series(owner[created]).duplicated().to_numpy()]
    new = w.new_accounts(
        owner[first],
        tc[first] - rng.integers(2, 10, len(first)) * MINUTE,
        w.office_ip(rng, cu[first]),
        np.where(rng.random(len(first)) < 0.7, 1, 2),
    )
    a["p_account"][owner[first]] = new
    acc[created] = a["p_account"][owner[created]]
    r = rng.random(n)
    stealth = cfg.officer_stealth
    phone = np.where(
        r < 0.45 * (1 - stealth),
        a["p_phone"][off_p],
        np.where(r < 0.8 + 0.2 * stealth, a["p_phone"][owner], None),
    )
    ip = w.office_ip(rng, cu)
    if stealth > 0:  # later in the day, and from the hall's kiosk, as guided self-service is
        later = rng.random(n) < stealth
        tc = np.where(later, tc + rng.integers(30, 300, n) * MINUTE, tc)
        tc = np.minimum(tc, cal.n_days * DAY - 1)
        kiosk = np.flatnonzero(rng.random(n) < stealth)
        device[kiosk] = [w.u_kiosks[u][0] for u in cu[kiosk]]
    d = d.copy()
    idx = d.index[conv]
    d.loc[idx, "channel"] = "online"
    d.loc[idx, "t"] = tc
    d.loc[idx, "account"] = acc
    d.loc[idx, "device"] = device
    d.loc[idx, "ip"] = ip
    d.loc[idx, "phone"] = phone
    d.loc[idx, "payer"] = np.where(rng.random(n) < 0.15, a["p_token"][owner], None)
    d.loc[idx, "attachment"] = _pick(rng, n, {"scan": 0.8, "photo": 0.15, "none": 0.05})
    d.loc[idx, "declared"] = _pick(rng, n, {"self": 0.8, "none": 0.2})
    d.loc[idx, "officer"] = np.where(rng.random(n) < 0.85, officer, -1)
    d.loc[idx, "label"] = "officer_proxy"
    d.loc[idx, "scenario"] = "officer_proxy_" + form.astype(str)
    return d


def _officers_by_unit(w: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = w.arrays
    offs = np.flatnonzero(a["s_role"] == "one_stop_officer")
    offs = offs[np.argsort(a["s_unit"][offs], kind="stable")]
    counts = np.bincount(a["s_unit"][offs], minlength=w.n_units)
    starts = np.cumsum(counts) - counts
    return offs, starts, counts


def next_office_time(w: World, rng: np.random.Generator, s: np.ndarray) -> np.ndarray:
    """Move moments outside office hours to the next working morning."""
    day = s // DAY
    minute = (s % DAY) // MINUTE
    n_days = w.cal.n_days
    in_range = day < n_days
    dow = np.where(in_range, w.cal.dow[np.minimum(day, n_days - 1)], 0)
    hol = np.where(in_range, w.cal.holiday[np.minimum(day, n_days - 1)], False)
    ok = (dow < 5) & ~hol & (minute >= 450) & (minute < 1020)
    nxt = day + np.where(minute >= 1020, 1, 0)
    for _ in range(12):  # skip weekends and holidays (Tết is at most 9 days)
        d_ = np.minimum(nxt, n_days - 1)
        closed = (nxt < n_days) & ((w.cal.dow[d_] >= 5) | w.cal.holiday[d_])
        nxt = nxt + closed
    moved = nxt * DAY + 450 * MINUTE + rng.integers(0, 180, len(s)) * MINUTE
    return np.where(ok, s, moved)


def timings(w: World, rng: np.random.Generator, d: pd.DataFrame) -> dict[str, np.ndarray]:
    """Sync and acceptance: who accepted each dossier and when."""
    n = len(d)
    t = d["t"].to_numpy()
    ch = d["channel"].to_numpy()
    online, counter = ch == "online", ch == "counter"
    r = rng.random(n)
    lag = np.where(
        r < 0.80,
        rng.integers(5, 300, n),
        np.where(r < 0.95, rng.integers(300, 6 * 3600, n), rng.integers(36 * 3600, 72 * 3600, n)),
    )
    synced = np.where(online, t + lag, np.where(counter, t, t + rng.integers(0, 7200, n)))
    offs, starts, counts = _officers_by_unit(w)
    unit = d["unit"].to_numpy()
    rand_off = offs[starts[unit] + (rng.random(n) * counts[unit]).astype(np.int64)]
    officer = np.where(d["officer"].to_numpy() >= 0, d["officer"].to_numpy(), rand_off)
    fast = d["fast_accept"].to_numpy().astype(bool) | (d["label"].to_numpy() == "officer_proxy")
    normal = synced + (rng.lognormal(np.log(3 * 3600), 1.0, n)).astype(np.int64)
    normal = np.maximum(next_office_time(w, rng, normal), synced + 60)
    accepted = np.where(fast, t + rng.integers(1, 15, n) * MINUTE, normal)
    pending = online & ~fast & (rng.random(n) < 0.02)
    return {"synced": synced, "accepted": accepted, "officer": officer, "pending": pending}


def build_relations(w: World, rng: np.random.Generator) -> pd.DataFrame:
    """Civil-status links from the households, with records missing as in real extracts."""
    from .world import ROLE_CHILD, ROLE_ELDER, ROLE_HEAD, ROLE_OTHER, ROLE_SPOUSE

    a = w.arrays
    n = len(a["p_hh"])
    idx = np.arange(n)
    head_of = pd.Series(idx[a["p_role"] == ROLE_HEAD], index=a["p_hh"][a["p_role"] == ROLE_HEAD])
    head_of = head_of[~head_of.index.duplicated()]
    spouse_of = pd.Series(
        idx[a["p_role"] == ROLE_SPOUSE], index=a["p_hh"][a["p_role"] == ROLE_SPOUSE]
    )
    spouse_of = spouse_of[~spouse_of.index.duplicated()]
    head = head_of.reindex(a["p_hh"]).fillna(-1).astype(np.int64).to_numpy()
    spouse = spouse_of.reindex(a["p_hh"]).fillna(-1).astype(np.int64).to_numpy()
    role = a["p_role"]
    parts = [
        (head[role == ROLE_SPOUSE], idx[role == ROLE_SPOUSE], "spouse"),
        (head[role == ROLE_CHILD], idx[role == ROLE_CHILD], "parent_of"),
        (
            spouse[(role == ROLE_CHILD) & (spouse >= 0)],
            idx[(role == ROLE_CHILD) & (spouse >= 0)],
            "parent_of",
        ),
        (head[role == ROLE_ELDER], idx[role == ROLE_ELDER], "child_of"),
        (head[role == ROLE_OTHER], idx[role == ROLE_OTHER], "sibling"),
        (idx[a["p_child_apart"] >= 0], a["p_child_apart"][a["p_child_apart"] >= 0], "parent_of"),
    ]
    src = np.concatenate([p[0] for p in parts])
    dst = np.concatenate([p[1] for p in parts])
    rel = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts])
    ok = (src >= 0) & (dst >= 0)
    src, dst, rel = src[ok], dst[ok], rel[ok]
    # extracts write each link in one direction or the other
    flip = rng.random(len(src)) < 0.35
    inverse = {
        "parent_of": "child_of",
        "child_of": "parent_of",
        "spouse": "spouse",
        "sibling": "sibling",
    }
    rel = np.where(flip, pd.Series(rel).map(inverse).to_numpy(), rel)
    src, dst = np.where(flip, dst, src), np.where(flip, src, dst)
    # by default, a third of civil-status links are not shared with the one-stop system
    keep = rng.random(len(src)) < 1 - w.cfg.relations_missing
    return pd.DataFrame({"src": src[keep], "dst": dst[keep], "relation": rel[keep]})


def make_ids(w: World, rng: np.random.Generator, n: int) -> np.ndarray:
    """Opaque dossier IDs in the style of the one-stop systems (unit-agnostic)."""
    return np.array([f"H{v:010d}" for v in w.unique(rng, n, 10**10)], dtype=object)


def device_strings(w: World, rng: np.random.Generator) -> np.ndarray:
    return w.hex_ids(rng, int(w.arrays["n_devices"][0]))


def proc_codes(proc: np.ndarray) -> np.ndarray:
    return cat.CODES[proc]
