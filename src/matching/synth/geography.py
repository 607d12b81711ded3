"""Synthetic geography: local authorities on the national grid, regions and fostering agencies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.eligibility.arithmetic import METRES_PER_MILE, miles

#: England's nine regions laid out roughly as on the map (3 x 3 blocks of the grid box).
REGIONS: tuple[tuple[str, str, str], ...] = (
    ("South West", "South East", "London"),
    ("West Midlands", "East Midlands", "East of England"),
    ("North West", "Yorkshire and the Humber", "North East"),
)
_EAST = (200_000, 640_000)
_NORTH = (60_000, 600_000)
_PREFIX = ("Ash", "Brack", "Cal", "Dun", "Elm", "Fair", "Glen", "Hart", "Ivy", "Kings", "Lang", "Marl", "Nor",
           "Oak", "Pen", "Queens", "Rose", "Stan", "Thorn", "Up", "Wold", "Yar", "Bram", "Chest", "Der")  # fmt: skip
_SUFFIX = ("bury", "ford", "ham", "ley", "mouth", "shire", "wick", "field", "ton", "dale")


@dataclass(frozen=True)
class LocalAuthority:
    """A synthetic local authority."""

    la_code: str
    name: str
    region: str
    centre_easting: int
    centre_northing: int
    radius_miles: float


@dataclass(frozen=True)
class Agency:
    """A synthetic fostering service."""

    agency_code: str
    name: str
    agency_type: str
    la_code: str | None
    region: str


def make_local_authorities(n: int, rng: np.random.Generator) -> list[LocalAuthority]:
    """Place ``n`` local authorities on a jittered grid over England (one LA: the Midlands)."""
    if n == 1:
        return [LocalAuthority("L001", "Ashbury", "East Midlands", 450_000, 300_000, 12.0)]
    cols = int(np.ceil(np.sqrt(n * (_EAST[1] - _EAST[0]) / (_NORTH[1] - _NORTH[0]))))
    rows = int(np.ceil(n / cols))
    cell_e = (_EAST[1] - _EAST[0]) / cols
    cell_n = (_NORTH[1] - _NORTH[0]) / rows
    cells = [(r, c) for r in range(rows) for c in range(cols)][:n]
    out: list[LocalAuthority] = []
    for i, (r, c) in enumerate(cells):
        e = _EAST[0] + (c + 0.5 + rng.uniform(-0.25, 0.25)) * cell_e
        no = _NORTH[0] + (r + 0.5 + rng.uniform(-0.25, 0.25)) * cell_n
        region = REGIONS[min(2, int(3 * (no - _NORTH[0]) / (_NORTH[1] - _NORTH[0])))][
            min(2, int(3 * (e - _EAST[0]) / (_EAST[1] - _EAST[0])))
        ]
        name = _PREFIX[i % len(_PREFIX)] + _SUFFIX[(i // len(_PREFIX)) % len(_SUFFIX)]
        if i >= len(_PREFIX) * len(_SUFFIX):
            name += f" {i}"
        # Real authorities are 5-20 miles across whatever their number here.
        radius = float(rng.uniform(7.0, 15.0))
        out.append(LocalAuthority(f"L{i + 1:03d}", name, region, round(e), round(no), round(radius, 1)))
    return out


def make_agencies(las: list[LocalAuthority]) -> list[Agency]:
    """One in-house service per LA and independent agencies per region (about one per three LAs)."""
    agencies = [Agency(f"LA-{la.la_code}", f"{la.name} Fostering Service", "la", la.la_code, la.region) for la in las]
    regions = sorted({la.region for la in las})
    k = 0
    for region in regions:
        n_la = sum(1 for la in las if la.region == region)
        for _ in range(max(2, round(n_la / 3))):
            k += 1
            agencies.append(Agency(f"IFA{k:03d}", f"Independent Fostering Agency {k}", "ifa", None, region))
    return agencies


def distance_miles(
    e1: np.ndarray | float, n1: np.ndarray | float, e2: np.ndarray | float, n2: np.ndarray | float
) -> np.ndarray:
    """DfE distance in miles between grid points (:func:`matching.eligibility.arithmetic.miles`)."""
    return np.asarray(miles(np.asarray(e1, dtype=float) - e2, np.asarray(n1, dtype=float) - n2))


def scatter_around(
    e: float, n: float, radius_miles: float, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Grid points spread uniformly over a disc around (e, n)."""
    r = radius_miles * METRES_PER_MILE * np.sqrt(rng.uniform(0, 1, size))
    theta = rng.uniform(0, 2 * np.pi, size)
    east = np.clip(np.round(e + r * np.cos(theta)), 1, 699_999).astype(np.int64)
    north = np.clip(np.round(n + r * np.sin(theta)), 1, 1_299_999).astype(np.int64)
    return east, north
