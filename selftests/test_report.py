"""Merging per-run files into the report, rendering it, and refusing bad input."""

from __future__ import annotations

import html
import json
import os
import re
import stat

import pytest

from claims import catalog, labels, model, render_html, report
from claims.cli import main
from claims.labels import LABELS
from claims.vocabulary import VERDICTS
from selftests.conftest import NO_DOT, make_run, write_catalog

K2 = make_run("keras-2.15.0-tensorflow", {"q19-a": "holds", "q25-b": "holds"})
K3 = make_run("keras-3.0.5-tensorflow", {"q19-a": "refuted", "q25-b": "holds"})
K3_NEW = make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted", "q25-b": "holds"},
                  drift={"q25-b"})
JAX = make_run("keras-3.15.1-jax", {"q19-a": "holds", "q25-b": "error"})


@pytest.fixture
def merged(run_files):
    return report.merge(run_files(K3_NEW, JAX, K2, K3))


def claim(merged: dict, claim_id: str) -> dict:
    return next(c for c in merged["claims"] if c["id"] == claim_id)


def test_environments_are_ordered_keras_newest_first(merged):
    assert [e["id"] for e in merged["environments"]] == [
        "keras-3.15.1-jax", "keras-3.15.1-tensorflow", "keras-3.0.5-tensorflow",
        "keras-2.15.0-tensorflow"]


def test_each_claim_has_a_verdict_per_environment(merged):
    a = next(c for c in merged["claims"] if c["id"] == "q19-a")
    assert {e: v["verdict"] for e, v in a["verdicts"].items()} == {
        "keras-2.15.0-tensorflow": "holds", "keras-3.0.5-tensorflow": "refuted",
        "keras-3.15.1-tensorflow": "refuted", "keras-3.15.1-jax": "holds"}


def test_boundary_names_the_versions_where_the_verdict_changes(merged):
    a = claim(merged, "q19-a")
    assert a["depends"] == [
        {"package": "keras", "backend": "jax",
         "runs": [{"verdict": "holds", "from": "3.15.1", "to": "3.15.1"}]},
        {"package": "keras", "backend": "tensorflow",
         "runs": [{"verdict": "holds", "from": "2.15.0", "to": "2.15.0"},
                  {"verdict": "refuted", "from": "3.0.5", "to": "3.15.1"}]}]
    assert labels.depends_text(a, "en") == (
        "jax: holds (Keras 3.15.1) | tensorflow: holds up to Keras 2.15.0; refuted from 3.0.5")


def test_an_error_is_no_boundary(merged):
    assert claim(merged, "q25-b")["depends"] is None


def test_counts_per_verdict_per_environment(merged):
    assert merged["counts"]["keras-3.15.1-jax"] == {
        "holds": 1, "refuted": 0, "not-applicable": 0, "untestable": 0, "error": 1}


def test_markdown_opens_with_scorecard_counts_boundaries_drift_then_claims(merged):
    md = report.render_markdown(merged)
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## Scorecard: how each answer holds up", "## Verdicts per environment",
                        "## Environments: versions and the machine facts a verdict may depend on",
                        "## Claims whose verdict depends on version or backend",
                        "## Drift", "## Every claim"]
    assert "| keras-3.15.1-jax | 1 | 0 | 0 | 0 | 1 |" in md
    assert "**q25-b** in keras-3.15.1-tensorflow: recorded holds, observed holds" in md
    assert "evidence of q19-a in keras-3.0.5-tensorflow" in md
    assert "**What is true instead:** fix" in md


def test_markdown_in_vietnamese(merged):
    md = report.render_markdown(merged, "vi")
    assert "## Kết luận theo môi trường" in md and "sai từ 3.0.5" in md


def test_html_is_one_page_with_filter_and_evidence_cells(merged):
    page = report.render_html(merged)
    assert page.count("<tr class='claim'") == 2
    assert "onchange='filterRows(this.value)'" in page
    assert "data-evidence='evidence of q19-a in keras-3.0.5-tensorflow'" in page
    assert "class='cell holds drift'" in page
    assert "<script src" not in page and "<link" not in page  # self-contained


def test_write_report_writes_the_audit_and_the_annotated_seed(run_files, tmp_path):
    report.write_report(run_files(K2, K3), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "audit.html", "audit.json", "audit.md", "seed.html", "seed.md"]
    assert json.loads((tmp_path / "out" / "audit.json").read_text())["schema"] == 1


