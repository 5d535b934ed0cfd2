"""seed.md and seed.html: the seed sentence by sentence, each sentence a claim quotes with its
verdicts across the environments, its correction where refuted and a link to its evidence in
audit.html; opinion, context and unaudited sentences marked; in the report's language."""

from __future__ import annotations

import html
import re

import pytest

from claims import labels, report, seedmap
from claims.cli import main
from claims.labels import LABELS
from selftests.conftest import BILINGUAL_SEED_MAP
from selftests.test_report import K2, K3, english, visible

NEWEST, K215 = "keras-3.15.1-tensorflow", "keras-2.15.0-tensorflow"


@pytest.fixture(params=["en", "vi"])
def lang(request) -> str:
    return request.param


@pytest.fixture
def pages(bilingual_runs, bilingual_seed_coverage, tmp_path, lang) -> tuple[dict, str, str]:
    """The bilingual catalog's report on its small seed, in `lang`: (model, seed.md, seed.html)."""
    out = tmp_path / "out"
    model = report.write_report(bilingual_runs, out, lang, coverage=bilingual_seed_coverage)
    return model, (out / "seed.md").read_text(), (out / "seed.html").read_text()


def sentence_div(page: str, text: str) -> str:
    """The HTML of the sentence that starts with `text`, with its verdicts or mark."""
    return re.search(rf"<div class='sentence \w+'><p[^>]*>{re.escape(text)}.*?</div>", page,
                     re.S).group(0)


def test_the_seed_pages_are_written_beside_the_audit(bilingual_runs, tmp_path):
    """By default from the real seed, which quotes two of the runs' claims; the sentences of
    the claims they did not run read as not yet audited."""
    out = tmp_path / "out"
    report.write_report(bilingual_runs, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "audit.html", "audit.json", "audit.md", "seed.html", "seed.md"]
    md = (out / "seed.md").read_text()
    assert md.startswith("# The seminar's answers, sentence by sentence\n")
    assert "\n## TRẢ LỜI CÂU HỎI SEMINAR\n" in md
    assert re.findall(r"\]\(audit.html#([\w-]+)\)", md) == ["q19-valid", "q24-r"]
    assert "\n- [q24-r](audit.html#q24-r): untestable: everywhere\n" in md
    assert "\nSame: Thực hiện padding sao cho" in md
    assert "với ảnh đầu vào. *(not yet audited)*\n" in md


def test_a_claim_sentence_lists_its_verdicts_environments_link_and_correction(pages, lang):
    model, md, _ = pages
    t = LABELS[lang]
    valid = next(c for c in model["claims"] if c["id"] == "q19-valid")
    correction = valid["correction_vi"] if lang == "vi" else valid["correction"]
    assert (f"Valid: Không có padding, ảnh đầu ra nhỏ hơn ảnh đầu vào.\n\n"
            f"- [q19-valid](audit.html#q19-valid): {t['refuted']}: {NEWEST} | {t['holds']}: "
            f"{K215}\n  - **{t['correction']}:** {correction}\n") in md
    # two claims in one sentence, one line each; a verdict in every environment: everywhere
    assert (f"còn model_to_dot thì không.\n\n- [q23-plot](audit.html#q23-plot): {t['error']}: "
            f"{t['everywhere']}\n- [q23-dot](audit.html#q23-dot): {t['error']}: {NEWEST} | "
            f"{t['holds']}: {K215}\n") in md
    # a drifted cell is a verdict of its own; no correction where nothing is refuted
    assert (f"- [q19-same](audit.html#q19-same): {t['holds']} ({t['drift_mark']}): {NEWEST} | "
            f"{t['holds']}: {K215}\n\nReflect") in md


def test_the_other_sentences_are_marked(pages, lang):
    _, md, _ = pages
    t = LABELS[lang]
    code = "a code example" if lang == "en" else "đoạn mã ví dụ"
    judgement, link = (e.reason_vi if lang == "vi" else e.reason for e in BILINGUAL_SEED_MAP[:2])
    assert [line for line in md.splitlines() if line.endswith(")*")] == [
        f"Reflect: lặp lại các điểm ảnh ở biên. *({t['uncovered']})*",  # its claim never ran
        f"Keras là thư viện dễ dùng nhất. *({t['opinion']}: {judgement})*",
        f"Xem thêm [ở đây](#). *({t['context']}: {link})*",
        f"plot_model(model, to_file='model.png') *({t['context']}: {code})*",
        f"Keras chạy trên <b>Python 3</b>. *({t['uncovered']})*"]
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [f"# {t['seed_title']}", "## TRẢ LỜI CÂU HỎI", "## H. Tiền xử lý dữ liệu",
                        "## Câu 19:", "## K. Các câu hỏi khác",
                        "## 23. Keras có hỗ trợ visualize model hay không?",
                        "## 24. Can Keras integrate with other programming languages?"]


