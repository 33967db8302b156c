"""The simulated province before any dossier is filed.

Units with office networks, hall kiosks and officers' desks; households of
people of every age with valid CCCD numbers; civil-status relations; portal
accounts (none for young children, fewer for the elderly); businesses and the
service firms that file for clients; brokers; devices, phones, payment tokens
and IP addresses.  Everything is a numpy array indexed by an integer entity
number, turned into strings only when written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import SimConfig
from .timing import DAY, Calendar

ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_ELDER, ROLE_OTHER = range(5)

#: other provinces people were born in (CCCD province codes)
_OTHER_PROVINCES = np.array(
    ["001", "038", "040", "046", "048", "049", "052", "054", "056", "064", "066", "079", "092"],
    dtype=object,
)
#: residential and mobile address blocks of Vietnamese carriers (first two octets)
_HOME_BLOCKS = np.array(
    [[14, 160], [14, 176], [113, 160], [113, 176], [27, 64], [171, 224], [116, 96], [42, 112]]
)
_MOBILE_BLOCKS = np.array([[27, 72], [117, 2], [171, 240], [115, 76], [1, 52]])


def unique_ints(rng: np.random.Generator, n: int, space: int) -> np.ndarray:
    """``n`` distinct random integers in ``[0, space)``, in random order."""
    if n == 0:
        return np.zeros(0, np.int64)
    step = max(1, space // n)
    vals = np.arange(n, dtype=np.int64) * step + rng.integers(0, step, n)
    return rng.permutation(vals)


def zfill(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal strings as an object array."""
    if len(values) == 0:
        return np.zeros(0, dtype=object)
    return np.char.zfill(np.asarray(values, dtype=np.int64).astype(str), width).astype(object)


def hex_ids(
    rng: np.random.Generator, n: int, width: int = 16, block: tuple[int, int] = (0, 16**15)
) -> np.ndarray:
    """``n`` distinct hexadecimal IDs drawn from ``block`` = ``(first, size)`` of the space."""
    first, size = block
    vals = first + unique_ints(rng, n, size)
    return np.array([format(int(v), f"0{width}x") for v in vals], dtype=object)


