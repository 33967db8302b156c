"""The project documents itself: the README's links resolve inside a clone, and
docs/data_contract.md lists exactly what the reader (features/contract.py) checks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from features.contract import PROXY_TYPES, TABLES

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = (ROOT / "docs" / "data_contract.md").read_text(encoding="utf-8")


def _section(table: str) -> str:
    """The text of the contract's section on ``table`` (up to the next heading)."""
    match = re.search(rf"^### `{table}`.*?(?=^##)", CONTRACT, re.S | re.M)
    assert match, f"docs/data_contract.md has no section for the table {table!r}"
    return match.group(0)


def test_readme_links_point_inside_the_project() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    local = [link for link in links if "://" not in link]
    # the three documents a newcomer needs are linked, and every local link exists in a clone
    assert {"docs/domain.md", "docs/data_contract.md", "docs/privacy.md"} <= set(local)
    assert all((ROOT / link).exists() for link in local), local
    # what `make test` installs, and how
    assert "apt-get install -y chromium" in readme and "as root" in readme
    assert "(later)" not in readme


def test_every_module_the_readme_names_exists() -> None:
    # "where to find things by name" must not send a newcomer to a module that moved
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:features|detector|service|bench)/[\w/]+\.py)`", readme))
    assert "service/scoring_route.py" in named and "features/links.py" in named
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, missing


def test_nothing_in_the_repository_points_outside_it() -> None:
    # a clone has no ../shared folder: the brief and the contract live under docs/, and every
    # mention of them (code comments included) names the project's own copy
    outside = r"shared/|DOMAIN\.md|DATA_CONTRACT"
    found = subprocess.run(
        ["git", "grep", "-n", "-E", outside, "--", ".", ":!tests/test_docs.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.stdout == ""


@pytest.mark.parametrize("table", list(TABLES))
def test_the_contract_document_lists_every_column_and_allowed_value(table: str) -> None:
    text = _section(table)
    for column in TABLES[table].columns:
        # each column is a row of the table, marked optional ('?') exactly when the reader
        # lets it be absent
        row = re.search(rf"^\| {column.name} \| ([^|]*)\|", text, re.M)
        assert row, f"{table}.{column.name} is not in docs/data_contract.md"
        assert row.group(1).strip().endswith("?") == (not column.required), (table, column.name)
        for value in column.values:
            assert f"`{value}`" in text, (table, column.name, value)


def test_the_contract_document_defines_every_proxy_type() -> None:
    for proxy_type in PROXY_TYPES:
        assert re.search(rf"^\| `{proxy_type}` \| (yes|no) \|", CONTRACT, re.M), proxy_type