def test_the_html_shows_coloured_badges_with_their_environments_and_the_link(pages, lang):
    _, _, page = pages
    t = LABELS[lang]
    valid = sentence_div(page, "Valid:")
    assert "<a href='audit.html#q19-valid' title=" in valid
    assert re.findall(r"<span class='verdict'>(.*?)</span></span>", valid) == [
        f"<span class='badge refuted' title='{NEWEST}'>{t['refuted']}</span> "
        f"<span class='envs'>{NEWEST}",
        f"<span class='badge holds' title='{K215}'>{t['holds']}</span> <span class='envs'>{K215}"]
    assert f"<details class='correction'><summary><b>{t['correction']}:</b>" in valid
    plot = sentence_div(page, "Có: plot_model")
    assert re.findall(r"href='audit.html#([\w-]+)'", plot) == ["q23-plot", "q23-dot"]
    assert (f"<span class='badge error' title='{NEWEST}, {K215}'>{t['error']}</span> "
            f"<span class='envs'>{t['everywhere']}</span>") in plot
    assert "<span class='badge holds drift'" in sentence_div(page, "Same:")


def test_the_html_marks_opinion_and_context_with_their_reason_on_hover(pages, lang):
    _, _, page = pages
    t = LABELS[lang]
    judgement, link = (e.reason_vi if lang == "vi" else e.reason for e in BILINGUAL_SEED_MAP[:2])
    assert (f"<span class='mark' title='{judgement}'>{t['opinion']}</span>"
            ) in sentence_div(page, "Keras là thư viện dễ dùng nhất.")
    assert f"<span class='mark' title='{link}'>{t['context']}</span>" in page
    unaudited = sentence_div(page, "Keras chạy trên")
    assert "&lt;b&gt;Python 3&lt;/b&gt;" in unaudited  # the seed's text, escaped
    assert f"<span class='mark'>{t['uncovered']}</span>" in unaudited
    assert page.count("<div class='sentence claim'>") == 4 and page.count("<h2") == 6


def test_the_html_is_one_page_in_its_language(pages, lang):
    _, _, page = pages
    assert page.startswith(f"<!doctype html>\n<html lang='{lang}'>")
    assert "<script src" not in page and "<link" not in page
    assert ".refuted{background:" in page  # the matrix's verdict colours, shared


def test_the_vietnamese_pages_speak_vietnamese(pages, lang):
    model, md, page = pages
    if lang == "en":
        assert {"holds", "refuted", "error", "untestable", "DRIFT"} <= set(english(md, model))
        return
    assert english(md, model) == [] and english(visible(page), model) == []
    assert all(e.reason not in md + page for e in BILINGUAL_SEED_MAP if e.reason)
    t = LABELS["vi"]
    shown = html.unescape(page)
    assert all(t[k] in md and t[k] in shown for k in ("seed_title", "opinion", "context",
                                                      "uncovered", "everywhere"))


def test_a_bad_seed_map_leaves_the_old_report(run_files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    paths = [str(p) for p in run_files(K2, K3)]
    assert main(["report", *paths, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def bad_map():
        raise seedmap.SeedMapError("seedmap.toml: sentence[0]: status must be claim, ...")

    monkeypatch.setattr(seedmap, "load_map", bad_map)
    capsys.readouterr()
    assert main(["report", *paths, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("claims report: the seed's coverage: seedmap.toml: sentence[0]: status must "
                   "be claim, ...\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_beyond_a_few_environments_the_html_gives_their_number_and_the_markdown_their_list():
    envs = [f"keras-3.{minor}.0-tensorflow" for minor in range(5)]
    t = LABELS["vi"]
    assert labels.covered(envs[:3], envs, t, labels.LISTED) == ", ".join(envs[:3])
    assert labels.covered(envs[:4], envs, t, labels.LISTED) == "4 môi trường"
    assert labels.covered(envs[:4], envs, t) == ", ".join(envs[:4])
    assert labels.covered(envs, envs, t, labels.LISTED) == "mọi môi trường"