@dataclass
class World:
    """All entities of the simulated province (see module docstring)."""

    cfg: SimConfig
    cal: Calendar
    # units
    u_id: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    u_name: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    u_province: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    u_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    u_uptake: np.ndarray = field(default_factory=lambda: np.zeros(0))
    u_target: np.ndarray = field(default_factory=lambda: np.zeros(0))
    u_cidr: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    u_egress: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), object))
    u_networks_known: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    u_kiosks: list[np.ndarray] = field(default_factory=list)
    u_proxying: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # people
    p_id: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    #: people (p_*), households (hh_*), accounts (a_*), staff (s_*), businesses (b_*) ...
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    firm_devices: dict[int, np.ndarray] = field(default_factory=dict)
    broker_accounts: list[np.ndarray] = field(default_factory=list)
    broker_devices: list[np.ndarray] = field(default_factory=list)

    # ------------------------------------------------------------------ helpers
    @property
    def n_people(self) -> int:
        return len(self.arrays["p_age"])

    @property
    def n_units(self) -> int:
        return len(self.u_id)

    def unique(self, rng: np.random.Generator, n: int, space: int) -> np.ndarray:
        """``n`` distinct integers from this province's block of ``[0, space)``.

        Raises
        ------
        UsageError
            When the block is too small: too many entities per province for
            the number of provinces.
        """
        first, size = self.cfg.block(space)
        if n > size:
            from features.errors import UsageError

            raise UsageError(
                f"{n:,} IDs do not fit in one province's block of {size:,} "
                f"({self.cfg.province_count} provinces): use fewer provinces or dossiers"
            )
        return first + unique_ints(rng, n, size)

    def hex_ids(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Device fingerprints and payment tokens, 16 hex digits, from this province's block."""
        return hex_ids(rng, n, 16, self.cfg.block(16**15))

    def new_devices(self, n: int) -> np.ndarray:
        start = self.arrays["n_devices"][0]
        self.arrays["n_devices"][0] = start + n
        return np.arange(start, start + n)

    def new_accounts(
        self,
        holder_p: np.ndarray,
        created_s: np.ndarray,
        created_ip: np.ndarray,
        level: np.ndarray,
        holder_b: np.ndarray | None = None,
    ) -> np.ndarray:
        """Append accounts (person holders, or businesses where ``holder_b`` >= 0)."""
        a = self.arrays
        n = len(holder_p)
        start = len(a["a_holder_p"])
        a["a_holder_p"] = np.concatenate([a["a_holder_p"], holder_p])
        a["a_holder_b"] = np.concatenate(
            [a["a_holder_b"], np.full(n, -1) if holder_b is None else holder_b]
        )
        a["a_created"] = np.concatenate([a["a_created"], created_s])
        a["a_created_ip"] = np.concatenate([a["a_created_ip"], created_ip])
        a["a_level"] = np.concatenate([a["a_level"], level])
        return np.arange(start, start + n)

    def give_accounts(self, rng: np.random.Generator, people: np.ndarray) -> None:
        """Give an account (and a device) to each of ``people`` who has none."""
        a = self.arrays
        people = np.unique(people[a["p_account"][people] < 0])
        if len(people) == 0:
            return
        m = len(people)
        acc = self.new_accounts(
            people, -rng.integers(1, 900, m) * DAY, np.full(m, None, object), np.full(m, 2)
        )
        a["p_account"][people] = acc
        dev = self.new_devices(m)
        a["p_device"][people] = np.where(a["p_device"][people] >= 0, a["p_device"][people], dev)

    def mobile_ip(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Carrier-grade NAT addresses: a small pool shared by unrelated people."""
        pool = self.arrays["cgnat_pool"]
        w = 1.0 / np.arange(1, len(pool) + 1) ** 0.6
        return pool[rng.choice(len(pool), size=n, p=w / w.sum())]

    def ipv6(self, rng: np.random.Generator, n: int) -> np.ndarray:
        a, b, c = rng.integers(0, 65536, n), rng.integers(0, 65536, n), rng.integers(1, 65536, n)
        return np.array(
            [f"2402:800:{x:x}:{y:x}::{z:x}" for x, y, z in zip(a, b, c, strict=True)], dtype=object
        )

    def office_ip(self, rng: np.random.Generator, unit: np.ndarray) -> np.ndarray:
        """The egress address of a unit's office network (most offices NAT to one or two)."""
        return self.u_egress[unit, rng.integers(0, 2, len(unit))]

    def person_ip(self, rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
        """Where a person files from at home: home broadband, phone (CGNAT) or IPv6."""
        r = rng.random(len(p))
        home = self.arrays["hh_ip"][self.arrays["p_hh"][p]]
        out = np.where(r < 0.42, home, self.mobile_ip(rng, len(p)))
        v6 = r > 0.95
        if v6.any():
            out[v6] = self.ipv6(rng, int(v6.sum()))
        return out

    def person_device(self, rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
        """A person's own phone or computer, or the household's shared one."""
        a = self.arrays
        own = a["p_device"][p]
        second = a["p_device2"][p]
        shared = a["hh_device"][a["p_hh"][p]]
        r = rng.random(len(p))
        out = np.where((second >= 0) & (r < 0.3), second, own)
        out = np.where((shared >= 0) & (r > 0.72), shared, out)
        return np.where(out >= 0, out, shared)

    def draw_people(
        self, rng: np.random.Generator, mask: np.ndarray, n: int, weights: np.ndarray | None = None
    ) -> np.ndarray:
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            raise RuntimeError("simulation: no person fits the request; increase --dossiers")
        if weights is None:
            return idx[rng.integers(0, len(idx), n)]
        w = weights[idx]
        return rng.choice(idx, size=n, p=w / w.sum())
