"""Build the world: units, people and households, staff, accounts, businesses,
firms and brokers (see :mod:`.world`)."""

from __future__ import annotations

import numpy as np
from stdnum.vn import mst

from . import _names
from .config import SimConfig
from .timing import DAY, Calendar
from .world import (
    _HOME_BLOCKS,
    _MOBILE_BLOCKS,
    _OTHER_PROVINCES,
    ROLE_CHILD,
    ROLE_ELDER,
    ROLE_HEAD,
    ROLE_OTHER,
    ROLE_SPOUSE,
    World,
    zfill,
)


def build_world(cfg: SimConfig, rng: np.random.Generator) -> World:
    cal = Calendar(cfg.start, cfg.months)
    w = World(cfg=cfg, cal=cal)
    _units(w, rng)
    _people(w, rng)
    _staff(w, rng)
    _accounts(w, rng)
    _businesses(w, rng)
    _actors(w, rng)
    return w


def _units(w: World, rng: np.random.Generator) -> None:
    n = w.cfg.dossiers
    n_commune = int(np.clip(round(n / w.cfg.months / 700), 6, 150))
    n_prov = 1 + n_commune // 25
    k = n_prov + n_commune
    w.u_province = np.arange(k) < n_prov
    names = []
    for i in range(k):
        if i < n_prov:
            names.append(
                "Trung tâm Phục vụ hành chính công tỉnh" + ("" if i == 0 else f" - Chi nhánh {i}")
            )
        else:
            base = _names.COMMUNE_NAMES[(i - n_prov) % len(_names.COMMUNE_NAMES)]
            rep = (i - n_prov) // len(_names.COMMUNE_NAMES)
            names.append(f"UBND phường {base}" + ("" if rep == 0 else f" {rep + 1}"))
    w.u_name = np.array(names, dtype=object)
    w.u_id = np.array(
        [
            w.cfg.unit_prefix + (f"P{i:02d}" if i < n_prov else f"X{i - n_prov + 1:03d}")
            for i in range(k)
        ],
        dtype=object,
    )
    w.u_weight = rng.lognormal(0, 0.5, k)
    # genuine digital uptake of the unit's citizens, and the target it is given
    w.u_uptake = rng.uniform(0.70, 0.97, k)
    w.u_target = rng.choice([0.80, 0.85, 0.90], k, p=[0.3, 0.45, 0.25])
    w.u_uptake[w.u_province] = rng.uniform(0.85, 0.95, n_prov)
    # office networks: one /26 per unit in a government block; 2 NAT egress addresses.
    # A province has at most 157 units; each takes its own 160 /26 slots of the block.
    slot = w.cfg.province_index * 160 + np.arange(k)
    second, third, fourth = 162 + slot // 1024, (slot // 4) % 256, (slot % 4) * 64
    w.u_cidr = np.array(
        [f"203.{s}.{t}.{f}/26" for s, t, f in zip(second, third, fourth, strict=True)],
        dtype=object,
    )
    w.u_egress = np.array(
        [
            [f"203.{s}.{t}.{f + 1}", f"203.{s}.{t}.{f + 2 + int(r)}"]
            for s, t, f, r in zip(second, third, fourth, rng.integers(0, 20, k), strict=True)
        ],
        dtype=object,
    )
    w.u_networks_known = rng.random(k) > w.cfg.networks_missing
    # units behind target where officers convert desk submissions into online ones
    behind = w.u_uptake < w.u_target - 0.01
    w.u_proxying = behind & (rng.random(k) < 0.65) & ~w.u_province
    # at least three units do it, the furthest behind, so every form of proxy appears
    gap_rank = np.argsort(w.u_uptake - w.u_target + w.u_province)
    w.u_proxying[gap_rank[:3]] = True


