"""A small catalogue of administrative procedures (TTHC), by category.

Codes follow the national procedure database's format; the civil-status ones
are the real codes (1.001193 birth registration, 1.000656 death registration),
the others are plausible stand-ins. The contract has no procedure table, so the
detector may use a code only as an opaque category.
"""

from __future__ import annotations

import numpy as np

# code, level, category, has a fee
PROCEDURES: list[tuple[str, str, str, bool]] = [
    ("1.001193", "commune", "birth", False),
    ("1.000656", "commune", "death", False),
    ("1.000894", "commune", "marriage", False),
    ("1.004873", "commune", "civil_status", False),
    ("2.000815", "commune", "certify", True),
    ("2.000843", "commune", "certify", True),
    ("1.001758", "commune", "social", False),
    ("1.003583", "commune", "household_business", True),
    ("1.004227", "commune", "residence", False),
    ("1.010842", "commune", "land", True),
    ("1.009972", "commune", "construction", True),
    ("1.003003", "province", "land", True),
    ("1.004221", "province", "land", True),
    ("1.012003", "province", "construction", True),
    ("2.000488", "province", "judicial", True),
    ("2.000505", "province", "judicial", True),
    ("2.001610", "province", "business", True),
    ("1.001612", "province", "business", True),
    ("1.002425", "province", "transport", True),
    ("1.002809", "province", "education", False),
]

CODES = np.array([p[0] for p in PROCEDURES], dtype=object)
LEVEL_PROVINCE = np.array([p[1] == "province" for p in PROCEDURES])
CATEGORY = np.array([p[2] for p in PROCEDURES], dtype=object)
HAS_FEE = np.array([p[3] for p in PROCEDURES])

#: relative weight of each category, per scenario family
MIXES: dict[str, dict[str, float]] = {
    "everyday": {
        "civil_status": 0.10,
        "marriage": 0.04,
        "certify": 0.06,
        "social": 0.05,
        "household_business": 0.04,
        "residence": 0.16,
        "land": 0.18,
        "construction": 0.05,
        "judicial": 0.13,
        "transport": 0.14,
        "education": 0.05,
    },
    "counter": {
        "certify": 0.35,
        "civil_status": 0.10,
        "marriage": 0.05,
        "social": 0.08,
        "residence": 0.10,
        "land": 0.20,
        "construction": 0.04,
        "judicial": 0.05,
        "transport": 0.03,
    },
    "broker": {"land": 0.45, "construction": 0.20, "judicial": 0.20, "business": 0.15},
    "firm": {"business": 0.55, "land": 0.30, "construction": 0.15},
    "business": {"business": 0.85, "construction": 0.10, "land": 0.05},
    "elder": {
        "social": 0.30,
        "residence": 0.20,
        "land": 0.25,
        "civil_status": 0.10,
        "judicial": 0.05,
        "certify": 0.10,
    },
    "child": {"residence": 0.55, "education": 0.35, "social": 0.10},
    "assisted": {
        "social": 0.30,
        "residence": 0.25,
        "civil_status": 0.15,
        "judicial": 0.10,
        "land": 0.20,
    },
    "deceased": {"land": 0.85, "residence": 0.15},
    "birth": {"birth": 1.0},
    "death": {"death": 1.0},
}


def draw(rng: np.random.Generator, mix: str, n: int) -> np.ndarray:
    """Draw ``n`` procedure indices following one of the :data:`MIXES`."""
    weights = MIXES[mix]
    w = np.zeros(len(PROCEDURES))
    for i, cat in enumerate(CATEGORY):
        w[i] = weights.get(cat, 0.0)
    counts = np.array([max(1, sum(c == CATEGORY)) for c in CATEGORY])
    w = w / counts
    return rng.choice(len(PROCEDURES), size=n, p=w / w.sum())
