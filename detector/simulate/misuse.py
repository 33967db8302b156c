"""Identity misuse: brokers with own and rented accounts, borrowed and taken-over
accounts, filings for deceased owners."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import _catalogue as cat
from .timing import DAY, MINUTE
from .typologies import GeneratorBase, _frame, _pick


class MisuseScenarios(GeneratorBase):
    """One method per identity-misuse scenario; each emits its dossiers."""

    def _bursts(self, n: int, actors: int) -> tuple[np.ndarray, np.ndarray]:
        """Brokers work in sessions: a few dossiers minutes apart, on office days.

        Returns the actor of each filing and its time.
        """
        rng, w = self.rng, self.w
        share = rng.lognormal(0, 0.8, actors)
        who = rng.choice(actors, n, p=share / share.sum())
        t = w.cal.draw(rng, n, "office")
        per_session = rng.integers(2, 9, actors)
        if self.w.cfg.broker_stealth > 0:  # subtler brokers file one or two at a time
            per_session = np.maximum(
                1, np.round(per_session * (1 - self.w.cfg.broker_stealth))
            ).astype(per_session.dtype)
        order = np.lexsort((t, who))
        rank = pd.Series(who[order]).groupby(who[order]).cumcount().to_numpy()
        session = who[order].astype(np.int64) * 10_000_000 + rank // per_session[who[order]]
        gap = rng.integers(2, 15, n) * MINUTE
        start = pd.Series(t[order]).groupby(session).transform("first").to_numpy()
        within = pd.Series(gap).groupby(session).cumsum().to_numpy() - gap
        out = np.empty(n, np.int64)
        out[order] = start + within
        return who, np.minimum(out, w.cal.n_days * DAY - 1)

    def _misuse_frame(
        self,
        n: int,
        scenario: str,
        owner: np.ndarray,
        acc: np.ndarray,
        t: np.ndarray,
        proc: np.ndarray,
        device: np.ndarray,
        ip: np.ndarray,
        phone: np.ndarray,
        payer: np.ndarray,
        declared: np.ndarray,
        auth: np.ndarray | None = None,
        broker: np.ndarray | None = None,
    ) -> None:
        extra = {} if broker is None else {"broker": broker}  # which broker filed it
        self.emit(
            _frame(
                n,
                scenario,
                "identity_misuse",
                **extra,
                owner_p=owner,
                account=acc,
                unit=self.unit_for(proc, owner),
                proc=proc,
                t=self.after_creation(t, acc),
                device=device,
                ip=ip,
                phone=phone,
                payer=payer,
                attachment=_pick(self.rng, n, {"scan": 0.6, "photo": 0.4}),
                declared=declared,
                auth=auth if auth is not None else None,
            )
        )

    def broker_own(self, n: int) -> None:
        """Brokers ('cò') filing for many unrelated people through their own accounts."""
        a, rng, w = self.a, self.rng, self.w
        brokers = a["brokers"]
        who, t = self._bursts(n, len(brokers))
        bp = brokers[who]
        acc = np.array(
            [
                w.broker_accounts[i][j % len(w.broker_accounts[i])]
                for i, j in zip(who, rng.integers(0, 2, n), strict=True)
            ]
        )
        dev = np.array(
            [
                w.broker_devices[i][j % len(w.broker_devices[i])]
                for i, j in zip(who, rng.integers(0, 2, n), strict=True)
            ]
        )
        owner = w.draw_people(
            rng, (a["p_age"] >= 25) & ~a["p_busy"], n, np.where(a["p_age"] >= 40, 2.0, 1.0)
        )
        proc = cat.draw(rng, "broker", n)
        r = rng.random(n)
        keep = 1 - w.cfg.broker_stealth  # how much of the broker's own trail shows
        phone = np.where(
            r < 0.7 * keep, a["p_phone"][bp], np.where(r < 0.9, a["p_phone"][owner], None)
        )
        declared = _pick(
            rng, n, {"self": 0.4, "authorized": 0.2, "relative": 0.15, "other": 0.1, "none": 0.15}
        )
        auth = np.full(n, None, dtype=object)
        claims = np.flatnonzero(declared == "authorized")
        fake = claims[rng.random(len(claims)) < 0.5]
        lo, size = w.cfg.block(999_999)
        auth[fake] = [
            f"UQ9{x:06d}" for x in lo + rng.integers(0, size, len(fake))
        ]  # no such mandate
        stale = np.setdiff1d(claims, fake)
        if len(stale):
            auth[stale] = self.mandates(
                owner[stale],
                np.full(len(stale), -1),
                bp[stale],
                proc[stale],
                t[stale],
                listed=1.0,
                expired=np.ones(len(stale), bool),
            )
        self._misuse_frame(
            n,
            "misuse_broker_own",
            owner,
            acc,
            t,
            proc,
            dev,
            np.where(rng.random(n) < 0.7 * keep, a["broker_ip"][who], w.mobile_ip(rng, n)),
            phone,
            self.payer(proc, a["broker_token"][who], 0.8 * keep),
            declared,
            auth,
            broker=who,
        )

    def broker_rented(self, n: int) -> None:
        """Brokers filing through accounts rented from other people."""
        a, rng, w = self.a, self.rng, self.w
        brokers = a["brokers"]
        who, t = self._bursts(n, len(brokers))
        holders = w.draw_people(
            rng, (a["p_account"] >= 0) & ~a["p_busy"] & (a["p_staff"] < 0), len(brokers) * 6
        )
        a["p_busy"][holders] = True
        rented = a["p_account"][holders].reshape(len(brokers), 6)
        n_rent = rng.integers(2, 7, len(brokers))
        acc = rented[who, rng.integers(0, 6, n) % n_rent[who]]
        dev = np.array(
            [
                w.broker_devices[i][j % len(w.broker_devices[i])]
                for i, j in zip(who, rng.integers(0, 2, n), strict=True)
            ]
        )
        bp = brokers[who]
        owner = w.draw_people(
            rng, (a["p_age"] >= 25) & ~a["p_busy"], n, np.where(a["p_age"] >= 40, 2.0, 1.0)
        )
        proc = cat.draw(rng, "broker", n)
        keep = 1 - w.cfg.broker_stealth  # how much of the broker's own trail shows
        self._misuse_frame(
            n,
            "misuse_broker_rented",
            owner,
            acc,
            t,
            proc,
            dev,
            np.where(rng.random(n) < 0.6 * keep, a["broker_ip"][who], w.mobile_ip(rng, n)),
            np.where(rng.random(n) < 0.75 * keep, a["p_phone"][bp], a["p_phone"][owner]),
            self.payer(proc, a["broker_token"][who], 0.75 * keep),
            _pick(rng, n, {"self": 0.5, "relative": 0.2, "none": 0.3}),
            broker=who,
        )

    def borrowed(self, n: int) -> None:
        """Someone files their own dossier through a neighbour's or colleague's account."""
        a, rng, w = self.a, self.rng, self.w
        owner = w.draw_people(
            rng, (a["p_age"] >= 18) & ~a["p_busy"], n, np.where(a["p_account"] < 0, 3.0, 1.0)
        )
        holder = w.draw_people(rng, (a["p_account"] >= 0) & (a["p_age"] >= 20) & ~a["p_busy"], n)
        holder = np.where(a["p_hh"][holder] == a["p_hh"][owner], a["brokers"][0], holder)
        acc = a["p_account"][holder]
        dev = np.where(
            a["p_device"][owner] >= 0, a["p_device"][owner], w.person_device(rng, holder)
        )
        proc = cat.draw(rng, "everyday", n)
        self._misuse_frame(
            n,
            "misuse_borrowed",
            owner,
            acc,
            self.times(n, "online"),
            proc,
            dev,
            w.person_ip(rng, owner),
            self.phone_of(owner, 0.9),
            self.payer(proc, a["p_token"][owner]),
            _pick(rng, n, {"self": 0.5, "relative": 0.3, "none": 0.2}),
        )

    def takeover(self, n: int) -> None:
        """Dormant accounts of elderly holders taken over and used for strangers."""
        a, rng, w = self.a, self.rng, self.w
        k = max(1, n // 8)
        victims = w.draw_people(rng, (a["p_account"] >= 0) & (a["p_age"] >= 60) & ~a["p_busy"], k)
        a["p_busy"][victims] = True
        attackers = max(1, k // 3)
        att_dev = w.new_devices(attackers)
        att_phone = np.array(
            [
                f"0{p}{x:08d}"
                for p, x in zip(
                    rng.choice([3, 5, 7, 8, 9], attackers),
                    w.cfg.block(10**8)[0] + rng.integers(0, w.cfg.block(10**8)[1], attackers),
                    strict=True,
                )
            ],
            dtype=object,
        )
        lo, size = w.cfg.block(2**62)
        att_token = np.array(
            [f"{x:016x}" for x in lo + rng.integers(0, size, attackers)], dtype=object
        )
        v_att = rng.integers(0, attackers, k)
        t0 = rng.integers(0, max(1, w.cal.n_days - 20), k) * DAY
        which = rng.integers(0, k, n)
        t = t0[which] + rng.integers(0, 20 * DAY, n)
        t = np.minimum(t, w.cal.n_days * DAY - 1)
        att = v_att[which]
        owner = w.draw_people(rng, (a["p_age"] >= 25) & ~a["p_busy"], n)
        proc = cat.draw(rng, "broker", n)
        self._misuse_frame(
            n,
            "misuse_takeover",
            owner,
            a["p_account"][victims[which]],
            t,
            proc,
            att_dev[att],
            w.mobile_ip(rng, n),
            np.where(rng.random(n) < 0.7, att_phone[att], None),  # type: ignore[call-overload]
            self.payer(proc, att_token[att], 0.6),
            _pick(rng, n, {"self": 0.6, "none": 0.4}),
        )

    def deceased(self, n: int) -> None:
        """Filings for owners who have died (other than registering the death)."""
        a, rng, w = self.a, self.rng, self.w
        alive = a["p_death_day"] == np.iinfo(np.int64).min
        owner = rng.choice(
            np.flatnonzero((a["p_age"] >= 65) & alive & ~a["p_busy"]), n, replace=False
        )
        a["p_busy"][owner] = True
        t = self.times(n, "online")
        a["p_death_day"][owner] = w.cal.start.astype(np.int64) + t // DAY - rng.integers(20, 600, n)
        r = rng.random(n)
        brokers = a["brokers"]
        bi = rng.integers(0, len(brokers), n)
        filer = self.hh_filer[a["p_hh"][owner]]
        stranger = w.draw_people(rng, (a["p_account"] >= 0) & (a["p_age"] >= 20), n)
        holder = np.where(
            r < 0.5,
            brokers[bi],
            np.where((r < 0.8) & (filer >= 0) & (filer != owner), filer, stranger),
        )
        acc = a["p_account"][holder]
        proc = cat.draw(rng, "deceased", n)
        self._misuse_frame(
            n,
            "misuse_deceased",
            owner,
            acc,
            t,
            proc,
            w.person_device(rng, holder),
            w.person_ip(rng, holder),
            a["p_phone"][holder],
            self.payer(proc, a["p_token"][holder]),
            _pick(rng, n, {"self": 0.3, "relative": 0.4, "authorized": 0.1, "none": 0.2}),
        )