def _people(w: World, rng: np.random.Generator) -> None:
    cfg, cal = w.cfg, w.cal
    n_target = max(4000, int(cfg.dossiers * 0.55))
    n_hh = int(n_target / 3.3)
    size = rng.choice(np.arange(1, 7), n_hh, p=[0.12, 0.20, 0.25, 0.23, 0.12, 0.08])
    hh = np.repeat(np.arange(n_hh), size)
    pos = np.arange(len(hh)) - np.repeat(np.cumsum(size) - size, size)
    hsize = size[hh]
    n = len(hh)
    head_age = np.clip(rng.normal(48, 14, n_hh), 22, 92)[hh]
    r = rng.random(n)
    role = np.full(n, ROLE_CHILD)
    role[pos == 0] = ROLE_HEAD
    role[(pos == 1) & (r < 0.85)] = ROLE_SPOUSE
    role[(pos == 1) & (r >= 0.85)] = ROLE_OTHER
    role[
        (pos >= 2) & (pos == hsize - 1) & (hsize >= 3) & (head_age < 62) & (rng.random(n) < 0.35)
    ] = ROLE_ELDER
    age = np.where(role == ROLE_HEAD, head_age, 0.0)
    age = np.where(role == ROLE_SPOUSE, np.clip(head_age + rng.normal(-2, 4, n), 18, 95), age)
    age = np.where(role == ROLE_OTHER, np.clip(head_age + rng.normal(0, 8, n), 18, 95), age)
    age = np.where(role == ROLE_CHILD, rng.random(n) * np.clip(head_age - 20, 0.5, 38), age)
    age = np.where(role == ROLE_ELDER, np.clip(head_age + rng.uniform(22, 34, n), 60, 101), age)
    # newborns for birth registrations: one per chosen young household
    n_birth = int(cfg.dossiers * cfg.shares.get("family_birth", 0))
    young = np.flatnonzero((role == ROLE_HEAD) & (head_age < 45) & (hsize >= 2))
    birth_hh = (
        hh[rng.choice(young, n_birth, replace=len(young) < n_birth)]
        if n_birth
        else np.zeros(0, int)
    )
    reg_s = cal.draw(rng, n_birth, "online")
    born_s = reg_s - rng.integers(3, 60, n_birth) * DAY
    hh = np.concatenate([hh, birth_hh])
    role = np.concatenate([role, np.full(n_birth, ROLE_CHILD)])
    start_days = cal.start.astype(np.int64)
    birth_day = np.concatenate(
        [
            start_days - (age * 365.25).astype(np.int64) - rng.integers(0, 365, n),
            start_days + born_s // DAY,
        ]
    )
    n = len(hh)
    age_now = (start_days - birth_day) / 365.25
    female = np.where(role == ROLE_SPOUSE, False, rng.random(n) < 0.5)
    head_female = rng.random(n_hh) < 0.3
    female = np.where(role == ROLE_HEAD, head_female[hh], female)
    female = np.where(role == ROLE_SPOUSE, ~head_female[hh], female)
    hh_family = _names.FAMILY[rng.choice(len(_names.FAMILY), n_hh, p=_names.FAMILY_W)]
    fam = hh_family[hh].copy()
    own_family = (role == ROLE_SPOUSE) | (role == ROLE_OTHER) & (rng.random(n) < 0.5)
    fam[own_family] = _names.FAMILY[
        rng.choice(len(_names.FAMILY), int(own_family.sum()), p=_names.FAMILY_W)
    ]
    names = _names.full_names(rng, fam, female)
    # birth province: the merged province carries two codes; some were born elsewhere
    r = rng.random(n)
    prov = np.where(
        r < 0.58, cfg.home_province, np.where(r < 0.85, cfg.merged_province, "x")
    ).astype(object)
    other = prov == "x"
    prov[other] = _OTHER_PROVINCES[rng.integers(0, len(_OTHER_PROVINCES), int(other.sum()))]
    birth_year = birth_day.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    digit = np.where(birth_year >= 2000, 2, 0) + female.astype(int)
    prefix = prov.astype(str).astype(np.int64) * 1000 + digit * 100 + birth_year % 100
    # serial: unique within each prefix, spread over the 6 digits
    order = np.argsort(prefix, kind="stable")
    sp = prefix[order]
    first = np.r_[True, sp[1:] != sp[:-1]]
    grp_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rank = np.arange(n) - grp_start
    counts = np.bincount(np.cumsum(first) - 1)
    lo, serials = cfg.block(999_999)  # this province's share of every serial range
    if counts.max() > serials:
        from features.errors import UsageError

        raise UsageError(
            f"{counts.max():,} people share a citizen-ID prefix, more than the "
            f"{serials:,} serials a province has among {cfg.province_count}: use fewer dossiers"
        )
    stride = serials // counts[np.cumsum(first) - 1]
    serial = np.empty(n, np.int64)
    serial[order] = lo + rank * stride + (rng.random(n) * stride).astype(np.int64)
    p_id = zfill(prefix * 1_000_000 + serial, 12)

    # the household's commune (units) and home connection
    commune_units = np.flatnonzero(~w.u_province)
    cw = w.u_weight[commune_units]
    hh_unit = commune_units[rng.choice(len(commune_units), n_hh, p=cw / cw.sum())]
    blocks = _HOME_BLOCKS[rng.integers(0, len(_HOME_BLOCKS), n_hh)]
    hh_ip = np.array(
        [
            f"{a}.{b + c}.{d}.{e}"
            for (a, b), c, d, e in zip(
                blocks,
                rng.integers(0, 16, n_hh),
                rng.integers(0, 256, n_hh),
                rng.integers(1, 255, n_hh),
                strict=True,
            )
        ],
        dtype=object,
    )
    pool_n = 200 + cfg.dossiers // 4000
    mb = _MOBILE_BLOCKS[rng.integers(0, len(_MOBILE_BLOCKS), pool_n)]
    cgnat = np.array(
        [
            f"{a}.{b + c}.{d}.{e}"
            for (a, b), c, d, e in zip(
                mb,
                rng.integers(0, 8, pool_n),
                rng.integers(0, 256, pool_n),
                rng.integers(1, 255, pool_n),
                strict=True,
            )
        ],
        dtype=object,
    )
    adult = age_now >= 16
    has_phone = adult & (rng.random(n) < 0.93)
    prefixes = np.array([3, 5, 7, 8, 9])[rng.integers(0, 5, n)]
    phone = zfill(prefixes * 100_000_000 + w.unique(rng, n, 100_000_000), 10)
    phone[~has_phone] = None
    token = np.where(adult & (rng.random(n) < 0.55), w.hex_ids(rng, n), None).astype(object)  # type: ignore[call-overload]
    a = w.arrays
    a.update(
        p_hh=hh,
        p_role=role,
        p_age=age_now,
        p_female=female,
        p_name=names,
        p_prov=prov,
        p_birth_day=birth_day,
        p_death_day=np.full(n, np.iinfo(np.int64).min),
        p_phone=phone,
        p_token=token,
        p_in_extract=rng.random(n) > cfg.people_missing,
        p_hh_known=rng.random(n) > cfg.households_missing,
        p_staff=np.full(n, -1),
        p_busy=np.zeros(n, bool),
        p_child_apart=np.full(n, -1),
        p_account=np.full(n, -1),
        p_device=np.full(n, -1),
        p_device2=np.full(n, -1),
        hh_unit=hh_unit,
        hh_ip=hh_ip,
        hh_device=np.full(n_hh, -1),
        hh_size=np.bincount(hh, minlength=n_hh),
        cgnat_pool=cgnat,
        n_devices=np.zeros(1, np.int64),
        p_newborn_reg=np.full(n, -1, np.int64),
    )
    a["p_newborn_reg"][n - n_birth :] = reg_s
    w.p_id = p_id
    # elders living alone or as a couple have an adult child in another household
    lonely = np.flatnonzero((age_now >= 62) & (a["hh_size"][hh] <= 2))
    adults_idx = np.flatnonzero((age_now >= 25) & (age_now <= 60))
    pick = rng.random(len(lonely)) < 0.8
    a["p_child_apart"][lonely[pick]] = adults_idx[rng.integers(0, len(adults_idx), int(pick.sum()))]


