"""The HTML report in a real browser: the matrix shows, the filter hides rows, a cell opens its
evidence. Uses Debian's Chromium, headless, with no network features."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from claims import report
from selftests.conftest import make_run

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    folder = tmp_path_factory.mktemp("report")
    runs = [make_run("keras-2.15.0-tensorflow", {"q19-a": "holds", "q25-b": "holds"}),
            make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted", "q25-b": "holds"})]
    paths = []
    for run in runs:
        paths.append(folder / f"{run['environment']['id']}.json")
        paths[-1].write_text(__import__("json").dumps(run))
    report.write_report(paths, folder)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        page.goto((folder / "audit.html").as_uri())
        yield page
        browser.close()


def visible_rows(page) -> list[str]:
    return page.eval_on_selector_all(
        "tr.claim", "rows => rows.filter(r => r.offsetParent !== null)"
                    ".map(r => r.cells[0].textContent)")


def test_the_matrix_shows_every_claim_and_environment(page):
    headers = page.eval_on_selector_all("#matrix th", "cells => cells.map(c => c.textContent)")
    assert headers == ["claim", "keras-3.15.1-tensorflow", "keras-2.15.0-tensorflow"]
    assert visible_rows(page) == ["q19-a", "q25-b"]


def test_filtering_by_verdict_hides_the_other_rows(page):
    page.select_option("#filter", "refuted")
    assert visible_rows(page) == ["q19-a"]
    page.select_option("#filter", "all")
    assert visible_rows(page) == ["q19-a", "q25-b"]


def test_a_cell_opens_its_evidence(page):
    assert not page.is_visible("#evidence")
    page.click("td.cell.refuted")
    assert page.is_visible("#evidence")
    assert page.text_content("#evidence p") == "evidence of q19-a in keras-3.15.1-tensorflow"
    shots = ROOT / "reports"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / "audit-screenshot.png"), full_page=True)
