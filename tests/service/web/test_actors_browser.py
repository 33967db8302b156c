"""Cases by actor in a real browser (issue #13): the actor queue and the actor's one screen.

An inspector reads, on one screen, who the actor is, what it did, the dossiers
involved and why each was flagged, in Vietnamese with no code left unexplained
(English a click away), draws the actor's evidence graph and records one
verdict for the actor with an exception ticked. Screenshots go to
``out/screenshots/`` (and ``DETECTOR_SHOTS``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from test_reading_browser import _VISIBLE_TEXT, _raw_codes, _shot
from web_kit import Workbench, login

from service.cases.models import Actor, Case, Verdict

pytestmark = pytest.mark.slow


def _sizes(workbench: Workbench) -> dict[int, int]:
    with workbench.store.session() as s:
        return {i: n for i, n in s.execute(sa.select(Actor.id, Actor.n_dossiers))}


def test_the_actor_queue_and_one_actor_on_one_screen(
    page: Page, workbench: Workbench, tmp_path: Path
) -> None:
    sizes = _sizes(workbench)
    biggest = workbench.seeded.actor_ids[0]
    assert sizes[biggest] >= 2, sizes  # the seeded flagged dossiers do share actors
    login(page, "binh.reviewer")
    page.goto("/actors")
    rows = page.locator("#actors-table tbody tr")
    expect(rows).to_have_count(len(sizes))
    # ranked by expected misuse: the first row's figure is the largest
    expected = [
        float(t.replace(".", "").replace(",", "."))
        for t in page.locator("#actors-table td.expected").all_text_contents()
    ]
    assert expected == sorted(expected, reverse=True), expected
    leaks = {"/actors": _raw_codes(page.evaluate(_VISIBLE_TEXT))}
    _shot(page, tmp_path, "actor_queue")
    page.goto(f"/actors/{biggest}")
    # who: the kind in words and the masked value; what: a sentence and the counts
    expect(page.locator("#actor-name .actor-kind")).not_to_be_empty()
    expect(page.locator("#actor-did")).to_contain_text(str(sizes[biggest]))
    expect(page.locator("#actor-did")).to_contain_text("chủ hồ sơ")
    # the dossiers, each with why it was flagged: a code beside a sentence
    dossiers = page.locator("#actor-dossiers tbody tr")
    expect(dossiers).to_have_count(sizes[biggest])
    first = dossiers.first.locator(".reason-lines li").first
    assert re.fullmatch(r"R\d{3}|M\.\w+", first.locator(".code-tag").inner_text())
    assert len(first.locator(".sentence").inner_text()) > 20
    # the actor's graph, centred on the actor, its dossiers linking to their cases
    expect(page.locator("#graph-canvas[data-ready='1']")).to_have_count(1)
    # the focus is the actor's own node (an officer, a device...), not one of its dossiers
    expect(page.locator("#graph-canvas g.node.focus:not(.node-dossier)")).to_have_count(1)
    assert page.locator("#graph-canvas g.node-dossier").count() >= 2
    leaks[f"/actors/{biggest}"] = _raw_codes(page.evaluate(_VISIBLE_TEXT))
    _shot(page, tmp_path, "actor_page_vi")
    # every other actor page reads in Vietnamese too
    for actor_id in workbench.seeded.actor_ids[1:]:
        page.goto(f"/actors/{actor_id}")
        leaks[f"/actors/{actor_id}"] = _raw_codes(page.evaluate(_VISIBLE_TEXT))
    assert not {k: v for k, v in leaks.items() if v}, leaks
    # English is a click away, and the page says the same in it
    page.goto(f"/actors/{biggest}")
    page.click("a[lang=en]")
    expect(page.locator("#who-h")).to_have_text("Who the actor is")
    expect(page.locator("#actor-did")).to_contain_text("distinct owners")
    _shot(page, tmp_path, "actor_page_en")
    page.click("a[lang=vi]")
    # a dossier case links to its actor
    case_id = int(dossiers.first.get_attribute("data-case") or 0)
    page.goto(f"/cases/{case_id}")
    expect(page.locator("#actor-link a")).to_have_attribute("href", f"/actors/{biggest}")


def test_one_verdict_on_an_actor_with_an_exception(
    page: Page, workbench: Workbench, tmp_path: Path
) -> None:
    sizes = _sizes(workbench)
    # the smallest actor of several dossiers (the others stay open for the other tests)
    actor_id = min((n, i) for i, n in sizes.items() if n >= 2)[1]
    login(page, "binh.reviewer")
    page.goto(f"/actors/{actor_id}")
    rows = page.locator("#actor-dossiers tbody tr")
    exception = int(rows.last.get_attribute("data-case") or 0)
    page.select_option("#decision", "misuse")
    page.select_option("#verdict-type", "identity_misuse")
    # choosing a dossier's own decision ticks its exception box
    rows.last.locator("select.exception-choice").select_option(f"{exception}:legitimate:family")
    expect(page.locator(f"#exc-{exception}")).to_be_checked()
    _shot(page, tmp_path, "actor_verdict_form")
    page.click("#save-actor-verdict")
    expect(page.locator("#notice")).to_contain_text(f"{sizes[actor_id] - 1} hồ sơ theo kết luận")
    expect(page.locator(".head-badges .status-misuse")).to_have_count(1)
    _shot(page, tmp_path, "actor_verdict_saved")
    with workbench.store.session() as s:
        got = {
            c: (d, t)
            for c, d, t in s.execute(
                sa.select(Case.id, Verdict.decision, Verdict.proxy_type)
                .join(Verdict, Verdict.case_id == Case.id)
                .where(Case.actor_id == actor_id)
            )
        }
    assert len(got) == sizes[actor_id]  # one verdict, so one label, per dossier
    assert got.pop(exception) == ("legitimate", "family")
    assert set(got.values()) == {("misuse", "identity_misuse")}