def _staff(w: World, rng: np.random.Generator) -> None:
    a = w.arrays
    k = w.n_units
    per_unit_volume = w.cfg.dossiers / w.cfg.months * w.u_weight / w.u_weight.sum()
    n_off = np.clip(np.round(per_unit_volume / 350), 2, 12).astype(int)
    eligible = (a["p_age"] >= 24) & (a["p_age"] <= 58)
    rows: list[tuple[int, int, str]] = []  # (person, unit, role)
    resident_unit = a["hh_unit"][a["p_hh"]]
    for u in range(k):
        pool = np.flatnonzero(
            eligible & ~a["p_busy"] & ((resident_unit == u) if not w.u_province[u] else True)
        )
        n_cdt = 0 if w.u_province[u] else int(rng.integers(2, 7))
        need = n_off[u] + 2 + n_cdt
        chosen = rng.choice(pool, need, replace=False)
        a["p_busy"][chosen] = True
        roles = (
            ["one_stop_officer"] * n_off[u]
            + ["manager", "other"]
            + ["community_digital_team"] * n_cdt
        )
        rows.extend(zip(chosen, [u] * need, roles, strict=True))
    s_person = np.array([r[0] for r in rows])
    s_unit = np.array([r[1] for r in rows])
    s_role = np.array([r[2] for r in rows], dtype=object)  # type: ignore[type-var]
    ns = len(rows)
    a["p_staff"][s_person] = np.arange(ns)
    desk = np.full(ns, -1)
    at_desk = (s_role == "one_stop_officer") | (s_role == "manager")
    desk[at_desk] = w.new_devices(int(at_desk.sum()))
    tablet = np.full(ns, -1)
    cdt = s_role == "community_digital_team"
    tablet[cdt] = w.new_devices(int(cdt.sum()))
    # officers who turn desk submissions into online ones, at units behind target
    proxy = np.zeros(ns, bool)
    for unit in np.flatnonzero(w.u_proxying):
        offs = np.flatnonzero((s_unit == unit) & (s_role == "one_stop_officer"))
        proxy[rng.choice(offs, min(len(offs), int(rng.integers(1, 3))), replace=False)] = True
    # each such officer has a habit: their own account, a shared one, or one made for the citizen
    forms = np.array(["staff_account", "shared_account", "created_account"], dtype=object)
    proxy_form = forms[np.arange(ns) % 3]
    if w.cfg.officer_stealth > 0:  # subtler officers make accounts for the citizens they serve
        proxy_form = np.where(
            rng.random(ns) < w.cfg.officer_stealth, "created_account", proxy_form
        ).astype(object)
    a.update(
        s_proxy_form=proxy_form,
        s_person=s_person,
        s_unit=s_unit,
        s_role=s_role,
        s_desk=desk,
        s_tablet=tablet,
        s_proxy=proxy,
        s_id=np.array([f"CB{i:05d}" for i in w.unique(rng, ns, 100_000)], dtype=object),
        s_from=w.cal.start.astype(np.int64) - rng.integers(60, 4000, ns),
        s_to=np.where(
            rng.random(ns) < 0.03,
            w.cal.start.astype(np.int64) + rng.integers(30, w.cal.n_days, ns),
            np.iinfo(np.int64).max,
        ),
    )
    w.u_kiosks = [w.new_devices(int(rng.integers(1, 4))) for _ in range(k)]