def a_directory(path):
    path.unlink()
    path.mkdir()


def corrupt(path):
    path.write_text("{not json")


def truncated(path):
    path.write_text(path.read_text()[:40])


def wrong_schema(path):
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema": 2}))


def no_environment(path):
    path.write_text(json.dumps({**json.loads(path.read_text()), "environment": "x"}))


def bad_claims(path):
    path.write_text(json.dumps({**json.loads(path.read_text()), "claims": {}}))


def bad_verdict(path):
    data = json.loads(path.read_text())
    data["claims"][0]["verdict"] = "maybe"
    path.write_text(json.dumps(data))


def missing_field(path):
    data = json.loads(path.read_text())
    del data["claims"][0]["evidence"]
    path.write_text(json.dumps(data))


def not_an_object(path):
    path.write_text("[]")


def claim_not_an_object(path):
    data = json.loads(path.read_text())
    data["claims"][0] = 3
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("damage, message", [
    (corrupt, "not valid JSON"), (truncated, "not valid JSON"),
    (a_directory, "a directory; expected a run file"),
    (wrong_schema, "field 'schema': 1 was expected"),
    (no_environment, "field 'environment'"), (bad_claims, "field 'claims'"),
    (bad_verdict, "field 'claims[0].verdict': 'maybe' is not one of"),
    (missing_field, "field 'claims[0].evidence'"),
    (not_an_object, "field '(top level)'"), (claim_not_an_object, "field 'claims[0]'"),
])
def test_bad_input_gives_one_line_and_leaves_the_old_report(run_files, tmp_path, capsys,
                                                            damage, message):
    out = tmp_path / "out"
    paths = run_files(K2, K3)
    assert main(["report", *map(str, paths), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    damage(paths[1])
    capsys.readouterr()
    assert main(["report", *map(str, paths), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(paths[1]) in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_report_files_are_readable_by_others(run_files, tmp_path):
    """Written atomically through a private temporary file, yet 0644 like any file a user
    writes under umask 022."""
    previous = os.umask(0o022)
    try:
        assert main(["report", *map(str, run_files(K2, K3)), "--out", str(tmp_path / "o")]) == 0
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "o").iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_no_input_files_is_an_error(capsys, tmp_path):
    assert main(["report", "--out", str(tmp_path)]) == 2
    assert "no report files given" in capsys.readouterr().err


def test_a_missing_file_is_an_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.json"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_two_files_for_one_environment_are_an_error(run_files, tmp_path, capsys):
    first = run_files(K2)[0]
    second = tmp_path / "copy.json"
    second.write_text(first.read_text())
    assert main(["report", str(first), str(second), "--out", str(tmp_path / "o")]) == 2
    assert "is also in" in capsys.readouterr().err


def test_an_unknown_language_is_an_error(run_files, tmp_path):
    with pytest.raises(report.ReportError, match="unknown language"):
        report.write_report(run_files(K2), tmp_path, lang="fr")


def test_the_merged_json_matches_its_schema(merged):
    report.validate(json.loads(json.dumps(merged)), "merged.schema.json", "audit.json")


def test_a_bad_merged_document_is_named_by_field(merged):
    with pytest.raises(report.ReportError, match="field 'environments'"):
        report.validate({**merged, "environments": 3}, "merged.schema.json", "audit.json")


def test_bench_runs_join_their_environments_column(run_files, tmp_path):
    bench_run = make_run("keras-3.15.1-tensorflow", {"q4-latency-rank": "holds"})
    [audit_path] = run_files(K3_NEW)
    bench_path = tmp_path / "bench.json"
    bench_path.write_text(json.dumps(bench_run))
    merged = report.merge([audit_path], {"bench": [bench_path]})
    assert [e["id"] for e in merged["environments"]] == ["keras-3.15.1-tensorflow"]
    assert {c["id"] for c in merged["claims"]} == {"q19-a", "q25-b", "q4-latency-rank"}


def test_a_claim_in_both_audit_and_bench_keeps_the_severer_verdict_and_both_evidence(
    run_files, tmp_path
):
    [audit_path] = run_files(K3_NEW)
    bench_path = tmp_path / "bench.json"
    bench_path.write_text(json.dumps(make_run("keras-3.15.1-tensorflow", {"q19-a": "holds",
                                                                          "q25-b": "refuted"})))
    claims = {c["id"]: c["verdicts"]["keras-3.15.1-tensorflow"]
              for c in report.merge([audit_path], {"bench": [bench_path]})["claims"]}
    assert claims["q19-a"]["verdict"] == "refuted" and claims["q25-b"]["verdict"] == "refuted"
    assert claims["q25-b"]["evidence"] == (
        "evidence of q25-b in keras-3.15.1-tensorflow | bench: evidence of q25-b in "
        "keras-3.15.1-tensorflow")
    assert claims["q25-b"]["drift"] is True


def test_a_claim_twice_in_one_audit_run_is_an_error(tmp_path):
    run = make_run("keras-3.15.1-tensorflow", {"q19-a": "holds"})
    run["claims"] *= 2
    path = tmp_path / "keras-3.15.1-tensorflow.json"
    path.write_text(json.dumps(run))
    with pytest.raises(report.ReportError, match="'q19-a' appears twice"):
        report.merge([path])


def test_untestable_claims_listed_by_both_runs_merge_once(run_files, tmp_path):
    both = make_run("keras-3.15.1-tensorflow", {"q24-r": "untestable"})
    [audit_path] = run_files(both)
    merged = report.merge([audit_path], {"bench": [audit_path]})
    assert [c["id"] for c in merged["claims"]] == ["q24-r"]


def test_timing_and_stability_show_in_the_report(run_files, tmp_path):
    timing = tmp_path / "timing.json"
    timing.write_text(json.dumps({"keras-2.15.0-tensorflow": {
        "wall_s": 41.5, "tests": 12, "peak_rss_mb": 900,
        "slowest": [["tests/test_h.py::test_same", 3.2]],
        "files_s": {"test_a_saving.py": 12.5, "test_h.py": 3.2}}}))
    stability = tmp_path / "stability.json"
    stability.write_text(json.dumps({"runs": 3, "seeds": [1, 2, 3], "stable": True,
                                     "environment": "keras-2.15.0-tensorflow",
                                     "differences": []}))
    report.write_report(run_files(K2), tmp_path / "out", timing=timing, stability=stability)
    md = (tmp_path / "out" / "audit.md").read_text()
    assert ("| keras-2.15.0-tensorflow | 41.5 | 12 | 900 | a_saving 12.5, h 3.2 | "
            "test_same 3.2s |") in md
    assert "**Stability:** every verdict equal across runs" in md
    assert "every verdict equal" in (tmp_path / "out" / "audit.html").read_text()


@pytest.mark.parametrize("text", ["{", "[]"])
def test_unreadable_timing_is_an_error(run_files, tmp_path, text):
    bad = tmp_path / "timing.json"
    bad.write_text(text)
    with pytest.raises(report.ReportError, match="timing.json"):
        report.write_report(run_files(K2), tmp_path / "out", timing=bad)


def test_scorecard_counts_holds_per_question_on_newest_keras3_keras215_and_everywhere(merged):
    rows = {r["question"]: r for r in merged["scorecard"]["rows"]}
    assert merged["scorecard"]["newest"] == "keras-3.15.1-tensorflow"
    assert [rows[19][k] for k in ("newest", "keras_2_15", "everywhere")] == [
        {"holds": 0, "of": 1}, {"holds": 1, "of": 1}, {"holds": 0, "of": 1}]
    assert rows[19]["failing"] == ["q19-a"]
    assert labels.instead(rows[19], {c["id"]: c for c in merged["claims"]}, "en") == "fix"
    assert "| 19 | " in report.render_markdown(merged) and " | 0/1 | 1/1 | 0/1 | fix |" in (
        report.render_markdown(merged))
    # q25-b errored on jax: not checked there, and it holds wherever it was checked
    assert (rows[25]["newest"], rows[25]["everywhere"]) == ({"holds": 1, "of": 1},) * 2
    assert rows[25]["unchecked"] == [{"claim": "q25-b", "environments": ["keras-3.15.1-jax"],
                                      "reason": "evidence of q25-b in keras-3.15.1-jax"}]
    assert rows[1]["claims"] == 0


def test_scorecard_lists_the_seed_questions_in_both_languages(merged):
    assert model.seed_questions()[25] == 'Công việc của lớp "Flatten" trong Keras là gì?'
    assert "| 25 | Công việc của lớp" in report.render_markdown(merged)
    assert "## Bảng điểm" in report.render_markdown(merged, "vi")
    assert "<table id='scorecard'>" in report.render_html(merged)


def test_not_applicable_cells_make_no_dependence(run_files):
    merged = report.merge(run_files(
        make_run("keras-3.15.1-numpy", {"q3-a": "not-applicable"}),
        make_run("keras-3.15.1-jax", {"q3-a": "holds"}),
        make_run("tf_keras-2.21.0-tensorflow", {"q3-a": "refuted"})))
    [only] = merged["claims"]
    assert labels.depends_text(only, "en") == (
        "jax: holds (Keras 3.15.1) | tf_keras: refuted (tf_keras 2.21.0)")


def test_measured_rows_make_a_table_beside_the_seeds_numbers(run_files, tmp_path):
    audit_run = make_run("keras-3.15.1-tensorflow", {"q4-params": "holds"})
    audit_run["claims"][0]["measurements"] = [
        {"model": "VGG16", "column": "Parameters", "seed": "138.4M", "measured": 138357544}]
    bench_run = make_run("keras-3.15.1-tensorflow", {"q4-params": "holds"})
    bench_run["claims"][0]["measurements"] = audit_run["claims"][0]["measurements"] + [
        {"model": "VGG19", "column": "Parameters", "seed": "143.7M", "measured": 143667240}]
    [audit_path] = run_files(audit_run)
    bench_path = tmp_path / "bench.json"
    bench_path.write_text(json.dumps(bench_run))
    merged = report.merge([audit_path], {"bench": [bench_path]})
    [table] = merged["measured"]
    assert table["claim"] == "q4-params"
    assert table["columns"] == ["environment", "model", "column", "seed", "measured"]
    assert [r[1] for r in table["rows"]] == ["VGG16", "VGG19"]  # the bench adds rows, never twice
    md = report.render_markdown(merged)
    assert "| keras-3.15.1-tensorflow | VGG19 | Parameters | 143.7M | 143667240 |" in md
    vi = report.render_markdown(merged, "vi")  # the first column is named in the language
    assert "| môi trường | model | column | seed | measured |" in vi
    assert "<table class='measured'>" in report.render_html(merged)


def test_rows_naming_a_table_make_a_row_by_environment_table(run_files):
    table = "Portability: file saved by (row) x loaded by (column)"
    runs = []
    for env_id, cell in (("keras-3.15.1-tensorflow", "loads and matches"),
                         ("keras-2.15.0-tensorflow", "fails")):
        run = make_run(env_id, {"q1-portable": "holds"})
        run["claims"][0]["measurements"] = [
            {"table": table, "row": "keras-3.15.1-jax.keras", "cell": cell,
             "verdict": "holds" if cell != "fails" else "refuted",
             **({"detail": "TypeError: cannot deserialize"} if cell == "fails" else {})}]
        runs.append(run)
    merged = report.merge(run_files(*runs))
    assert merged["measured"] == []  # not also a seed-vs-measured table
    [cross] = merged["cross"]
    assert [r["row"] for r in cross["rows"]] == ["keras-3.15.1-jax.keras"]
    assert cross["columns"] == ["keras-3.15.1-tensorflow", "keras-2.15.0-tensorflow"]
    md = report.render_markdown(merged)
    assert f"## {table}" in md
    assert "| keras-3.15.1-jax.keras | loads and matches | fails |" in md
    assert ("- **keras-3.15.1-jax.keras**: keras-2.15.0-tensorflow: TypeError: cannot deserialize"
            in md)
    page = report.render_html(merged)
    assert "<td class='refuted' title='TypeError: cannot deserialize'>fails</td>" in page


BISECTED = {"H.toml": """
    [[claim]]
    id = "q19-a"
    questions = [19]
    section = "H"
    quote = "q"
    statement = "A claim refuted from Keras 3."
    correction = "fix"
    correction_vi = "sửa"
    boundary = "refuted from Keras 3.0.0 (tensorflow; holds in 2.15.0)"
    expected = [{ verdict = "refuted", keras = ">=3" }, { verdict = "holds" }]
"""}


@pytest.fixture
def with_catalog(tmp_path, monkeypatch):
    """A catalog holding q19-a with its Vietnamese correction and bisected boundary; counts
    how often it is loaded."""
    folder = write_catalog(tmp_path / "catalog", BISECTED)
    loads = []
    real = catalog.load
    monkeypatch.setattr(catalog, "load", lambda: loads.append(1) or real(folder))
    return loads


def test_the_model_holds_everything_the_renderings_show(run_files, tmp_path, with_catalog):
    out = tmp_path / "out"
    written = report.write_report(run_files(K3_NEW, JAX, K2, K3), out)
    assert with_catalog == [1]  # the catalog is read once per report
    assert json.loads((out / "audit.json").read_text()) == written  # audit.json is the model
    assert set(written) == {"schema", "environments", "claims", "counts", "drift",
                            "scorecard", "measured", "cross"}
    a = claim(written, "q19-a")
    assert (a["correction"], a["correction_vi"]) == ("fix", "sửa")
    assert a["boundary"] == "refuted from Keras 3.0.0 (tensorflow; holds in 2.15.0)"
    assert claim(written, "q25-b")["correction_vi"] is None  # not in this catalog
    assert [c["id"] for c in written["claims"]] == ["q19-a", "q25-b"]  # catalog order first
    assert written["drift"] == [{"claim": "q25-b", "environment": "keras-3.15.1-tensorflow",
                                 "expected": "holds", "verdict": "holds",
                                 "correction_drift": None}]
    report.validate(written, "merged.schema.json", "audit.json")


def test_the_renderings_read_the_model_only(run_files, with_catalog, monkeypatch):
    merged = report.merge(run_files(K3_NEW, JAX, K2, K3))

    def no_catalog():
        raise AssertionError("a renderer read the catalog")

    monkeypatch.setattr(catalog, "load", no_catalog)
    md, page = report.render_markdown(merged), report.render_html(merged)
    vi = report.render_markdown(merged, "vi")
    line = "**q19-a**: jax: holds (Keras 3.15.1) | tensorflow: holds up to Keras 2.15.0; "
    assert line + "refuted from 3.0.5 [bisected: refuted from Keras 3.0.0" in md
    assert "**What is true instead:** fix" in md and "**Điều đúng là:** sửa" in vi
    assert "| 0/1 | 1/1 | 0/1 | sửa |" in vi  # the scorecard's correction, in Vietnamese
    assert "[bisected: refuted from Keras 3.0.0" in page


def test_without_a_valid_catalog_the_catalog_fields_are_null(run_files, monkeypatch):
    def broken():
        raise catalog.CatalogError("catalog/H.toml: not valid TOML")

    monkeypatch.setattr(catalog, "load", broken)
    merged = report.merge(run_files(K2, K3))
    assert {(c["correction_vi"], c["boundary"]) for c in merged["claims"]} == {(None, None)}
    assert [c["id"] for c in merged["claims"]] == ["q19-a", "q25-b"]


def test_the_schema_describes_every_field_of_the_model(merged):
    with pytest.raises(report.ReportError, match="'surprise' was unexpected"):
        report.validate({**merged, "surprise": 1}, "merged.schema.json", "audit.json")
    first = {**merged["claims"][0], "extra": 1}
    with pytest.raises(report.ReportError, match=r"field 'claims\[0\]'"):
        report.validate({**merged, "claims": [first]}, "merged.schema.json", "audit.json")
    bad = {**merged["claims"][0], "verdicts": {"keras-3.15.1-jax": {
        **merged["claims"][0]["verdicts"]["keras-3.15.1-jax"], "verdict": "maybe"}}}
    with pytest.raises(report.ReportError, match="'maybe' is not one of"):
        report.validate({**merged, "claims": [bad]}, "merged.schema.json", "audit.json")


def test_a_timing_file_of_the_wrong_shape_is_named(run_files, tmp_path):
    timing = tmp_path / "timing.json"
    timing.write_text(json.dumps({"keras-2.15.0-tensorflow": {"wall_s": "slow"}}))
    with pytest.raises(report.ReportError,
                       match=r"timing.json: field 'keras-2.15.0-tensorflow.*'"):
        report.merge(run_files(K2), timing=timing)


def cells(line: str) -> list[str]:
    """A Markdown table row's cells: split at every `|` that is not escaped."""
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_md_table_escapes_pipes_and_keeps_each_row_on_one_line():
    lines = report.md_table(["a", "b"], [["x | y", "one\ntwo"], [1, None]])
    assert lines == ["| a | b |", "|---|---|", "| x \\| y | one two |", "| 1 | None |"]
    assert report.md_table(["", "c"], [])[0] == "| | c |"  # an empty corner header


def test_a_correction_holding_a_pipe_and_a_newline_keeps_the_scorecard_row_whole(run_files,
                                                                                 tmp_path):
    run = make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted"})
    run["claims"][0]["correction"] = "use a | b\ninstead"
    run["claims"][0]["quote"] = "x | y"
    [path] = run_files(run)
    md = report.render_markdown(report.merge([path]))
    table = md.split("## Scorecard")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 25
    assert {len(cells(row)) for row in rows} == {7}
    assert "| use a \\| b instead |" in md
    matrix = md.split("## Every claim")[1].split("\n### ")[0]
    assert {len(cells(row)) for row in matrix.splitlines() if row.startswith("|")} == {2}


def test_the_html_comes_from_autoescaped_templates(run_files):
    run = make_run("keras-3.15.1-tensorflow", {"q19-a": "holds"})
    run["claims"][0]["quote"] = "<script>alert('quote')</script>"
    run["claims"][0]["evidence"] = "a 'quoted' <b>evidence</b>"
    [path] = run_files(run)
    page = report.render_html(report.merge([path]))
    assert "&lt;script&gt;alert(&#39;quote&#39;)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<b>evidence" not in page
    assert "data-evidence='a &#39;quoted&#39; &lt;b&gt;evidence&lt;/b&gt;'" in page
    css = (render_html.TEMPLATES / "report.css").read_text(encoding="utf-8")
    js = (render_html.TEMPLATES / "report.js").read_text(encoding="utf-8")
    assert css in page and js in page  # inlined as written: the page stays one file
    assert page.count("<script") == 1 and "<link" not in page
    assert not re.search(r"(src|href)=.?(https?:)?//", page)  # nothing to fetch


def test_scorecard_and_timing_are_html_tables(run_files, tmp_path):
    timing = tmp_path / "timing.json"
    timing.write_text(json.dumps({"keras-2.15.0-tensorflow": {
        "wall_s": 41.5, "tests": 12, "peak_rss_mb": 900,
        "slowest": [["tests/test_h.py::test_same", 3.2]], "files_s": {"test_h.py": 3.2}}}))
    merged = report.merge(run_files(K2, K3), timing=timing)
    page = report.render_html(merged)
    assert "<pre>" not in page
    assert ("<tr><td>keras-2.15.0-tensorflow</td><td>41.5</td><td>12</td><td>900</td>"
            "<td>h 3.2</td><td>test_same 3.2s</td></tr>") in page
    scorecard = page.split("<table id='scorecard'>")[1].split("\n</table>\n<h2>")[0]
    assert scorecard.count("<tr class='question'>") == 25
    assert "<ul class='instead'><li>fix</li></ul>" in scorecard
    counts = page.split("<table id='counts'>")[1].split("</table>")[0]
    assert all(f"<th class='{v}'>" in counts for v in VERDICTS)


def test_the_scorecard_names_three_corrections_then_how_many_more(run_files):
    ids = ["q19-a", "q19-b", "q19-c", "q19-d"]
    merged = report.merge(run_files(
        make_run("keras-3.15.1-tensorflow", dict.fromkeys(ids, "refuted")),
        make_run("keras-nightly-tensorflow", dict.fromkeys(ids[:3], "holds"))))
    assert [e["id"] for e in merged["environments"]] == [  # no version sorts as the oldest
        "keras-3.15.1-tensorflow", "keras-nightly-tensorflow"]
    row = merged["scorecard"]["rows"][18]
    assert row["failing"] == ids
    claims = {c["id"]: c for c in merged["claims"]}
    assert labels.instead(row, claims, "en") == "fix; fix; fix; (+1)"
    assert "| q19-d | refuted | - |" in report.render_markdown(merged)  # no run, no cell


def test_a_correction_that_stopped_holding_shows_as_drift_in_both_languages(run_files):
    run = make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted"}, drift={"q19-a"})
    run["claims"][0]["correction_drift"] = "AssertionError: 5 windows, not 4"
    model = report.merge(run_files(run))
    assert model["drift"][0]["correction_drift"] == "AssertionError: 5 windows, not 4"
    report.validate(model, "merged.schema.json", "audit.json")
    assert ("- **q19-a** in keras-3.15.1-tensorflow: the recorded correction no longer holds: "
            "AssertionError: 5 windows, not 4") in report.render_markdown(model)
    assert "điều đúng đã ghi không còn đúng nữa" in report.render_markdown(model, "vi")
    assert "the recorded correction no longer holds" in report.render_html(model)


def visible(page: str) -> str:
    """What a reader of the page sees: its text, and the tooltips and evidence that hovering and
    clicking show; not the inlined CSS and JavaScript."""
    page = re.sub(r"(?s)<(style|script)>.*?</\1>", "", page)
    shown = re.findall(r"(?:title|data-evidence)='([^']*)'", page)
    return html.unescape(" ".join([re.sub(r"<[^>]+>", " ", page), *shown]))


def english(text: str, merged: dict) -> list[str]:
    """The report's own English in `text`: statements, corrections, untestable reasons, verdict
    words, and the labels that Vietnamese words differently. The seed's questions asked in
    English are the seed's own words, as its quotes are, and are left out."""
    for question in model.seed_questions().values():
        text = text.replace(question, "").replace(labels.short(question, 60), "")
    en, vi = LABELS["en"], LABELS["vi"]
    words = [c[k] for c in merged["claims"] for k in ("statement", "correction") if c[k]]
    words += [v["evidence"] for c in merged["claims"] for v in c["verdicts"].values()
              if v["verdict"] == "untestable"]
    words += ["holds", "refuted", "not applicable", "not-applicable", "untestable", "error",
              "DRIFT"]
    words += [en[k].format(19) for k in en if en[k] != vi[k]]
    return [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text)]


def test_a_vietnamese_report_is_vietnamese_through_and_through(bilingual_runs, tmp_path):
    timing = tmp_path / "timing.json"
    timing.write_text(json.dumps({"keras-2.15.0-tensorflow": {
        "wall_s": 41.5, "tests": 12, "peak_rss_mb": 900,
        "slowest": [["tests/test_h.py::test_same", 3.2]], "files_s": {"test_h.py": 3.2}}}))
    stability = tmp_path / "stability.json"
    stability.write_text(json.dumps({"seeds": [1, 2], "stable": True, "differences": [],
                                     "environment": "keras-2.15.0-tensorflow"}))
    out = tmp_path / "out"
    written = report.write_report(bilingual_runs, out, "vi", timing=timing, stability=stability)
    md, page = (out / "audit.md").read_text(), (out / "audit.html").read_text()
    assert english(md, written) == [] and english(visible(page), written) == []
    assert "nhận địnhs" not in md + page
    assert "| Câu | câu hỏi | số nhận định | keras-3.15.1-tensorflow |" in md
    assert "| môi trường | thời gian chạy (s) | số test | RAM tối đa (MB) |" in md
    statement = "Padding 'same' giữ nguyên kích thước khi bước trượt bằng 1."
    assert f"**Nhận định:** {statement}" in md and statement in html.unescape(page)
    assert "| q19-same | đúng (LỆCH) | đúng |" in md  # the matrix: newest first
    assert "- keras-2.15.0-tensorflow: **đúng**: ValueError" in md
    reason = "Cần cài R; bài kiểm chứng này chỉ chạy Python."
    assert f"**không kiểm chứng được**: {reason}" in md and reason in html.unescape(page)
    assert "[tìm kiếm nhị phân: sai từ Keras 3.0.0 (tensorflow; đúng ở 2.15.0)]" in md
    # the check above finds the English it looks for
    assert {"holds", "refuted", "untestable", "error", "DRIFT", "Q19"} <= set(
        english(report.render_markdown(written), written))


def test_a_missing_vietnamese_text_falls_back_to_english(merged):
    c = claim(merged, "q19-a")  # not in the catalog: no Vietnamese texts
    assert (labels.statement(c, "vi"), labels.correction(c, "vi")) == ("q19-a.", "fix")
    assert "**Nhận định:** q19-a." in report.render_markdown(merged, "vi")


def test_an_error_is_not_checked_never_counted_against_the_answer(bilingual_runs):
    merged = report.merge(bilingual_runs)
    row = merged["scorecard"]["rows"][22]
    assert row["question"] == 23 and row["failing"] == []
    assert [row[k] for k in ("newest", "keras_2_15", "everywhere")] == [
        {"holds": 0, "of": 0}, {"holds": 1, "of": 1}, {"holds": 1, "of": 1}]
    assert [(u["claim"], u["environments"]) for u in row["unchecked"]] == [
        ("q23-plot", ["keras-2.15.0-tensorflow", "keras-3.15.1-tensorflow"]),
        ("q23-dot", ["keras-3.15.1-tensorflow"])]
    assert f"| 0/0 | 1/1 | 1/1 | 2 not checked here ({NO_DOT}) |" in report.render_markdown(
        merged)
    assert f"2 nhận định chưa kiểm chứng được ở đây ({NO_DOT})" in report.render_markdown(
        merged, "vi")
    assert ("<details><summary>2 not checked here</summary><ul><li><a href='#q23-plot'>"
            f"q23-plot</a> (keras-2.15.0-tensorflow, keras-3.15.1-tensorflow): {NO_DOT}</li>"
            ) in report.render_html(merged)


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_the_html_folds_long_texts_and_cuts_none(bilingual_runs, lang):
    merged = report.merge(bilingual_runs)
    page = report.render_html(merged, lang)
    assert "…" not in page
    head, rest = labels.sentence(labels.correction(claim(merged, "q19-valid"), lang))
    assert rest and f"<details><summary>{head}</summary>{rest}</details>" in page
    longest = max(model.seed_questions().values(), key=len)
    assert longest in html.unescape(page)
    md = report.render_markdown(merged, lang)  # short in the scorecard, whole in the section
    assert f" | {head.rstrip('.')} |" in md and f":** {head} {rest}" in md


@pytest.mark.parametrize("text, head", [
    ("One. Two.", "One."), ("Là gì? Tại sao?", "Là gì?"), ("Use e.g. x. Then y.", "Use e.g. x."),
    ("Keras 2.4 removed it.", "Keras 2.4 removed it."), ("Đúng. Đây là", "Đúng.")])
def test_a_sentence_ends_before_a_character_that_is_not_lowercase(text, head):
    assert labels.sentence(text) == (head, text[len(head):].lstrip())


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_a_scorecard_question_opens_its_claims_verdicts_and_corrections(bilingual_runs, lang):
    merged = report.merge(bilingual_runs)
    t = LABELS[lang]
    page = report.render_html(merged, lang)
    assert "aria-controls='claims-of-19' onclick='toggleQuestion(this)'" in page
    panel = page.split("<tr class='question-claims' id='claims-of-19' hidden>")[1]
    panel = panel.split("<tr class='question'>")[0]
    assert re.findall(r"href='#([^']+)'", panel) == ["q19-valid", "q19-same"]
    assert (f"data-env='keras-3.15.1-tensorflow' data-evidence='ValueError: (1, 2) != (1, 1)' "
            f"onclick='show(this)'>{t['refuted']}</td>") in panel
    assert labels.sentence(labels.correction(claim(merged, "q19-valid"), lang))[1] in panel
    assert labels.statement(claim(merged, "q19-same"), lang) in html.unescape(panel)


def test_a_question_asked_in_the_other_language_is_marked_so(merged):
    assert [labels.language(model.seed_questions()[q]) for q in (1, 2, 12, 14)] == [
        "en", "vi", "en", "vi"]
    vi, en = report.render_html(merged, "vi"), report.render_html(merged, "en")
    assert "<tr class='question'><td>1</td><td lang='en'>Once trained" in vi
    assert "<tr class='question'><td>2</td><td>Làm thế nào" in vi
    assert "<tr class='question'><td>2</td><td lang='vi'>Làm thế nào" in en


def test_the_report_shows_which_planted_fault_changed_each_claim(run_files, tmp_path):
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps({"faults": [
        {"name": "same-padding-off", "section": "H", "description": "d", "caught": ["q19-a"]},
        {"name": "error-only", "section": "K", "description": "d", "caught": ["q25-b (error)"]},
    ]}))
    merged = report.merge(run_files(K3_NEW, K2), proof=proof)
    # in 3.15.1 only; an error noticed the fault, but no verdict came out otherwise
    assert (merged["proof"]["proven"], merged["proof"]["of"]) == (1, 2)
    assert merged["proof"]["claims"] == {"q19-a": ["same-padding-off"]}
    assert merged["proof"]["unproven"] == ["q25-b"]
    md = report.render_markdown(merged)
    assert "**Could have come out otherwise:** 1 / 2 claims that hold" in md
    assert "*Could have come out otherwise:* same-padding-off" in md
    assert "Could have come out otherwise" in render_html.render_html(merged)
    unproven = json.loads(proof.read_text())
    unproven["faults"][0]["caught"] = []
    proof.write_text(json.dumps(unproven))
    merged = report.merge(run_files(K3_NEW, K2), proof=proof)
    assert merged["proof"]["unproven"] == ["q19-a", "q25-b"]
    assert "no planted fault has changed it yet" in report.render_markdown(merged)
