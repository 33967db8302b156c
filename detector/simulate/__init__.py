"""A synthetic province in the data contract's format, for development and tests.

Use :func:`simulate` to build one in memory and :func:`write_province` to
write it as a data folder with the labels kept outside it::

    OUT_DIR/data/<table>.csv     the contract's tables
    OUT_DIR/labels.csv           dossier_id, proxy_type
    OUT_DIR/scenarios.csv        dossier_id, scenario (finer truth, for checks)
    OUT_DIR/manifest.json        settings and the share of each proxy_type

:func:`simulate_nation` simulates several provinces one at a time and writes
every table as a folder of parts, one per province (see :mod:`.nation`).
"""

from .config import DEFAULT_SHARES, SimConfig
from .core import Province, simulate, write_province
from .nation import simulate_nation

__all__ = [
    "DEFAULT_SHARES",
    "Province",
    "SimConfig",
    "simulate",
    "simulate_nation",
    "write_province",
]
