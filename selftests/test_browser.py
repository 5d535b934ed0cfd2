"""The HTML report in a real browser, in English and in Vietnamese: the matrix shows, the
filter hides rows, a cell opens its evidence, a scorecard question opens its claims, long texts
fold open whole, an error reads as not checked, and the page speaks its language; in seed.html
each verdict shows in its colour, the matrix's, and a sentence's claim opens in audit.html.
Each test leaves a screenshot in reports/. Uses Debian's Chromium, headless, with no network
features."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from claims import labels, report
from claims.labels import LABELS
from selftests.conftest import NO_DOT, bilingual, bilingual_seed
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
    """The bilingual catalog's report in `lang`, on its small seed: (model, audit.html)."""
    folder = tmp_path_factory.mktemp(f"report-{lang}")
    with pytest.MonkeyPatch.context() as monkeypatch:
        runs = bilingual(folder, monkeypatch)
        model = report.write_report(runs, folder, lang, coverage=bilingual_seed())
    return model, folder / "audit.html"


def opened(browser, path: Path):
    page = browser.new_page(viewport={"width": 1100, "height": 700})
    page.goto(path.as_uri())
    return page


@pytest.fixture
def page(browser, audit):
    page = opened(browser, audit[1])
    yield page
    page.close()


@pytest.fixture
def seed_page(browser, audit):
    page = opened(browser, audit[1].with_name("seed.html"))
    yield page
    page.close()


def screenshot(page, lang: str, name: str, of: str = "audit") -> None:
    shots = ROOT / "reports"
    shots.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky table headers show mid-page
    page.screenshot(path=str(shots / f"{of}-{lang}-{name}.png"), full_page=True)


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
        t["q"], t["question"], t["n_claims"], *ENVS, t["everywhere"],
        t["correction"]]
    page.eval_on_selector_all("#scorecard button", "buttons => buttons.forEach(b => b.click())")
    page.eval_on_selector_all("details", "folds => folds.forEach(d => d.open = true)")
    shown = page.inner_text("body")
    if lang == "vi":
        assert english(shown, audit[0]) == [] and "nhận địnhs" not in shown
    else:
        assert {"holds", "refuted", "untestable", "error"} <= set(english(shown, audit[0]))
    screenshot(page, lang, "open")


def background(page, selector: str) -> str:
    return page.eval_on_selector(selector, "e => getComputedStyle(e).backgroundColor")


def test_each_verdict_shows_in_its_colour_the_matrix_one(seed_page, page, lang, audit):
    shown = {v["verdict"] for c in audit[0]["claims"] for v in c["verdicts"].values()}
    assert shown == {"holds", "refuted", "error", "untestable"}
    colours = {v: background(seed_page, f".badge.{v}") for v in shown}
    assert len(set(colours.values())) == len(shown) and "rgba(0, 0, 0, 0)" not in colours.values()
    assert colours == {v: background(page, f"#matrix td.cell.{v}") for v in shown}
    t = LABELS[lang]
    badge = seed_page.locator(".badge.error").first
    assert (badge.inner_text(), badge.get_attribute("title")) == (t["error"], ", ".join(ENVS))
    assert seed_page.locator("html").get_attribute("lang") == lang
    assert texts(seed_page, ".mark") == [t[k] for k in ("uncovered", "opinion", "context",
                                                         "context", "uncovered")]
    screenshot(seed_page, lang, "verdicts", of="seed")


def test_a_sentence_opens_its_claim_in_the_audit(seed_page, lang):
    seed_page.click("a[href='audit.html#q19-valid']")
    seed_page.wait_for_url("**/audit.html#q19-valid")
    target = seed_page.locator("section#q19-valid")
    assert target.is_visible() and target.locator("h3").inner_text() == "q19-valid"
    top = target.evaluate("s => s.getBoundingClientRect().top")
    assert -1 < top < seed_page.viewport_size["height"]  # scrolled to it (to the pixel)
    screenshot(seed_page, lang, "link", of="seed")
