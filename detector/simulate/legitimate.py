"""Legitimate filings, including the look-alikes of misuse.

Guided self-service at hall kiosks, officers' own filings from the office,
relatives (also registering a death), mandates, legal representatives, law and
service firms filing for many clients with mandates, community digital team
sessions, and paper dossiers at the desk.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _catalogue as cat
from .timing import DAY, MINUTE
from .typologies import GeneratorBase, _frame, _pick
from .world import ROLE_SPOUSE


class LegitimateScenarios(GeneratorBase):
    """One method per legitimate scenario; each emits its dossiers."""

    def self_online(self, n: int) -> None:
        a, rng, w = self.a, self.rng, self.w
        weight = w.u_uptake[self.p_unit] * np.where(a["p_age"] >= 60, 0.5, 1.0)
        owner = w.draw_people(rng, (a["p_account"] >= 0) & (a["p_age"] >= 14), n, weight)
        proc = cat.draw(rng, "everyday", n)
        acc = a["p_account"][owner]
        t = self.after_creation(self.times(n, "online"), acc)
        self.emit(
            _frame(
                n,
                "self_online",
                "self",
                owner_p=owner,
                account=acc,
                unit=self.unit_for(proc, owner),
                proc=proc,
                t=t,
                device=w.person_device(rng, owner),
                ip=w.person_ip(rng, owner),
                phone=self.phone_of(owner, 0.92),
                payer=self.payer(proc, a["p_token"][owner]),
                attachment=self.attachments(n, "home"),
                declared=_pick(rng, n, {"self": 0.93, "none": 0.07}),
            )
        )

    def self_kiosk(self, n: int) -> None:
        """Guided self-service at the hall kiosk: the owner files, often with a new account."""
        a, rng, w = self.a, self.rng, self.w
        weight = np.where(a["p_age"] >= 50, 2.0, 1.0) * (1.2 - w.u_uptake[self.p_unit])
        owner = w.draw_people(
            rng, (a["p_age"] >= 18) & ((a["p_account"] >= 0) | pd.notna(a["p_phone"])), n, weight
        )
        proc = cat.draw(rng, "everyday", n)
        unit = self.unit_for(proc, owner)
        t = w.cal.draw(rng, n, "office")
        new = (a["p_account"][owner] < 0) | (rng.random(n) < 0.1)
        # the first kiosk visit of a person without an account creates it
        first_new = new & ~pd.Series(owner).duplicated().to_numpy()
        created = t[first_new] - rng.integers(4, 20, int(first_new.sum())) * MINUTE
        acc_new = w.new_accounts(
            owner[first_new],
            created,
            w.office_ip(rng, unit[first_new]),
            np.where(rng.random(int(first_new.sum())) < 0.6, 2, 1),
        )
        a["p_account"][owner[first_new]] = acc_new
        acc = a["p_account"][owner]
        t = self.after_creation(t, acc)
        kiosk = np.array(
            [
                w.u_kiosks[u][i % len(w.u_kiosks[u])]
                for u, i in zip(unit, rng.integers(0, 3, n), strict=True)
            ]
        )
        self.visits(owner, unit, t, 1 - w.cfg.visits_missing)
        self.emit(
            _frame(
                n,
                "self_kiosk",
                "self",
                owner_p=owner,
                account=acc,
                unit=unit,
                proc=proc,
                t=t,
                device=kiosk,
                ip=w.office_ip(rng, unit),
                phone=self.phone_of(owner, 0.95),
                payer=self.payer(proc, a["p_token"][owner], 0.5),
                attachment=self.attachments(n, "office"),
                declared=_pick(rng, n, {"self": 0.95, "none": 0.05}),
            )
        )

    def business_self(self, n: int) -> None:
        a, rng = self.a, self.rng
        bs = np.flatnonzero(a["b_account"] >= 0)
        b = bs[rng.integers(0, len(bs), n)]
        proc = cat.draw(rng, "business", n)
        rep = a["b_rep"][b]
        acc = a["b_account"][b]
        self.emit(
            _frame(
                n,
                "business_self",
                "self",
                owner_b=b,
                account=acc,
                unit=self.unit_for(proc, np.full(n, -1), b),
                proc=proc,
                t=self.after_creation(self.times(n, "online"), acc),
                device=self.w.person_device(rng, rep),
                ip=a["b_ip"][b],
                phone=a["b_phone"][b],
                payer=self.payer(proc, a["b_token"][b], 0.8),
                attachment=self.attachments(n, "home"),
                declared=_pick(rng, n, {"self": 0.5, "legal_rep": 0.3, "none": 0.2}),
            )
        )

    def officer_own(self, n: int) -> None:
        """Officers filing their own or their family's dossiers from the office."""
        a, rng, w = self.a, self.rng, self.w
        desk_staff = np.flatnonzero(a["s_desk"] >= 0)
        s = desk_staff[rng.integers(0, len(desk_staff), n)]
        officer = a["s_person"][s]
        fam = rng.random(n) < 0.3
        hh = a["p_hh"][officer]
        # a household member: another person of the same household, if any
        members = pd.Series(np.arange(len(a["p_hh"]))).groupby(a["p_hh"]).first()
        alt = members.reindex(hh).to_numpy()
        alt = np.where(alt == officer, np.minimum(alt + 1, len(a["p_hh"]) - 1), alt)
        fam &= a["p_hh"][alt] == hh
        owner = np.where(fam, alt, officer)
        proc = cat.draw(rng, "everyday", n)
        acc = a["p_account"][officer]
        t = self.after_creation(w.cal.draw(rng, n, "office"), acc)
        work_unit = a["s_unit"][s]
        self.emit(
            _frame(
                n,
                "officer_own",
                np.where(fam, "family", "self").astype(object),
                owner_p=owner,
                account=acc,
                unit=self.unit_for(proc, owner),
                proc=proc,
                t=t,
                device=a["s_desk"][s],
                ip=w.office_ip(rng, work_unit),
                phone=a["p_phone"][officer],
                payer=self.payer(proc, a["p_token"][officer]),
                attachment=self.attachments(n, "office"),
                declared=np.where(
                    fam,
                    _pick(rng, n, {"relative": 0.5, "parent": 0.3, "spouse": 0.2}),
                    _pick(rng, n, {"self": 0.9, "none": 0.1}),
                ),
            )
        )

    def _family_frame(
        self,
        n: int,
        scenario: str,
        owner: np.ndarray,
        holder: np.ndarray,
        proc: np.ndarray,
        t: np.ndarray,
        declared: np.ndarray,
    ) -> None:
        a, rng, w = self.a, self.rng, self.w
        acc = a["p_account"][holder]
        t = self.after_creation(t, acc)
        phone = np.where(rng.random(n) < 0.6, a["p_phone"][holder], a["p_phone"][owner])
        self.emit(
            _frame(
                n,
                scenario,
                "family",
                owner_p=owner,
                account=acc,
                unit=self.unit_for(proc, owner),
                proc=proc,
                t=t,
                device=w.person_device(rng, holder),
                ip=w.person_ip(rng, holder),
                phone=phone,
                payer=self.payer(proc, a["p_token"][holder]),
                attachment=self.attachments(n, "home"),
                declared=declared,
            )
        )

    def family_household(self, n: int) -> None:
        a, rng, w = self.a, self.rng, self.w
        filer = self.hh_filer[a["p_hh"]]
        weight = np.select([a["p_age"] < 14, a["p_age"] >= 65], [3.0, 3.0], 1.0)
        owner = w.draw_people(
            rng,
            (filer >= 0) & (filer != np.arange(len(filer))) & (a["p_newborn_reg"] < 0),
            n,
            weight,
        )
        holder = filer[owner]
        child, elder = a["p_age"][owner] < 14, a["p_age"][owner] >= 65
        proc = np.where(
            child,
            cat.draw(rng, "child", n),
            np.where(elder, cat.draw(rng, "elder", n), cat.draw(rng, "everyday", n)),
        )
        declared = np.where(
            child,
            _pick(rng, n, {"parent": 0.8, "guardian": 0.05, "none": 0.15}),
            np.where(
                a["p_role"][owner] == ROLE_SPOUSE,
                _pick(rng, n, {"spouse": 0.8, "none": 0.2}),
                _pick(rng, n, {"relative": 0.75, "other": 0.05, "none": 0.2}),
            ),
        )
        self._family_frame(
            n, "family_household", owner, holder, proc, self.times(n, "online"), declared
        )

    def family_elder_apart(self, n: int) -> None:
        a, rng, w = self.a, self.rng, self.w
        child = a["p_child_apart"]
        ok = (child >= 0) & (a["p_account"][np.maximum(child, 0)] >= 0)
        owner = w.draw_people(rng, ok, n)
        proc = cat.draw(rng, "elder", n)
        self._family_frame(
            n,
            "family_elder_apart",
            owner,
            child[owner],
            proc,
            self.times(n, "online"),
            _pick(rng, n, {"relative": 0.8, "none": 0.2}),
        )

    def family_birth(self, n: int) -> None:
        a, rng = self.a, self.rng
        babies = np.flatnonzero(a["p_newborn_reg"] >= 0)[:n]
        holder = self.hh_filer[a["p_hh"][babies]]
        missing = holder < 0  # parents without an account make one to register the birth
        if missing.any():
            heads = (
                pd.Series(np.arange(len(a["p_hh"])))
                .groupby(a["p_hh"])
                .first()
                .reindex(a["p_hh"][babies[missing]])
                .to_numpy()
            )
            self.w.give_accounts(rng, heads)
            holder[missing] = heads
        proc = cat.draw(rng, "birth", len(babies))
        self._family_frame(
            len(babies),
            "family_birth",
            babies,
            holder,
            proc,
            a["p_newborn_reg"][babies],
            _pick(rng, len(babies), {"parent": 0.9, "none": 0.1}),
        )

    def family_death(self, n: int) -> None:
        """A relative registers the death: the owner is deceased, which is the procedure."""
        a, rng, w = self.a, self.rng, self.w
        filer = np.where(a["p_child_apart"] >= 0, a["p_child_apart"], self.hh_filer[a["p_hh"]])
        has_acc = (
            (filer >= 0)
            & (a["p_account"][np.maximum(filer, 0)] >= 0)
            & (filer != np.arange(len(filer)))
        )
        cands = np.flatnonzero(
            has_acc & (a["p_age"] >= 70) & (a["p_death_day"] == np.iinfo(np.int64).min)
        )
        owner = rng.choice(cands, min(n, len(cands)), replace=False)
        n = len(owner)
        t = self.times(n, "online")
        a["p_death_day"][owner] = w.cal.start.astype(np.int64) + t // DAY - rng.integers(1, 30, n)
        a["p_busy"][owner] = True
        proc = cat.draw(rng, "death", n)
        self._family_frame(
            n,
            "family_death",
            owner,
            filer[owner],
            proc,
            t,
            _pick(rng, n, {"relative": 0.85, "none": 0.15}),
        )

    def authorized_mandate(self, n: int) -> None:
        a, rng, w = self.a, self.rng, self.w
        owner = w.draw_people(
            rng, (a["p_age"] >= 18) & ~a["p_busy"], n, np.where(a["p_age"] >= 55, 2.0, 1.0)
        )
        holder = w.draw_people(rng, (a["p_account"] >= 0) & (a["p_age"] >= 22) & ~a["p_busy"], n)
        proc = cat.draw(rng, "everyday", n)
        acc = a["p_account"][holder]
        t = self.after_creation(self.times(n, "online"), acc)
        ids = self.mandates(owner, np.full(n, -1), holder, proc, t, listed=0.96)
        ids[rng.random(n) > 0.85] = None
        self.emit(
            _frame(
                n,
                "authorized_mandate",
                "authorized",
                owner_p=owner,
                account=acc,
                unit=self.unit_for(proc, owner),
                proc=proc,
                t=t,
                device=w.person_device(rng, holder),
                ip=w.person_ip(rng, holder),
                phone=np.where(rng.random(n) < 0.5, a["p_phone"][holder], a["p_phone"][owner]),
                payer=self.payer(proc, a["p_token"][holder]),
                attachment=self.attachments(n, "home"),
                declared=_pick(rng, n, {"authorized": 0.9, "none": 0.1}),
                auth=ids,
            )
        )

    def authorized_legal_rep(self, n: int) -> None:
        a, rng, w = self.a, self.rng, self.w
        b = rng.integers(0, len(a["b_id"]), n)
        rep = a["b_rep"][b]
        proc = cat.draw(rng, "business", n)
        acc = a["p_account"][rep]
        t = self.after_creation(self.times(n, "online"), acc)
        self.emit(
            _frame(
                n,
                "authorized_legal_rep",
                "authorized",
                owner_b=b,
                account=acc,
                unit=self.unit_for(proc, np.full(n, -1), b),
                proc=proc,
                t=t,
                device=w.person_device(rng, rep),
                ip=np.where(rng.random(n) < 0.5, a["b_ip"][b], w.person_ip(rng, rep)),
                phone=np.where(rng.random(n) < 0.5, a["b_phone"][b], a["p_phone"][rep]),
                payer=self.payer(proc, a["b_token"][b], 0.8),
                attachment=self.attachments(n, "home"),
                declared=_pick(rng, n, {"legal_rep": 0.85, "authorized": 0.05, "none": 0.1}),
            )
        )

    def authorized_firm(self, n: int) -> None:
        """Law and service firms filing for many unrelated clients, each with a mandate."""
        a, rng, w = self.a, self.rng, self.w
        e = rng.integers(0, len(a["emp_person"]), n)
        emp, firm = a["emp_person"][e], a["emp_firm"][e]
        client = w.draw_people(rng, (a["p_age"] >= 25) & ~a["p_busy"], n)
        proc = cat.draw(rng, "firm", n)
        acc = a["p_account"][emp]
        t = self.after_creation(w.cal.draw(rng, n, "office"), acc)
        ids = self.mandates(client, np.full(n, -1), emp, proc, t, listed=0.97)
        ids[rng.random(n) > 0.92] = None
        dev = np.array(
            [
                w.firm_devices[int(f)][i % len(w.firm_devices[int(f)])]
                for f, i in zip(firm, rng.integers(0, 4, n), strict=True)
            ]
        )
        self.emit(
            _frame(
                n,
                "authorized_firm",
                "authorized",
                owner_p=client,
                account=acc,
                unit=self.unit_for(proc, client),
                proc=proc,
                t=t,
                device=dev,
                ip=a["b_ip"][firm],
                phone=np.where(rng.random(n) < 0.8, a["b_phone"][firm], a["p_phone"][client]),
                payer=self.payer(proc, a["b_token"][firm], 0.7),
                attachment=self.attachments(n, "office"),
                declared=_pick(rng, n, {"authorized": 0.92, "none": 0.08}),
                auth=ids,
            )
        )

    def assisted(self, n: int) -> None:
        """Community digital team sessions: 'cầm tay chỉ việc' at the community hall."""
        a, rng, w = self.a, self.rng, self.w
        members = np.flatnonzero(a["s_role"] == "community_digital_team")
        sizes = rng.integers(5, 20, max(1, n // 11))
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
        sizes[-1] -= sizes.sum() - n
        sizes = sizes[sizes > 0]
        k = len(sizes)
        m = members[rng.integers(0, len(members), k)]
        unit = a["s_unit"][m]
        dw = w.cal.day_weights("office") + 0.3 * (w.cal.dow == 5) * ~w.cal.holiday
        day = rng.choice(w.cal.n_days, k, p=dw / dw.sum())
        start = day * DAY + rng.integers(7 * 60 + 30, 14 * 60, k) * MINUTE
        sess_ip = np.where(rng.random(k) < 0.3, w.office_ip(rng, unit), w.mobile_ip(rng, k))
        sess = np.repeat(np.arange(k), sizes)
        t = start[sess] + np.sort(rng.integers(0, 3 * 3600, n))
        unit_r = unit[sess]
        resid = self.p_unit
        owner = np.empty(n, np.int64)
        weight = np.where(a["p_age"] >= 50, 3.0, 1.0)
        eligible = (a["p_age"] >= 18) & ~a["p_busy"]
        for u in np.unique(unit_r):  # per unit (≤ 120), not per dossier
            rows = np.flatnonzero(unit_r == u)
            owner[rows] = w.draw_people(rng, eligible & (resid == u), len(rows), weight)
        own_acc = (a["p_account"][owner] >= 0) & (rng.random(n) < 0.55)
        make = (
            (a["p_account"][owner] < 0)
            & (rng.random(n) < 0.45)
            & ~pd.Series(owner).duplicated().to_numpy()
        )
        made = w.new_accounts(
            owner[make],
            t[make] - rng.integers(3, 12, int(make.sum())) * MINUTE,
            sess_ip[sess][make],
            np.full(int(make.sum()), 2),
        )
        a["p_account"][owner[make]] = made
        own_acc |= make
        member_p = a["s_person"][m][sess]
        acc = np.where(own_acc, a["p_account"][owner], a["p_account"][member_p])
        t = self.after_creation(t, acc)
        proc = cat.draw(rng, "assisted", n)
        self.emit(
            _frame(
                n,
                "assisted",
                "assisted",
                owner_p=owner,
                account=acc,
                unit=self.unit_for(proc, owner),
                proc=proc,
                t=t,
                device=a["s_tablet"][m][sess],
                ip=sess_ip[sess],
                phone=np.where(rng.random(n) < 0.7, a["p_phone"][owner], a["p_phone"][member_p]),
                payer=self.payer(proc, a["p_token"][owner], 0.3),
                attachment=self.attachments(n, "office"),
                declared=np.where(
                    own_acc,
                    _pick(rng, n, {"self": 0.85, "none": 0.15}),
                    _pick(rng, n, {"other": 0.5, "relative": 0.1, "none": 0.4}),
                ),
            )
        )

    def counter(self, n: int) -> None:
        """Paper dossiers handed in at the desk (some are later turned into 'online' ones)."""
        a, rng, w = self.a, self.rng, self.w
        weight = (1.05 - w.u_uptake[self.p_unit]) * np.where(a["p_age"] >= 55, 2.0, 1.0)
        owner = w.draw_people(rng, (a["p_age"] >= 18) & (a["p_newborn_reg"] < 0), n, weight)
        proc = cat.draw(rng, "counter", n)
        unit = self.unit_for(proc, owner)
        t = w.cal.draw(rng, n, "office")
        r = rng.random(n)
        label = np.where(r < 0.80, "self", np.where(r < 0.92, "family", "authorized")).astype(
            object
        )
        filer = self.hh_filer[a["p_hh"][owner]]
        label[(label == "family") & ((filer < 0) | (filer == owner))] = "self"
        visitor = np.where(label == "family", filer, owner)
        auth_rows = np.flatnonzero(label == "authorized")
        grantee = w.draw_people(rng, (a["p_age"] >= 22) & ~a["p_busy"], len(auth_rows))
        visitor[auth_rows] = grantee
        auth = np.full(n, None, dtype=object)
        if len(auth_rows):
            ids = self.mandates(
                owner[auth_rows],
                np.full(len(auth_rows), -1),
                grantee,
                proc[auth_rows],
                t[auth_rows],
                0.95,
            )
            ids[rng.random(len(ids)) > 0.7] = None
            auth[auth_rows] = ids
        self.visits(visitor, unit, t, 1 - w.cfg.visits_missing)
        declared = np.where(
            label == "self",
            _pick(rng, n, {"self": 0.7, "none": 0.3}),
            np.where(
                label == "family",
                _pick(rng, n, {"relative": 0.6, "spouse": 0.2, "none": 0.2}),
                _pick(rng, n, {"authorized": 0.85, "none": 0.15}),
            ),
        )
        self.emit(
            _frame(
                n,
                "counter",
                label,
                owner_p=owner,
                unit=unit,
                proc=proc,
                t=t,
                channel="counter",
                phone=self.phone_of(owner, 0.6),
                attachment=self.attachments(n, "counter"),
                declared=declared,
                auth=auth,
                fast_accept=np.ones(n, bool),
                visit_p=visitor,
            )
        )

    def postal(self, n: int) -> None:
        a, rng, w = self.a, self.rng, self.w
        owner = w.draw_people(rng, a["p_age"] >= 18, n)
        proc = cat.draw(rng, "counter", n)
        self.emit(
            _frame(
                n,
                "postal",
                "self",
                owner_p=owner,
                unit=self.unit_for(proc, owner),
                proc=proc,
                t=w.cal.draw(rng, n, "office"),
                channel="postal",
                phone=self.phone_of(owner, 0.8),
                attachment=_pick(rng, n, {"none": 1.0}),
                declared=_pick(rng, n, {"self": 0.6, "none": 0.4}),
            )
        )
