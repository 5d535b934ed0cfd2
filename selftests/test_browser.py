"""The HTML report in a real browser, in English and in Vietnamese: the matrix shows, the
filter hides rows, a cell opens its evidence, a scorecard question opens its claims, long texts
fold open whole, an error reads as not checked, and the page speaks its language. Each test
leaves a screenshot in reports/. Uses Debian's Chromium, headless, with no network features."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from claims import labels, report
from claims.labels import LABELS
from selftests.conftest import NO_DOT, bilingual
from selftests.test_report import claim, english

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ENVS = ["keras-3.15.1-tensorflow", "keras-2.15.0-tensorflow"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=["en", "vi"])
def lang(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def audit(tmp_path_factory, lang) -> tuple[dict, Path]:
    """The bilingual catalog's report in `lang`: (model, audit.html)."""
    folder = tmp_path_factory.mktemp(f"report-{lang}")
    with pytest.MonkeyPatch.context() as monkeypatch:
        model = report.write_report(bilingual(folder, monkeypatch), folder, lang)
    return model, folder / "audit.html"


@pytest.fixture
def page(browser, audit):
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    page.goto(audit[1].as_uri())
    yield page
    page.close()


def screenshot(page, lang: str, name: str) -> None:
    shots = ROOT / "reports"
    shots.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky table headers show mid-page
    page.screenshot(path=str(shots / f"audit-{lang}-{name}.png"), full_page=True)


def visible_rows(page) -> list[str]:
    return page.eval_on_selector_all(
        "tr.claim", "rows => rows.filter(r => r.offsetParent !== null)"
                    ".map(r => r.cells[0].textContent)")


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "cells => cells.map(c => c.innerText.trim())")


def test_the_matrix_shows_every_claim_and_environment(page, lang):
    assert texts(page, "#matrix th") == [LABELS[lang]["claim"], *ENVS]
    assert visible_rows(page) == ["q19-valid", "q19-same", "q23-plot", "q23-dot", "q24-r"]


def test_filtering_by_verdict_hides_the_other_rows(page):
    page.select_option("#filter", "refuted")
    assert visible_rows(page) == ["q19-valid"]
    page.select_option("#filter", "all")
    assert len(visible_rows(page)) == 5


def test_a_cell_opens_its_evidence_in_the_page_language(page, lang, audit):
    assert not page.is_visible("#evidence")
    page.click("#matrix td.cell.untestable")
    assert page.is_visible("#evidence")
    q24 = claim(audit[0], "q24-r")
    assert page.text_content("#evidence p") == labels.evidence(
        q24, q24["verdicts"][ENVS[0]], lang)
    screenshot(page, lang, "evidence")


def test_a_question_opens_its_claims_verdicts_and_corrections(page, lang, audit):
    t, valid = LABELS[lang], claim(audit[0], "q19-valid")
    head = labels.sentence(labels.correction(valid, lang))[0]
    assert not page.is_visible("#claims-of-19")
    page.click("button[aria-controls='claims-of-19']")
    assert page.is_visible("#claims-of-19")
    assert texts(page, "#claims-of-19 tr:first-child th") == [t["claim"], t["correction"], *ENVS]
    assert texts(page, "#claims-of-19 tr:nth-child(2) td") == [
        f"q19-valid: {labels.statement(valid, lang)}", head, t["refuted"], t["holds"]]
    page.click("#claims-of-19 td.cell.refuted")  # its evidence, as in the matrix
    assert page.text_content("#evidence h3") == f"q19-valid / {ENVS[0]}"
    screenshot(page, lang, "question")
    page.click("button[aria-controls='claims-of-19']")
    assert not page.is_visible("#claims-of-19")


def test_a_long_text_folds_open_whole(page, lang, audit):
    correction = labels.correction(claim(audit[0], "q19-valid"), lang)
    head, rest = labels.sentence(correction)
    fold = page.locator("#scorecard ul.instead details").first
    assert fold.inner_text() == head
    fold.locator("summary").click()
    assert fold.inner_text().split("\n") == [head, rest]
    assert "…" not in page.inner_text("body")
    screenshot(page, lang, "fold")


def test_an_error_reads_as_not_checked_with_its_reason(page, lang):
    unchecked = page.locator("#scorecard li.unchecked details")
    assert unchecked.inner_text() == f"2 {LABELS[lang]['unchecked']}"
    unchecked.locator("summary").click()
    assert unchecked.inner_text().split("\n")[1:] == [
        f"q23-plot ({', '.join(reversed(ENVS))}): {NO_DOT}", f"q23-dot ({ENVS[0]}): {NO_DOT}"]
    screenshot(page, lang, "unchecked")


def test_the_page_speaks_its_language(page, lang, audit):
    t = LABELS[lang]
    assert texts(page, "#scorecard > tbody > tr:first-child th") == [
        t["q"], t["question"], t["n_claims"], ENVS[0], "keras-2.15.0", t["everywhere"],
        t["correction"]]
    page.eval_on_selector_all("#scorecard button", "buttons => buttons.forEach(b => b.click())")
    page.eval_on_selector_all("details", "folds => folds.forEach(d => d.open = true)")
    shown = page.inner_text("body")
    if lang == "vi":
        assert english(shown, audit[0]) == [] and "nhận địnhs" not in shown
    else:
        assert {"holds", "refuted", "untestable", "error"} <= set(english(shown, audit[0]))
    screenshot(page, lang, "open")
