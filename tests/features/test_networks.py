"""Office networks: the batch's membership (arrays) agrees with the single-dossier search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.networks import ip_membership, networks_of, office_networks

UNITS = pd.DataFrame(
    {
        "unit_id": ["U-A", "U-B", "U-C", "U-D", "U-E"],
        "office_networks": [
            "10.0.0.0/8;10.1.0.0/16",  # nested in itself
            "10.1.2.0/24;192.168.1.0/30",  # nested in U-A's
            "203.0.113.7/32",
            "2001:db8::/32",
            None,  # no network known for this unit
        ],
    }
)


def _expected(ips: pd.Series, unit: pd.Series) -> tuple[pd.Series, pd.Series]:
    """One address at a time, as the scoring API does."""
    nets = office_networks(UNITS)
    known_units = {u for _, _, us in nets.values() for u in us}
    in_unit, in_any = [], []
    for ip, u in zip(ips, unit, strict=True):
        found = networks_of(ip, nets) if isinstance(ip, str) else None
        if found is None:
            in_unit.append(np.nan)
            in_any.append(np.nan)
            continue
        in_unit.append(float(u in found) if u in known_units else np.nan)
        in_any.append(float(bool(found)))
    return pd.Series(in_unit, index=ips.index), pd.Series(in_any, index=ips.index)


def _check(ips: pd.Series, unit: pd.Series) -> None:
    got_unit, got_any = ip_membership(ips, unit, UNITS)
    want_unit, want_any = _expected(ips, unit)
    np.testing.assert_array_equal(got_unit.to_numpy(float), want_unit.to_numpy(float))
    np.testing.assert_array_equal(got_any.to_numpy(float), want_any.to_numpy(float))


def test_nested_networks_ipv6_missing_and_bad_addresses() -> None:
    ips = pd.Series(
        ["10.1.2.3", "10.1.2.3", "10.1.9.9", "10.200.0.1", "192.168.1.3", "192.168.1.4",
         "203.0.113.7", "203.0.113.8", "2001:db8::1", "2001:db9::1", "not an ip", None,
         "10.1.2.3", "0.0.0.0", "255.255.255.255"],
        dtype="str",
    )  # fmt: skip
    unit = pd.Series(
        ["U-B", "U-A", "U-A", "U-B", "U-B", "U-B", "U-C", "U-C", "U-D", "U-D", "U-A", "U-A",
         "U-E", "U-A", "U-A"],
        dtype="str",
    )  # fmt: skip
    got_unit, got_any = ip_membership(ips, unit, UNITS)
    # spot checks by hand, then every row against the one-address search
    assert got_unit.iloc[0] == 1 and got_unit.iloc[1] == 1  # in U-B's /24 and U-A's /8
    assert got_unit.iloc[3] == 0 and got_any.iloc[3] == 1  # in U-A's network, filed at U-B
    assert got_unit.iloc[4] == 1 and got_unit.iloc[5] == 0  # a /30 holds .0 to .3
    assert got_unit.iloc[8] == 1 and got_any.iloc[9] == 0  # IPv6
    assert np.isnan(got_any.iloc[10]) and np.isnan(got_any.iloc[11])  # not an IP, missing
    assert np.isnan(got_unit.iloc[12]) and got_any.iloc[12] == 1  # the unit lists no network
    _check(ips, unit)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_addresses_agree_with_the_one_address_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4000
    first = rng.choice([10, 192, 203, 0, 255], n)
    octets = np.c_[first, rng.choice([0, 1, 168], n), rng.integers(0, 4, n), rng.integers(0, 10, n)]
    ips = pd.Series([".".join(map(str, o)) for o in octets], dtype="str")
    unit = pd.Series(rng.choice(UNITS["unit_id"].to_numpy(), n), dtype="str")
    _check(ips, unit)


def test_no_networks_anywhere_is_unknown() -> None:
    units = UNITS.assign(office_networks=None)
    got_unit, got_any = ip_membership(pd.Series(["10.1.2.3"]), pd.Series(["U-A"]), units)
    assert got_unit.isna().all() and got_any.isna().all()