def _accounts(w: World, rng: np.random.Generator) -> None:
    a = w.arrays
    age = a["p_age"]
    n = len(age)
    p_acc = np.select([age < 14, age < 18, age < 60, age < 75], [0.0, 0.3, 0.78, 0.42], 0.15)
    has = (rng.random(n) < p_acc) | (a["p_staff"] >= 0)
    holders = np.flatnonzero(has)
    m = len(holders)
    # created on some day before the period, at an ordinary hour for going online
    created = w.cal.draw(rng, m, "online") % DAY - rng.integers(1, 900, m) * DAY
    # some accounts are created during the period, before their first use
    late = (rng.random(m) < 0.12) & (
        a["p_staff"][holders] < 0
    )  # officers have had theirs for years
    created[late] = rng.integers(0, w.cal.n_days // 2 + 1, int(late.sum())) * DAY + rng.integers(
        25_000, 75_000, int(late.sum())
    )
    ip = w.person_ip(rng, holders)
    ip[rng.random(m) < 0.3] = None
    level = np.where(rng.random(m) < 0.82, 2, 1)
    a.update(
        a_holder_p=np.zeros(0, np.int64),
        a_holder_b=np.zeros(0, np.int64),
        a_created=np.zeros(0, np.int64),
        a_created_ip=np.zeros(0, object),
        a_level=np.zeros(0, np.int64),
    )
    acc = w.new_accounts(holders, created, ip, level)
    a["p_account"][holders] = acc
    a["p_device"][holders] = w.new_devices(m)
    second = holders[rng.random(m) < 0.3]
    a["p_device2"][second] = w.new_devices(len(second))
    shared = np.flatnonzero((a["hh_size"] >= 2) & (rng.random(len(a["hh_size"])) < 0.35))
    a["hh_device"][shared] = w.new_devices(len(shared))


