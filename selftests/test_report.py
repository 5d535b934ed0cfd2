"""Merging per-run files into the report, rendering it, and refusing bad input."""

from __future__ import annotations

import json

import pytest

from claims import report
from claims.cli import main
from selftests.conftest import make_run

K2 = make_run("keras-2.15.0-tensorflow", {"q19-a": "holds", "q25-b": "holds"})
K3 = make_run("keras-3.0.5-tensorflow", {"q19-a": "refuted", "q25-b": "holds"})
K3_NEW = make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted", "q25-b": "holds"},
                  drift={"q25-b"})
JAX = make_run("keras-3.15.1-jax", {"q19-a": "holds", "q25-b": "error"})


@pytest.fixture
def merged(run_files):
    return report.merge(run_files(K3_NEW, JAX, K2, K3))


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
    a = next(c for c in merged["claims"] if c["id"] == "q19-a")
    assert report.boundary(a, merged["environments"]) == (
        "jax: holds (Keras 3.15.1) | tensorflow: holds up to Keras 2.15.0; refuted from 3.0.5")


def test_an_error_is_no_boundary(merged):
    b = next(c for c in merged["claims"] if c["id"] == "q25-b")
    assert report.boundary(b, merged["environments"]) is None


def test_counts_per_verdict_per_environment(merged):
    assert report.counts(merged)["keras-3.15.1-jax"] == {"holds": 1, "error": 1}


def test_markdown_opens_with_scorecard_counts_boundaries_drift_then_claims(merged):
    md = report.render_markdown(merged)
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == ["## Scorecard: how each answer holds up", "## Verdicts per environment",
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


def test_write_report_writes_three_files(run_files, tmp_path):
    report.write_report(run_files(K2, K3), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "audit.html", "audit.json", "audit.md"]
    assert json.loads((tmp_path / "out" / "audit.json").read_text())["schema"] == 1


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


def test_a_bad_merged_document_is_named_by_field():
    with pytest.raises(report.ReportError, match="field 'environments'"):
        report.validate({"schema": 1, "environments": 3, "claims": []}, "merged.schema.json",
                        "audit.json")


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
        "files_s": {"test_a_deployment.py": 12.5, "test_h.py": 3.2}}}))
    stability = tmp_path / "stability.json"
    stability.write_text(json.dumps({"runs": 3, "seeds": [1, 2, 3], "stable": True,
                                     "environment": "keras-2.15.0-tensorflow",
                                     "differences": []}))
    report.write_report(run_files(K2), tmp_path / "out", timing=timing, stability=stability)
    md = (tmp_path / "out" / "audit.md").read_text()
    assert ("| keras-2.15.0-tensorflow | 41.5 | 12 | 900 | a_deployment 12.5, h 3.2 | "
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
    rows = {r["question"]: r for r in report.scorecard(merged)}
    assert (rows[19]["newest"], rows[19]["keras_2_15"], rows[19]["everywhere"]) == (0, 1, 0)
    assert rows[19]["instead"] == "fix"
    assert (rows[25]["newest"], rows[25]["everywhere"], rows[25]["testable"]) == (1, 0, 1)
    assert rows[1]["claims"] == 0


def test_scorecard_lists_the_seed_questions_in_both_languages(merged):
    assert report.seed_questions()[25] == 'Công việc của lớp "Flatten" trong Keras là gì?'
    assert "| 25 | Công việc của lớp" in report.render_markdown(merged)
    assert "## Bảng điểm" in report.render_markdown(merged, "vi")
    assert "<table id='scorecard'>" in report.render_html(merged)


def test_not_applicable_cells_make_no_dependence(run_files):
    merged = report.merge(run_files(
        make_run("keras-3.15.1-numpy", {"q3-a": "not-applicable"}),
        make_run("keras-3.15.1-jax", {"q3-a": "holds"}),
        make_run("tf_keras-2.21.0-tensorflow", {"q3-a": "refuted"})))
    [claim] = merged["claims"]
    assert report.boundary(claim, merged["environments"]) == (
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
    [(claim_id, columns, rows)] = report.measurement_tables(merged)
    assert columns == ["environment", "model", "column", "seed", "measured"]
    assert [r[1] for r in rows] == ["VGG16", "VGG19"]  # the bench adds rows, never twice
    md = report.render_markdown(merged)
    assert "| keras-3.15.1-tensorflow | VGG19 | Parameters | 143.7M | 143667240 |" in md
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
    assert report.measurement_tables(merged) == []  # not also a seed-vs-measured table
    [cross] = report.cross_tables(merged)
    assert cross["rows"] == ["keras-3.15.1-jax.keras"]
    assert cross["columns"] == ["keras-3.15.1-tensorflow", "keras-2.15.0-tensorflow"]
    md = report.render_markdown(merged)
    assert f"## {table}" in md
    assert "| keras-3.15.1-jax.keras | loads and matches | fails |" in md
    assert ("- **keras-3.15.1-jax.keras**: keras-2.15.0-tensorflow: TypeError: cannot deserialize"
            in md)
    page = report.render_html(merged)
    assert "<td class='refuted' title='TypeError: cannot deserialize'>fails</td>" in page
