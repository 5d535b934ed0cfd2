"""The sweep over every Keras release: which releases and pins, its progress line, and the
report's release timeline built from its runs."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from claims import catalog, report, sweep
from claims.cli import main
from claims.labels import LABELS
from selftests.conftest import make_run, write_catalog

H_CLAIM = """[[claim]]
id = "q19-x"
questions = [19]
section = "H"
quote = "q"
statement = "s."
correction = "c"
expected = [{ verdict = "refuted", python = "<3.11.13" }, { verdict = "holds" }]
"""

RELEASES = [Version(v) for v in ("2.11.0", "2.12.0", "2.15.0", "3.0.0", "3.7.0", "3.8.0",
                                 "3.15.1")]


def test_the_sweep_starts_at_the_first_keras_on_python_3_11():
    assert sweep.sweep_releases(reversed(RELEASES)) == RELEASES[1:]


def test_keras_2_comes_with_tensorflow_of_its_minor_version():
    assert sweep.pins(Version("2.13.1"))[:2] == ["tensorflow-cpu==2.13.*", "keras==2.13.1"]


def test_keras_3_leaves_tensorflow_to_the_resolver():
    assert sweep.pins(Version("3.4.1")) == ["keras==3.4.1", "tensorflow-cpu"]


def test_progress_says_release_n_of_n_elapsed_and_an_estimate():
    progress = sweep.Progress(total=3, jobs=1, started=0.0)
    first = progress.line("keras-3.0.0-tensorflow", "60 holds; no drift", seconds=90)
    assert first.startswith("[1/3] keras-3.0.0-tensorflow in 1:30: 60 holds; no drift")
    assert "about 3:00 left" in first
    resumed = progress.line("keras-3.7.0-tensorflow", "kept", seconds=None)
    assert "(resumed)" in resumed and "about 1:30 left" in resumed


def test_describe_names_the_drifting_claims():
    run = make_run("keras-3.8.0-tensorflow", {"q1-a": "holds", "q2-b": "refuted"},
                   drift={"q2-b"})
    assert sweep.describe(run) == "1 holds, 1 refuted; DRIFT: q2-b"


def test_a_kept_run_is_judged_against_the_catalog_as_it_is_now(tmp_path):
    claims = catalog.load(write_catalog(tmp_path, {"H.toml": H_CLAIM}))
    run = make_run("keras-3.7.0-tensorflow", {"q19-x": "refuted"})
    run["environment"]["python"] = "3.11.7"
    assert sweep.rejudge(run, claims)["claims"][0]["drift"] is False  # python < 3.11.13
    run["environment"]["python"] = "3.11.14"
    assert sweep.rejudge(run, claims)["claims"][0]["expected"] == "holds"
    assert sweep.rejudge(run, claims)["claims"][0]["drift"] is True


def sweep_runs(tmp_path) -> list:
    """Four releases: q18-a changes at 3.8.0, q25-b never does, q1-c drifts in 3.7.0."""
    verdicts = {"3.0.0": "holds", "3.7.0": "holds", "3.8.0": "refuted", "3.15.1": "refuted"}
    paths = []
    for release, verdict in verdicts.items():
        run = make_run(f"keras-{release}-tensorflow",
                       {"q18-a": verdict, "q25-b": "holds", "q1-c": "refuted"},
                       drift={"q1-c"} if release == "3.7.0" else ())
        fixed = Version(release) >= Version("3.8")
        run["claims"][2]["measurements"] = [
            {"table": "Security", "row": "CVE-1", "cell": "safe" if fixed else "vulnerable",
             "verdict": "holds" if fixed else "refuted"}]
        path = tmp_path / "sweep" / f"keras-{release}-tensorflow.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(run))
        paths.append(path)
    return paths[::-1]


@pytest.fixture
def timeline_model(run_files, tmp_path) -> dict:
    audit = run_files(make_run("keras-3.15.1-tensorflow", {"q18-a": "refuted"}))
    return report.merge(audit, sweep=sweep_runs(tmp_path))


def test_the_timeline_has_a_row_only_for_claims_that_change(timeline_model):
    timeline = timeline_model["timeline"]
    assert timeline["releases"] == ["3.0.0", "3.7.0", "3.8.0", "3.15.1"]
    (row,) = timeline["claims"]
    assert row["claim"] == "q18-a"
    assert row["verdicts"] == ["holds", "holds", "refuted", "refuted"]
    assert [(r["verdict"], r["first"], r["last"]) for r in row["ranges"]] == [
        ("holds", "3.0.0", "3.7.0"), ("refuted", "3.8.0", "3.15.1")]


def test_a_table_row_whose_cell_changes_gives_its_first_safe_release(timeline_model):
    (row,) = timeline_model["timeline"]["rows"]
    assert (row["table"], row["row"]) == ("Security", "CVE-1")
    assert [(r["shown"], r["first"], r["last"]) for r in row["ranges"]] == [
        ("vulnerable", "3.0.0", "3.7.0"), ("safe", "3.8.0", "3.15.1")]


def test_the_timeline_lists_the_sweeps_drift(timeline_model):
    assert timeline_model["timeline"]["drift"] == [{"claim": "q1-c", "release": "3.7.0"}]


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_markdown_gives_the_ranges_and_html_a_strip(timeline_model, lang):
    t = LABELS[lang]
    markdown = report.render_markdown(timeline_model, lang)
    assert f"## {t['timeline']}" in markdown
    assert f"- q18-a: {t['holds']} 3.0.0 {t['up_to']} 3.7.0; {t['refuted']} 3.8.0 {t['up_to']} " \
           "3.15.1" in markdown
    assert "- CVE-1: vulnerable 3.0.0" in markdown
    page = report.render_html(timeline_model, lang)
    assert page.count("class='strip ") == 4
    assert "title='3.8.0: " in page


def test_without_a_sweep_the_report_has_no_timeline(run_files):
    model = report.merge(run_files(make_run("keras-3.15.1-tensorflow", {"q18-a": "holds"})))
    assert "timeline" not in model
    assert LABELS["en"]["timeline"] not in report.render_markdown(model)


def test_sweep_matrix_prints_one_job_per_release(monkeypatch, capsys):
    monkeypatch.setattr("claims.bisect.releases", lambda: RELEASES)
    assert main(["sweep-matrix"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("matrix=")
    assert json.loads(out.removeprefix("matrix="))["release"] == [str(v) for v in RELEASES[1:]]
