"""Who files what, and how: one generator per scenario.

Each generator returns a frame of integer entity references (-1 = none) and
strings, one row per dossier, plus any desk visits and mandates it implies.
Legitimate look-alikes are generated with the same care as misuse: guided
self-service at hall kiosks, officers' own filings from the office, service
firms with mandates, relatives registering a death, community digital team
sessions, carrier-NAT addresses and family devices shared by many people.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import _catalogue as cat
from .timing import DAY, MINUTE
from .world import ROLE_HEAD, ROLE_OTHER, ROLE_SPOUSE, World

NONE = np.int64(-1)


@dataclass
class Filed:
    """Everything the generators produce, before it is turned into tables."""

    dossiers: list[pd.DataFrame] = field(default_factory=list)
    visits: list[pd.DataFrame] = field(default_factory=list)  # person (-1 anonymous), unit, t
    mandates: list[pd.DataFrame] = field(
        default_factory=list
    )  # grantor_p, grantor_b, grantee, proc, from, to, listed


def _pick(rng: np.random.Generator, n: int, choices: dict[str, float]) -> np.ndarray:
    keys = list(choices)
    p = np.array([choices[k] for k in keys], float)
    out = np.array(keys, dtype=object)[rng.choice(len(keys), n, p=p / p.sum())]
    out[out == "none"] = None
    return out


def _frame(n: int, scenario: str, label: str | np.ndarray, **cols: object) -> pd.DataFrame:
    base: dict[str, object] = {
        "owner_p": NONE,
        "owner_b": NONE,
        "account": NONE,
        "unit": NONE,
        "proc": NONE,
        "t": 0,
        "channel": "online",
        "device": NONE,
        "ip": None,
        "phone": None,
        "payer": None,
        "attachment": None,
        "declared": None,
        "auth": None,
        "officer": NONE,
        "fast_accept": False,
        "visit_p": np.int64(-2),
    }
    base.update(cols)
    df = pd.DataFrame(
        {
            k: (
                np.full(n, v, dtype=object if v is None or isinstance(v, str) else None)
                if np.isscalar(v) or v is None
                else v
            )
            for k, v in base.items()
        }
    )
    df["label"] = label
    df["scenario"] = scenario
    return df


class GeneratorBase:
    """Holds the world and the random stream, and the helpers every scenario uses."""

    def __init__(self, w: World, rng: np.random.Generator) -> None:
        self.w, self.rng, self.a = w, rng, w.arrays
        self.out = Filed()
        a = self.a
        self.p_unit = a["hh_unit"][a["p_hh"]]
        self.prov_units = np.flatnonzero(w.u_province)
        # the first adult account holder of each household files for the others
        self.hh_filer = self._household_filers()
        self.n_auth = w.cfg.block(9_000_000)[0]  # mandate numbers of this province

    # ---------------------------------------------------------------- helpers
    def _household_filers(self) -> np.ndarray:
        a = self.a
        prio = np.select(
            [a["p_role"] == ROLE_HEAD, a["p_role"] == ROLE_SPOUSE, a["p_role"] == ROLE_OTHER],
            [0, 1, 2],
            3,
        )
        ok = np.flatnonzero((a["p_account"] >= 0) & (a["p_age"] >= 18))
        order = ok[np.lexsort((prio[ok], a["p_hh"][ok]))]
        hh = a["p_hh"][order]
        first = np.r_[True, hh[1:] != hh[:-1]]
        filer = np.full(len(a["hh_size"]), -1)
        filer[hh[first]] = order[first]
        return filer

    def unit_for(
        self, proc: np.ndarray, owner_p: np.ndarray, owner_b: np.ndarray | None = None
    ) -> np.ndarray:
        a, rng = self.a, self.rng
        home = np.where(owner_p >= 0, self.p_unit[np.maximum(owner_p, 0)], -1)
        if owner_b is not None:
            home = np.where(owner_b >= 0, a["b_unit"][np.maximum(owner_b, 0)], home)
        pw = self.w.u_weight[self.prov_units]
        prov = self.prov_units[rng.choice(len(self.prov_units), len(proc), p=pw / pw.sum())]
        return np.where(cat.LEVEL_PROVINCE[proc] | (home < 0), prov, home)

    def times(self, n: int, kind: str) -> np.ndarray:
        return self.w.cal.draw(self.rng, n, kind)

    def after_creation(self, t: np.ndarray, account: np.ndarray) -> np.ndarray:
        """An account cannot file before it exists: move such filings after its creation."""
        created = self.a["a_created"][account]
        bad = created >= t
        if bad.any():
            end = self.w.cal.n_days * DAY - 1
            t = t.copy()
            t[bad] = np.minimum(
                created[bad] + self.rng.integers(10 * MINUTE, 20 * DAY, int(bad.sum())), end
            )
        return t

    def phone_of(self, p: np.ndarray, share: float) -> np.ndarray:
        ph = self.a["p_phone"][p].copy()
        ph[self.rng.random(len(p)) > share] = None
        return ph

    def payer(self, proc: np.ndarray, token: np.ndarray, share: float = 0.6) -> np.ndarray:
        pay = token.copy()
        pay[~(cat.HAS_FEE[proc] & (self.rng.random(len(proc)) < share))] = None
        return pay

    def attachments(self, n: int, kind: str) -> np.ndarray:
        mixes = {
            "home": {"digital": 0.35, "photo": 0.45, "scan": 0.15, "none": 0.05},
            "office": {"scan": 0.6, "photo": 0.3, "digital": 0.1},
            "desk": {"scan": 0.8, "photo": 0.15, "none": 0.05},
            "counter": {"none": 0.55, "scan": 0.45},
        }
        return _pick(self.rng, n, mixes[kind])

    def mandates(
        self,
        grantor_p: np.ndarray,
        grantor_b: np.ndarray,
        grantee: np.ndarray,
        proc: np.ndarray,
        t: np.ndarray,
        listed: float,
        expired: np.ndarray | None = None,
    ) -> np.ndarray:
        """Register mandates covering each filing; return their authorization_id."""
        rng, n = self.rng, len(t)
        day = t // DAY
        start = day - rng.integers(1, 180, n)
        end = np.where(rng.random(n) < 0.3, np.iinfo(np.int64).max, day + rng.integers(20, 700, n))
        if expired is not None:  # a broker waving an out-of-date mandate
            end = np.where(expired, day - rng.integers(5, 200, n), end)
            start = np.minimum(start, end - 30)
        scoped = rng.random(n) < 0.5
        ids = np.array([f"UQ{self.n_auth + i:07d}" for i in range(n)], dtype=object)
        self.n_auth += n
        self.out.mandates.append(
            pd.DataFrame(
                {
                    "authorization_id": ids,
                    "grantor_p": grantor_p,
                    "grantor_b": grantor_b,
                    "grantee": grantee,
                    "proc": np.where(scoped, proc, -1),
                    "from_day": start,
                    "to_day": end,
                    "listed": rng.random(n) < listed,
                }
            )
        )
        return ids

    def visits(self, person: np.ndarray, unit: np.ndarray, t: np.ndarray, recorded: float) -> None:
        rng = self.rng
        keep = rng.random(len(t)) < recorded
        p = np.where(rng.random(len(t)) < 0.78, person, -1)
        self.out.visits.append(
            pd.DataFrame(
                {
                    "person": p[keep],
                    "unit": unit[keep],
                    "t": (t - rng.integers(5, 45, len(t)) * MINUTE)[keep],
                }
            )
        )

    def emit(self, df: pd.DataFrame) -> None:
        self.out.dossiers.append(df)
