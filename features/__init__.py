"""Read the data contract, clean it, report data quality, and compute features (the lowest layer).

Features are declared once, in the registry :mod:`features.defs` (one module
per family: each feature's meaning in Vietnamese and English, its moment, the
data gap a missing input shows as, and its computation for a frame and for
one dossier side by side). The runners loop over it and name no feature:
:func:`features.compute.compute_all` (batch), :class:`features.online.ReferenceIndex`
and :mod:`features.history` (one dossier, for the scoring API). To add a
feature, add one declaration to its family's module (README, "Adding a
feature"); ``tests/features/test_registry_parity.py`` covers it.
"""

from features._private import is_missing, lookup, str_isin
from features.checks import run_checks
from features.codes import FINDING_CODES, FindingCode
from features.errors import ContractError, DetectorError, UsageError
from features.graph import (
    EDGE_TYPES,
    NODE_TYPES,
    EntityIndex,
    LiveIndex,
    build_graph,
    evidence_subgraph,
    mark,
    to_json,
)
from features.ids import (
    PROVINCE_NAMES,
    VALID_PROVINCE_CODES,
    cccd_century_sex_digit,
    check_business_id,
    check_person_id,
    classify_owner_id,
    mask_value,
    normalise_business_id,
    normalise_owner_id,
    normalise_person_id,
    owner_id_kind,
    pseudonymiser,
)
from features.names import normalise_name
from features.normalise import normalise_column, normalise_dossier, normalise_table
from features.quality import Finding, Issue, QualityReport, TableStatus
from features.reader import Dataset, check_folder, read_dataset, read_labels

__all__ = [
    "EDGE_TYPES",
    "FINDING_CODES",
    "NODE_TYPES",
    "PROVINCE_NAMES",
    "VALID_PROVINCE_CODES",
    "ContractError",
    "Dataset",
    "DetectorError",
    "EntityIndex",
    "Finding",
    "FindingCode",
    "Issue",
    "LiveIndex",
    "QualityReport",
    "TableStatus",
    "UsageError",
    "build_graph",
    "cccd_century_sex_digit",
    "check_business_id",
    "check_folder",
    "check_person_id",
    "classify_owner_id",
    "evidence_subgraph",
    "is_missing",
    "lookup",
    "mark",
    "mask_value",
    "normalise_business_id",
    "normalise_column",
    "normalise_dossier",
    "normalise_name",
    "normalise_owner_id",
    "normalise_person_id",
    "normalise_table",
    "owner_id_kind",
    "pseudonymiser",
    "read_dataset",
    "read_labels",
    "run_checks",
    "str_isin",
    "to_json",
]
