"""Office networks of the units, and whether an IP address lies inside one.

Shared by the batch (:func:`ip_membership`, vectorised over distinct
addresses) and the single-dossier path (:func:`networks_of`, one binary
search per address); ``tests/features/test_networks.py`` holds them to the
same answers.
"""

from __future__ import annotations

import bisect
import ipaddress

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features._private import flags as _flag
from features._private import index_of, re_contains, str_isin
from features.normalise import IPV4_RE


def _ip_ranges(units: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for unit, nets in zip(units["unit_id"], units["office_networks"], strict=True):
        if not isinstance(nets, str):
            continue
        for cidr in nets.split(";"):
            try:
                net = ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                continue
            rows.append((unit, net.version, int(net.network_address), int(net.broadcast_address)))
    return pd.DataFrame(rows, columns=["unit_id", "version", "lo", "hi"])


#: office networks per IP version: first addresses (sorted), last addresses, units
OfficeNetworks = dict[int, tuple[list[int], list[int], list[str]]]


def office_networks(units: pd.DataFrame) -> OfficeNetworks:
    """The units' office networks per IP version, sorted by first address (empty when none)."""
    ranges = _ip_ranges(units)
    if ranges.empty:
        return {}
    ranges = ranges.sort_values(["version", "lo"])
    return {
        v: (g["lo"].tolist(), g["hi"].tolist(), g["unit_id"].tolist())
        for v, g in ranges.groupby("version")
    }


def networks_of(value: str, networks: OfficeNetworks) -> list[str] | None:
    """The units whose office network holds the address ``value``; None when it is not an IP.

    Notes
    -----
    Binary search over the sorted networks, then the 8 networks starting at or
    before the address are checked, so nested networks up to 8 deep are all
    found. Cost: O(log networks).
    """
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    lo, hi, un = networks.get(addr.version, ([], [], []))
    x = int(addr)
    j = bisect.bisect_right(lo, x) - 1
    return [un[k] for k in range(j, max(-1, j - 8), -1) if lo[k] <= x <= hi[k]]


def _v4_hits(values: np.ndarray, networks: OfficeNetworks) -> pd.DataFrame:
    """(ip, unit_id) for each dotted-quad address in ``values`` and each network holding it.

    :func:`networks_of` on arrays: the addresses as integers (Arrow splits the
    text), one binary search for all, then the 8 networks starting at or
    before each address are checked, as there.
    """
    first, last, units = networks.get(4, ([], [], []))
    lo, hi, un = np.asarray(first, np.int64), np.asarray(last, np.int64), np.asarray(units, object)
    if not len(values) or not len(lo):
        return pd.DataFrame({"ip": pd.Series(dtype=object), "unit_id": pd.Series(dtype=object)})
    octets = pc.cast(
        pc.split_pattern(pa.array(values, pa.large_string()), ".").flatten(), pa.int64()
    )
    x = octets.to_numpy().reshape(-1, 4) @ np.array([1 << 24, 1 << 16, 1 << 8, 1], np.int64)
    j = np.searchsorted(lo, x, side="right") - 1
    found = []
    for back in range(8):
        k = j - back
        ok = k >= 0
        ok[ok] = x[ok] <= hi[k[ok]]
        found.append(pd.DataFrame({"ip": values[ok], "unit_id": un[k[ok]]}))
    return pd.concat(found, ignore_index=True)


def ip_membership(
    ips: pd.Series, unit: pd.Series, units: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """Whether each IP is in its receiving unit's office network, and in any unit's.

    Unknown (NaN) when the IP is missing or unparseable, or when no network is
    known (for the unit, or at all).

    Notes
    -----
    Each distinct address is located once: dotted-quad IPv4 all at once by
    :func:`_v4_hits`, the rest by :func:`networks_of`; the result is joined
    back on (ip, unit). Cost: O(distinct IPs · log networks).
    """
    networks = office_networks(units)
    nan = pd.Series(np.nan, index=ips.index)
    if not networks:
        return nan, nan
    distinct = pd.unique(ips.dropna().to_numpy(dtype=object))
    v4 = re_contains(pd.Series(distinct, dtype=object), IPV4_RE).to_numpy()
    parsed, pairs = list(distinct[v4]), []
    for value in distinct[~v4]:  # IPv6 and the rest, one at a time
        found = networks_of(value, networks)
        if found is not None:
            parsed.append(value)
            pairs += [(value, u) for u in found]
    others = pd.DataFrame(pairs, columns=["ip", "unit_id"], dtype=object)
    hits = pd.concat([_v4_hits(distinct[v4], networks), others], ignore_index=True)
    hits = hits.drop_duplicates()
    known_ip = str_isin(ips, np.array(parsed, dtype=object))
    anyhit = str_isin(ips, hits["ip"].unique())
    # each row's (ip, unit) among the hits, as integer pairs over the hits' own IPs and units
    hit_ips, hit_units = hits["ip"].unique(), hits["unit_id"].unique()
    width = max(len(hit_units), 1)
    hit_pairs = index_of(hits["ip"], hit_ips) * width + index_of(hits["unit_id"], hit_units)
    row_ip, row_unit = index_of(ips, hit_ips), index_of(unit, hit_units)
    row_pairs = np.where((row_ip >= 0) & (row_unit >= 0), row_ip * width + row_unit, -1)
    unit_hit = pd.Series(np.isin(row_pairs, hit_pairs), index=ips.index)
    unit_known = unit.isin({u for _, _, units_of in networks.values() for u in units_of})
    return _flag(unit_hit).where(known_ip & unit_known), _flag(anyhit).where(known_ip)
