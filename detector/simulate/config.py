"""Settings of the simulated province, and the figures they are calibrated on.

Calibration (the press reports summarised in ``docs/domain.md``):

- Phú Nhuận district, 2023: 19,955 dossiers, over 17,000 online (86 %) for
  about 160,000 people; 8,300 electronic fee receipts (42 % of dossiers paid
  online).  -> claimed online share ≈ 0.85, online fee payment ≈ 0.42 of dossiers
  with a fee.
- Portal peaks 07:30–10:00 and 15:00–17:00; portal-to-unit sync lags of 2–3
  days for some dossiers.  -> timing profiles and the sync-lag mixture.
- HCMC applies 1,860 province-level and 370 commune-level procedures
  (84 % / 16 %); since 2025 local government has two levels.  -> unit levels and
  the catalogue's split (weighted by volume, commune procedures are the
  everyday ones, so the volume split is closer to half and half).
- Units had officers "làm thay, làm hộ" online dossiers to reach targets.
  -> officer proxies converted from desk submissions at units behind target.
- Kon Tum ward appears in a Quảng Ngãi article: Kon Tum (062) merged into
  Quảng Ngãi (051) in 2025, so people of the simulated province carry both
  birth-registration codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: share of all distinct dossiers per scenario, before officer proxies are made
#: from desk submissions (those are taken out of ``counter``)
DEFAULT_SHARES: dict[str, float] = {
    "self_online": 0.558,
    "self_kiosk": 0.040,
    "business_self": 0.010,
    "officer_own": 0.006,
    "family_household": 0.058,
    "family_elder_apart": 0.020,
    "family_birth": 0.012,
    "family_death": 0.006,
    "authorized_mandate": 0.022,
    "authorized_legal_rep": 0.012,
    "authorized_firm": 0.012,
    "assisted": 0.035,
    "misuse_broker_own": 0.010,
    "misuse_broker_rented": 0.006,
    "misuse_borrowed": 0.004,
    "misuse_takeover": 0.003,
    "misuse_deceased": 0.002,
    "counter": 0.169,
    "postal": 0.015,
}

#: scenario -> proxy_type label (counter and officer_own are split further)
SCENARIO_LABEL: dict[str, str] = {
    "self_online": "self",
    "self_kiosk": "self",
    "business_self": "self",
    "family_household": "family",
    "family_elder_apart": "family",
    "family_birth": "family",
    "family_death": "family",
    "authorized_mandate": "authorized",
    "authorized_legal_rep": "authorized",
    "authorized_firm": "authorized",
    "assisted": "assisted",
    "misuse_broker_own": "identity_misuse",
    "misuse_broker_rented": "identity_misuse",
    "misuse_borrowed": "identity_misuse",
    "misuse_takeover": "identity_misuse",
    "misuse_deceased": "identity_misuse",
    "postal": "self",
}


@dataclass(frozen=True)
class SimConfig:
    """What to simulate.  Every random draw comes from ``seed``.

    Parameters
    ----------
    dossiers : number of distinct dossiers (duplicated rows come on top).
    months : length of the period, from ``start``.
    seed : random seed; the same seed and settings give byte-identical files.
    start : first day of the period (local time).
    officer_proxy_share : target share of all dossiers that officers convert
        from desk submissions into "online" ones at units behind target.
    dirt : multiplier of every dirty-data rate (0 gives a clean export).
    shares : scenario shares, see :data:`DEFAULT_SHARES`.

    What the province's exports hold (measurable from a real province's own
    data, see :mod:`detector.profile`):

    people_missing : share of people absent from the population extract.
    households_missing : share of people whose household ID is not recorded.
    relations_missing : share of civil-status links not shared with the one-stop system.
    networks_missing : share of units whose office networks are not listed.
    visits_missing : share of desk visits the queue-ticket log does not record.
    absent_tables : optional tables the export does not have at all.

    How misusers behave (not measurable without labels; randomised to build
    the starter model, and varied to make held-out settings):

    dossiers_per_broker : how many filings a broker makes on average (fewer
        per broker: more brokers, each with fewer owners, harder to see).
    broker_stealth : 0 (today's brokers: their own phone, IP and payment
        token on most filings, in sessions of several) to 1 (the owner's
        phone, mobile IPs, one filing at a time).
    officer_stealth : 0 (officers file minutes after the desk visit, from
        their desk device, often with their own phone) to 1 (hours later,
        from the hall kiosk, on an account made for the citizen, with the
        citizen's phone: close to guided self-service).

    Where the province sits in a simulated nation (see :mod:`.nation`):

    home_province, merged_province : the CCCD birth-province codes of its
        people (since 2025 most provinces are two former ones).
    province_index, province_count : every ID number space (citizen ID
        serials, tax codes, phones, accounts, dossiers, ...) is cut into
        ``province_count`` equal blocks and this province draws from block
        ``province_index``, so no ID repeats across the nation's provinces.
        With one province (the default) the blocks are the whole spaces.
    unit_prefix : put before every unit ID (``051.P00``), since unit IDs are
        numbered within a province.
    """

    dossiers: int = 100_000
    months: int = 12
    seed: int = 0
    start: str = "2025-07-01"
    officer_proxy_share: float = 0.020
    dirt: float = 1.0
    home_province: str = "051"
    merged_province: str = "062"
    shares: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    people_missing: float = 0.03
    households_missing: float = 0.10
    relations_missing: float = 0.30
    networks_missing: float = 0.15
    visits_missing: float = 0.15
    absent_tables: tuple[str, ...] = ()
    dossiers_per_broker: float = 150.0
    broker_stealth: float = 0.0
    officer_stealth: float = 0.0
    province_index: int = 0
    province_count: int = 1
    unit_prefix: str = ""

    def block(self, space: int) -> tuple[int, int]:
        """This province's block ``(first, size)`` of an ID number space ``[0, space)``."""
        size = space // self.province_count
        return self.province_index * size, size

    def check(self) -> None:
        """Refuse settings that cannot produce a province."""
        from features.errors import UsageError

        if self.dossiers < 200:
            raise UsageError(f"--dossiers must be at least 200 (got {self.dossiers})")
        if not 1 <= self.months <= 60:
            raise UsageError(f"--months must be between 1 and 60 (got {self.months})")
        if not 0 <= self.dirt <= 10:
            raise UsageError(f"dirt must be between 0 and 10 (got {self.dirt})")
        total = sum(self.shares.values())
        if abs(total - 1) > 1e-6:
            raise UsageError(f"scenario shares must add up to 1 (got {total:.4f})")
        for name in (
            "people_missing",
            "households_missing",
            "relations_missing",
            "networks_missing",
            "visits_missing",
            "broker_stealth",
            "officer_stealth",
            "officer_proxy_share",
        ):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise UsageError(f"{name} must be between 0 and 1 (got {value})")
        if not 0 <= self.province_index < self.province_count:
            raise UsageError(
                f"province_index must be in [0, {self.province_count}) (got {self.province_index})"
            )
        if self.dossiers_per_broker < 5:
            raise UsageError(
                f"dossiers_per_broker must be at least 5 (got {self.dossiers_per_broker})"
            )
        from features.contract import TABLES

        optional = [t for t in TABLES if t not in ("dossiers", "accounts")]
        unknown = [t for t in self.absent_tables if t not in optional]
        if unknown:
            raise UsageError(
                f"absent_tables: expected some of {', '.join(optional)}, found {unknown}"
            )