def _businesses(w: World, rng: np.random.Generator) -> None:
    a = w.arrays
    nb = max(30, int(w.cfg.dossiers * 0.012))
    adults = np.flatnonzero((a["p_age"] >= 25) & (a["p_age"] <= 70))
    rep = adults[rng.integers(0, len(adults), nb)]
    # Quảng Ngãi tax office prefix 43; bases whose check digit would be 10 are never issued
    base = 430_000_000 + w.unique(rng, nb * 2, 9_999_999)
    check = np.array([mst.calc_check_digit(f"{b:09d}") for b in base], dtype=object)
    usable = np.flatnonzero(np.char.str_len(check.astype(str)) == 1)[:nb]
    b_id = np.array(
        [f"{b:09d}{c}" for b, c in zip(base[usable], check[usable], strict=True)], dtype=object
    )
    branch = rng.random(nb) < 0.08
    b_id[branch] = b_id[branch] + "-" + zfill(rng.integers(1, 20, int(branch.sum())), 3)
    names = (
        _names.BUSINESS_PREFIX[rng.integers(0, len(_names.BUSINESS_PREFIX), nb)]
        + " "
        + _names.BUSINESS_TRADE[rng.integers(0, len(_names.BUSINESS_TRADE), nb)]
        + " "
        + _names.BUSINESS_WORDS[rng.integers(0, len(_names.BUSINESS_WORDS), nb)]
    )
    # service and law firms that file for many clients, with mandates
    n_firm = max(2, nb // 60)
    firm = np.zeros(nb, bool)
    firm[rng.choice(nb, n_firm, replace=False)] = True
    names[firm] = (
        np.where(rng.random(n_firm) < 0.5, "Công ty Luật TNHH ", "Công ty TNHH Dịch vụ pháp lý ")
        + names[firm]
    )
    has_acc = rng.random(nb) < 0.6
    holders_b = np.flatnonzero(has_acc)
    acc = w.new_accounts(
        np.full(len(holders_b), -1),
        -rng.integers(30, 1500, len(holders_b)) * DAY,
        np.full(len(holders_b), None, object),
        np.full(len(holders_b), 2),
        holder_b=holders_b,
    )
    b_account = np.full(nb, -1)
    b_account[holders_b] = acc
    # legal representatives need a personal account to file for their business
    no_acc = rep[a["p_account"][rep] < 0]
    w.give_accounts(rng, no_acc)
    a.update(
        b_id=b_id,
        b_name=names,
        b_rep=rep,
        b_firm=firm,
        b_account=b_account,
        b_registered=w.cal.start.astype(np.int64) - rng.integers(30, 6000, nb),
        b_unit=a["hh_unit"][a["p_hh"][rep]],
        b_phone=zfill(2_553_000_000 + w.unique(rng, nb, 999_999), 10),
        b_token=w.hex_ids(rng, nb),
        b_ip=w.mobile_ip(rng, nb),
    )
    block = 69 + w.cfg.province_index  # a /16 per province: none shared across provinces
    a["b_ip"][:] = [
        f"118.{block}.{x}.{y}"
        for x, y in zip(rng.integers(0, 256, nb), rng.integers(1, 255, nb), strict=True)
    ]


def _actors(w: World, rng: np.random.Generator) -> None:
    """Firm employees, brokers and their devices, phones and tokens."""
    a = w.arrays
    free = (a["p_age"] >= 23) & (a["p_age"] <= 60) & ~a["p_busy"]
    firms = np.flatnonzero(a["b_firm"])
    emp_firm: list[int] = []
    emp_person: list[int] = []
    for f in firms:
        k = int(rng.integers(2, 6))
        ppl = rng.choice(np.flatnonzero(free), k, replace=False)
        free[ppl] = False
        emp_firm.extend([int(f)] * k)
        emp_person.extend(ppl)
    emp_person_a = np.array(emp_person)
    w.give_accounts(rng, emp_person_a)
    firm_devices = {int(f): w.new_devices(int(rng.integers(2, 5))) for f in firms}
    n_brokers = max(
        3,
        int(
            w.cfg.dossiers
            * (w.cfg.shares["misuse_broker_own"] + w.cfg.shares["misuse_broker_rented"])
            / w.cfg.dossiers_per_broker
        ),
    )
    brokers = rng.choice(np.flatnonzero(free & (a["p_phone"] != None)), n_brokers, replace=False)  # noqa: E711
    free[brokers] = False
    a["p_busy"][brokers] = True
    w.give_accounts(rng, brokers)
    # a second own account for some brokers (portal accounts of the province)
    extra = brokers[rng.random(n_brokers) < 0.4]
    extra_acc = w.new_accounts(
        extra,
        -rng.integers(1, 400, len(extra)) * DAY,
        np.full(len(extra), None, object),
        np.full(len(extra), 1),
    )
    broker_accounts = [np.r_[a["p_account"][b], extra_acc[extra == b]] for b in brokers]
    broker_devices = [w.new_devices(int(rng.integers(1, 3))) for _ in brokers]
    block = 161 + w.cfg.province_index  # a /16 per province: none shared across provinces
    broker_ip = np.array(
        [
            f"113.{block}.{x}.{y}"
            for x, y in zip(
                rng.integers(0, 256, n_brokers), rng.integers(1, 255, n_brokers), strict=True
            )
        ],
        dtype=object,
    )
    broker_token = w.hex_ids(rng, n_brokers)
    a.update(
        emp_firm=np.array(emp_firm),
        emp_person=emp_person_a,
        brokers=brokers,
        broker_ip=broker_ip,
        broker_token=broker_token,
    )
    w.firm_devices = firm_devices
    w.broker_accounts = broker_accounts
    w.broker_devices = broker_devices
