"""No script runs from any dossier field, reason, graph label or unit name (Chromium).

The probe behind issue #14 found none running; this keeps it so. A case is
made whose every text the pages show carries a payload that would set
``window.__xss`` if it ran: HTML, an attribute break-out, a ``</script>``
that would end the page's JSON data block, a ``javascript:`` link, a template
expression. Chromium opens the queue, the case (as a reviewer, after revealing
the name) and the unit dashboard; nothing may have run, no dialog may open,
and the page must log no error (a script blocked by the CSP would log one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page
from web_kit import Workbench, login, screenshot
from web_seed import PASSWORD, USERS, Seeded

from service.app import create_app
from service.cases.db import CaseStore
from service.cases.models import Case, UnitMonth
from service.cases.security import create_user
from service.settings import Settings

pytestmark = pytest.mark.slow

PAYLOADS = (
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=1">',
    "'><svg onload=window.__xss=1>",
    "</script><script>window.__xss=1</script>",
    "javascript:window.__xss=1",
    "{{7*7}}${7*7}<b onmouseover=window.__xss=1>x</b>",
)
UNIT = '<img src=x onerror="window.__xss=1">U66'


def _hostile(i: int) -> str:
    return PAYLOADS[i % len(PAYLOADS)]


def _case() -> dict[str, Any]:
    now = datetime(2025, 11, 14, 2, 15, tzinfo=UTC)
    nodes = [
        {"id": "dossier:XSS-1", "type": "dossier", "label": _hostile(0), "unit_id": UNIT},
        {"id": "person:abc", "type": "person", "label": _hostile(1), "known": True},
        {"id": f"account:{_hostile(2)}", "type": "account", "label": _hostile(2)},
        {"id": f"device:{_hostile(3)}", "type": "device", "label": _hostile(3)},
        {"id": f"unit:{UNIT}", "type": "unit", "label": _hostile(4)},
    ]
    edges = [
        {
            "source": "dossier:XSS-1",
            "target": nodes[2]["id"],
            "type": "submitted_through",
            "key": "submitted_through",
            "suspicious": True,
        },
        {
            "source": "person:abc",
            "target": "dossier:XSS-1",
            "type": "owns",
            "key": _hostile(5),
            "suspicious": False,
        },
        {
            "source": "dossier:XSS-1",
            "target": nodes[3]["id"],
            "type": _hostile(1),
            "key": "x",
            "suspicious": True,
        },
    ]
    return {
        "dossier_id": "XSS-1",
        "unit_id": UNIT,
        "month": "2025-11",
        "submitted_at": now,
        "channel": _hostile(4),
        "risk_score": 0.99,
        "proxy_type": "identity_misuse",
        "reasons": [
            {
                "code": _hostile(0),
                "vi": _hostile(1),
                "en": _hostile(2),
                "evidence": {_hostile(3): _hostile(4), "acct_owners": 9.0},
            },
            {"code": "R101", "vi": _hostile(5), "en": _hostile(0), "evidence": {}},
        ],
        "data_gaps": [_hostile(3), "relation_unknown"],
        "probabilities": {"identity_misuse": 0.99, _hostile(1): 0.01},
        "dossier": {
            "dossier_id": "XSS-1",
            "procedure_code": _hostile(0),
            "unit_id": UNIT,
            "channel": _hostile(4),
            "submitted_at": _hostile(5),
            "account_id": _hostile(2),
            "device_id": _hostile(3),
            "owner_name": _hostile(1),
            "owner_id": "079123456789",
            "declared_relation": _hostile(0),
        },
        "evidence": {
            "graph": {"nodes": nodes, "edges": edges, "graph": {"focus": "dossier:XSS-1"}},
            "related": [{"dossier_id": _hostile(2), "via": _hostile(3), "submitted_at": None}],
        },
        "source": "batch",
        "scored_at": "review",
        "model_version": _hostile(5),
        "created_at": now,
        "updated_at": now,
    }


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    """Its own store, holding the hostile case only (the shared one is left as it is)."""
    state = tmp_path_factory.mktemp("hostile")
    store = CaseStore(f"sqlite:///{state / 'cases.db'}")
    with store.session() as s:
        for username, role, name in USERS:
            create_user(s, username, PASSWORD, role, name)
        case = Case(**_case())
        s.add(case)
        s.add(
            UnitMonth(
                unit_id=UNIT, month="2025-11", dossiers=10, claimed_online_share=0.9,
                estimated_genuine_online_share=0.5, suspected_officer_proxy=4.0,
                flagged_officer_proxy=3,
            )
        )  # fmt: skip
        s.flush()
        case_id = case.id
    app = create_app(Settings(state_dir=state, data_dir=None, model_dir=None), cases=store)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    seeded = Seeded(
        store, [case_id], {"identity_misuse": [case_id]}, [UNIT], case_id, UNIT, [], case_id
    )
    yield Workbench(f"http://127.0.0.1:{port}", seeded)
    server.should_exit = True
    thread.join(10)
    store.dispose()


def _nothing_ran(page: Page, dialogs: list[str]) -> None:
    assert page.evaluate("() => window.__xss") is None
    assert not dialogs


def test_no_script_runs_from_any_field(page: Page, workbench: Workbench, tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    case_id = workbench.seeded.case_ids[0]
    login(page, "binh.reviewer")
    _nothing_ran(page, dialogs)
    page.goto(f"/cases/{case_id}")
    page.wait_for_timeout(800)  # the graph is laid out by script: let it draw
    _nothing_ran(page, dialogs)
    # the payloads are shown as text, not dropped
    assert "<script>window.__xss=1</script>" in page.locator("body").inner_text()
    page.hover("svg circle, svg g.node >> nth=0")  # tooltips are built from labels
    page.click("button.reveal[data-reveal='owner_name']")
    page.wait_for_timeout(300)
    _nothing_ran(page, dialogs)
    screenshot(page, tmp_path, "hostile_case")
    for path in ("/cases", "/units", f"/units/{UNIT}", "/cases?unit_id=" + UNIT):
        page.goto(path)
        page.wait_for_timeout(300)
        _nothing_ran(page, dialogs)
    # a javascript: link would run on click: none of the page's links carries one
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
