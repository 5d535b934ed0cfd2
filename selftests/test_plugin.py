"""The plugin end to end on fake environments (outcomes, drift, refusals, opt-in groups, xdist),
and the files a run writes (claims.runfile). The rules alone: test_verdicts.py."""

from __future__ import annotations

import json
import platform
import textwrap
from types import SimpleNamespace

import pytest

from claims import report, runfile
from claims.catalog import Environment
from claims.plugin import OPT_IN_GROUPS, REFUSED_KEY
from claims.verdicts import TestRecord
from claims.vocabulary import SCHEMA_VERSION
from selftests.conftest import make_run, verdicts

PASSING = """
    import pytest

    @pytest.mark.claim("q19-holds")
    def test_holds():
        assert 1 + 1 == 2
"""


def test_a_passing_test_makes_its_claim_hold(audit):
    result, data = audit(PASSING)
    assert result.ret == 0
    assert verdicts(data) == {"q19-holds": "holds", "q24-untestable": "untestable"}


def test_a_failing_assertion_refutes_the_claim_with_its_message(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-open")
        def test_open():
            assert [1, 2] == [1, 3], "the lists differ"
    """)
    claim = next(c for c in data["claims"] if c["id"] == "q19-open")
    assert claim["verdict"] == "refuted"
    assert "AssertionError: the lists differ" in claim["evidence"]
    assert result.ret == 1  # an unrecorded refutation fails the run


def test_hypothesis_minimal_counterexample_is_the_evidence(audit):
    result, data = audit("""
        import pytest
        from hypothesis import given, strategies as st

        @pytest.mark.claim("q19-open")
        @given(n=st.integers(0, 100))
        def test_small(n):
            assert n < 10
    """)
    evidence = next(c for c in data["claims"] if c["id"] == "q19-open")["evidence"]
    assert "n=10" in evidence


def test_an_import_error_is_an_error_never_a_refutation(audit):
    _, data = audit("""
        import pytest

        @pytest.mark.claim("q19-holds")
        def test_needs_module():
            import a_module_that_is_not_installed
    """)
    claim = next(c for c in data["claims"] if c["id"] == "q19-holds")
    assert claim["verdict"] == "error"
    assert "ModuleNotFoundError" in claim["evidence"]
    assert claim["drift"] is False


def test_a_broken_fixture_is_an_error(audit):
    _, data = audit("""
        import pytest

        @pytest.fixture
        def graphviz():
            raise OSError("dot not found")

        @pytest.mark.claim("q19-holds")
        def test_plot(graphviz):
            assert True
    """)
    claim = next(c for c in data["claims"] if c["id"] == "q19-holds")
    assert claim["verdict"] == "error"
    assert claim["evidence"].startswith("setup: OSError: dot not found")


MISSING_DOT = """
    import pytest
    from claims.verdicts import MissingTool

    @pytest.fixture
    def graphviz():
        raise MissingTool("Graphviz's dot program", "apt-get install graphviz")

    @pytest.mark.claim("q19-holds")
    def test_plot(graphviz):
        assert True

    @pytest.mark.claim("q19-open")
    def test_other():
        assert True
"""


def test_a_missing_program_is_an_error_naming_its_install_command_and_the_run_ends_green(
        audit, monkeypatch):
    monkeypatch.delenv("CLAIMS_STRICT", raising=False)
    result, data = audit(MISSING_DOT)
    claim = next(c for c in data["claims"] if c["id"] == "q19-holds")
    assert claim["verdict"] == "error" and claim["drift"] is False
    assert claim["evidence"] == ("setup: MissingTool: needs Graphviz's dot program, which is not "
                                 "installed here: apt-get install graphviz")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["1 claim not checked here (q19-holds): needs Graphviz's dot "
                                 "program, which is not installed here: apt-get install graphviz"])


@pytest.mark.parametrize("strict", [("--claims-strict",), ("CLAIMS_STRICT",)],
                         ids=["option", "variable"])
def test_in_strict_mode_a_missing_program_fails_the_run(audit, monkeypatch, strict):
    if strict == ("CLAIMS_STRICT",):
        monkeypatch.setenv("CLAIMS_STRICT", "1")
        strict = ()
    result, _ = audit(MISSING_DOT, "keras-3.1.0-tensorflow", *strict)
    assert result.ret == 1


def test_a_missing_program_beside_another_error_still_fails_the_run(audit, monkeypatch):
    monkeypatch.delenv("CLAIMS_STRICT", raising=False)
    result, data = audit(MISSING_DOT.replace("def test_other():\n        assert True",
                                             "def test_other():\n        import not_installed"))
    assert verdicts(data)["q19-open"] == "error"
    assert result.ret == 1


def test_a_skip_makes_the_claim_not_applicable_with_its_reason(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-na")
        def test_train():
            pytest.skip("the numpy backend is inference-only")
    """, "keras-3.15.1-numpy")
    claim = next(c for c in data["claims"] if c["id"] == "q19-na")
    assert (claim["verdict"], claim["evidence"]) == (
        "not-applicable", "the numpy backend is inference-only")
    assert result.ret == 0


def test_a_recorded_refutation_shows_as_xfail_and_keeps_the_run_green(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-refuted")
        def test_refuted():
            assert False, "as recorded"

        @pytest.mark.claim("q19-refuted", correction=True)
        def test_correction():
            assert True
    """)
    result.assert_outcomes(xfailed=1, passed=1)
    claim = next(c for c in data["claims"] if c["id"] == "q19-refuted")
    assert (claim["verdict"], claim["expected"], claim["drift"]) == ("refuted", "refuted", False)
    assert "correction verified" in claim["evidence"]
    assert [t["role"] for t in claim["tests"]] == ["claim", "correction"]


def test_a_recorded_refutation_that_now_holds_is_drift(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-refuted")
        def test_refuted():
            assert True
    """)
    claim = next(c for c in data["claims"] if c["id"] == "q19-refuted")
    assert (claim["verdict"], claim["drift"]) == ("holds", True)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*DRIFT q19-refuted: recorded refuted, observed holds*"])


def test_a_recorded_hold_that_fails_is_drift(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-refuted")
        def test_refuted():
            assert False
    """, "keras-2.15.0-tensorflow")
    claim = next(c for c in data["claims"] if c["id"] == "q19-refuted")
    assert (claim["verdict"], claim["expected"], claim["drift"]) == ("refuted", "holds", True)
    assert result.ret == 1


def test_a_recorded_not_applicable_that_runs_is_drift(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-na")
        def test_train():
            assert True
    """, "keras-3.15.1-numpy")
    assert next(c for c in data["claims"] if c["id"] == "q19-na")["drift"] is True
    assert result.ret == 1


def test_a_failing_correction_fails_the_run_and_says_so(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-refuted")
        def test_refuted():
            assert False

        @pytest.mark.claim("q19-refuted", correction=True)
        def test_correction():
            assert False, "the correction is wrong too"
    """)
    claim = next(c for c in data["claims"] if c["id"] == "q19-refuted")
    assert "correction NOT verified" in claim["evidence"]
    assert result.ret == 1


def test_evidence_fixture_adds_measured_values(audit):
    _, data = audit("""
        import pytest

        @pytest.mark.claim("q19-holds")
        def test_measure(evidence):
            evidence("18,496 parameters")
            assert True
    """)
    assert next(c for c in data["claims"] if c["id"] == "q19-holds")["evidence"] == (
        "18,496 parameters")


def test_the_keras_and_environment_fixtures_give_the_target_of_the_audit(audit, monkeypatch):
    monkeypatch.setattr("claims.target.load_keras", lambda: "the keras under audit")
    _, data = audit("""
        import pytest

        @pytest.mark.claim("q19-holds")
        def test_target(keras, environment):
            assert keras == "the keras under audit"
            assert environment.id == "keras-3.1.0-tensorflow"
    """)
    assert verdicts(data)["q19-holds"] == "holds"


def test_a_test_naming_an_unknown_claim_stops_the_run(audit):
    result, _ = audit("""
        import pytest

        @pytest.mark.claim("q19-no-such-claim")
        def test_x():
            pass
    """)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*names unknown claim 'q19-no-such-claim'*"])


def test_an_untestable_claim_cannot_have_a_test(audit):
    result, _ = audit("""
        import pytest

        @pytest.mark.claim("q24-untestable")
        def test_x():
            pass
    """)
    assert result.ret == 4


def test_the_claim_marker_takes_exactly_one_id(audit):
    result, _ = audit("""
        import pytest

        @pytest.mark.claim("q19-holds", "q19-na")
        def test_x():
            pass
    """)
    assert result.ret == 4


def test_a_bad_catalog_stops_the_run_with_one_line(audit, mini_catalog):
    (mini_catalog / "H.toml").write_text('[[claim]]\nid = "q19-x"\nquestions = [19]\n')
    result, data = audit(PASSING)
    assert result.ret == 4 and data is None
    result.stderr.fnmatch_lines(["*catalog/H.toml: claim 'q19-x': field 'section'*"])


def test_the_run_writes_json_junit_and_a_verdict_table(audit, pytester):
    result, data = audit(PASSING, "keras-3.15.1-jax")
    report.validate(data, "run.schema.json", "run")
    assert set(data["environment"]) == {"id", "keras", "backend", "python", "packages",
                                        "machine"}
    assert data["environment"]["id"] == "keras-3.15.1-jax"
    claim = data["claims"][0]
    assert set(claim) == {"id", "questions", "section", "statement", "quote", "verdict",
                          "expected", "drift", "evidence", "correction", "tests"}
    assert set(claim["tests"][0]) == {"nodeid", "outcome", "duration_s", "message", "role"}
    assert (pytester.path / "reports" / "keras-3.15.1-jax.xml").exists()
    result.stdout.fnmatch_lines(["*claim verdicts: keras-3.15.1-jax*", "q19-holds*holds*"])


def test_a_run_without_claim_tests_writes_no_report(audit):
    result, data = audit(PASSING, "keras-3.1.0-tensorflow", "-k", "no_such_test")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED and data is None


UNMARKED = """
    import pytest

    @pytest.mark.claim("q19-holds")
    def test_holds():
        assert True

    def test_plain():
        assert False, "would fail in pytest and vanish from the report"

    class TestGroup:
        def test_method(self):
            pass
"""


def test_a_test_with_no_claim_marker_stops_the_run_naming_it(audit):
    result, data = audit(UNMARKED)
    assert result.ret == pytest.ExitCode.USAGE_ERROR and data is None
    result.stderr.fnmatch_lines(["ERROR: test(s) with no @pytest.mark.claim: "
                                 "test_claims.py::test_plain, test_claims.py::TestGroup::"
                                 "test_method"])
    result.assert_outcomes()  # nothing ran


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_a_test_with_no_claim_marker_stops_a_subprocess_run(pytester, mini_catalog,
                                                             monkeypatch, workers):
    """Under pytest-xdist too: the workers collect, the message still reaches the user."""
    monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
    monkeypatch.setenv("CLAIMS_ENV_ID", "keras-3.1.0-tensorflow")
    pytester.makepyfile(test_tiny="def test_unmarked():\n    assert False\n")
    result = pytester.runpytest_subprocess("-p", "claims.plugin", *workers, "--claims-reports",
                                           str(pytester.path / "reports"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "test(s) with no @pytest.mark.claim: test_tiny.py::test_unmarked" in output
    assert "INTERNALERROR" not in output and "failed" not in output
    assert not (pytester.path / "reports" / "keras-3.1.0-tensorflow.json").exists()


def test_under_xdist_an_unknown_claim_stops_the_run_with_its_message(pytester, mini_catalog,
                                                                      monkeypatch):
    monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
    monkeypatch.setenv("CLAIMS_ENV_ID", "keras-3.1.0-tensorflow")
    pytester.makepyfile(test_tiny="""
        import pytest

        @pytest.mark.claim("q19-no-such-claim")
        def test_x():
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "claims.plugin", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["*Interrupted: *names unknown claim 'q19-no-such-claim'*"])


def test_an_xdist_worker_hands_its_refusal_to_the_controller(audit, pytester):
    """What a worker does (this run plays one): stop with the message, run nothing."""
    pytester.makeconftest("""
        import json

        def pytest_configure(config):
            config.workerinput, config.workeroutput = {}, {}

        def pytest_sessionfinish(session):
            with open("worker.json", "w") as out:
                json.dump([session.config.workeroutput, session.shouldstop], out)
    """)
    result, data = audit(UNMARKED)
    result.assert_outcomes()
    output, shouldstop = json.loads((pytester.path / "worker.json").read_text())
    assert output[REFUSED_KEY] == shouldstop
    assert shouldstop.startswith("test(s) with no @pytest.mark.claim: test_claims.py::test_plain")
    assert data is None


def test_the_controller_ends_a_run_a_worker_refused_as_a_usage_error(pytester, mini_catalog,
                                                                      monkeypatch):
    monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
    monkeypatch.setenv("CLAIMS_ENV_ID", "keras-3.1.0-tensorflow")
    plugin = pytester.parseconfigure("-p", "claims.plugin").pluginmanager.get_plugin(
        "claims-audit")
    plugin.pytest_testnodedown(SimpleNamespace(workeroutput={REFUSED_KEY: "refused"}), None)
    plugin.pytest_testnodedown(SimpleNamespace(workeroutput={}), None)  # the other worker
    plugin.pytest_testnodedown(SimpleNamespace(), "crashed")  # a worker that died
    session = SimpleNamespace(exitstatus=pytest.ExitCode.INTERRUPTED)
    plugin.pytest_sessionfinish(session)
    assert (plugin.refused, session.exitstatus) == ("refused", pytest.ExitCode.USAGE_ERROR)


def test_only_tests_under_the_ini_testpaths_need_a_claim(audit, pytester):
    """The project's testpaths (tests/) hold the claim tests; its self-tests lie elsewhere."""
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.mkdir("tests").joinpath("test_audit.py").write_text(textwrap.dedent(PASSING))
    result, data = audit("def test_engine():\n    assert True\n", "keras-3.1.0-tensorflow",
                         "test_claims.py", "tests")
    result.assert_outcomes(passed=2)
    assert verdicts(data)["q19-holds"] == "holds"
    pytester.path.joinpath("tests", "test_plain.py").write_text("def test_x():\n    pass\n")
    result, _ = audit("def test_engine():\n    assert True\n", "keras-3.1.0-tensorflow",
                      "test_claims.py", "tests")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no @pytest.mark.claim: tests/test_plain.py::test_x"])


def test_without_keras_installed_claims_error_and_no_report_is_written(
    pytester, mini_catalog, monkeypatch
):
    monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
    monkeypatch.delenv("CLAIMS_ENV_ID", raising=False)
    monkeypatch.setattr("claims.target.detect", lambda: (_ for _ in ()).throw(
        ImportError("No module named 'keras'")))
    pytester.makepyfile(PASSING)
    result = pytester.runpytest_inprocess("-p", "claims.plugin", "--claims-reports",
                                          str(pytester.path / "reports"))
    result.stdout.fnmatch_lines(["*Keras under audit is unknown*No module named 'keras'*"])
    assert not (pytester.path / "reports").exists()


def test_per_run_json_is_valid_utf8_with_the_quote_verbatim(audit, mini_catalog):
    text = (mini_catalog / "H.toml").read_text().replace('quote = "q"', 'quote = "Lớp Flatten"', 1)
    (mini_catalog / "H.toml").write_text(text)
    _, data = audit(PASSING)
    assert json.dumps(data, ensure_ascii=False).count("Lớp Flatten") == 1


def test_the_run_records_its_time_memory_and_slowest_tests(audit, pytester):
    audit(PASSING, "keras-3.15.1-jax")
    timing = json.loads((pytester.path / "reports" / "timing.json").read_text())
    entry = timing["keras-3.15.1-jax"]
    assert entry["tests"] == 1 and entry["peak_rss_mb"] > 0 and entry["wall_s"] >= 0
    assert entry["slowest"][0][0] == "test_claims.py::test_holds"
    assert list(entry["files_s"]) == ["test_claims.py"]


TWO_CLAIMS = """
    import pytest

    @pytest.mark.claim("q19-holds")
    def test_holds():
        assert True

    @pytest.mark.claim("q19-open")
    def test_open():
        assert True
"""


def test_claim_option_runs_only_that_claims_tests(audit):
    result, data = audit(TWO_CLAIMS, "keras-3.1.0-tensorflow", "--claim", "q19-open")
    result.assert_outcomes(passed=1, deselected=1)
    assert [c["id"] for c in data["claims"] if c["verdict"] != "untestable"] == ["q19-open"]


def test_claim_option_refuses_an_unknown_id(audit):
    result, _ = audit(TWO_CLAIMS, "keras-3.1.0-tensorflow", "--claim", "q19-nope")
    assert result.ret == 4


def test_collect_only_writes_no_report(audit):
    result, data = audit(TWO_CLAIMS, "keras-3.1.0-tensorflow", "--collect-only")
    assert result.ret == 0 and data is None


def test_tests_that_never_ran_give_no_verdict(audit):
    result, data = audit("""
        import pytest

        @pytest.mark.claim("q19-open")
        def test_first():
            assert False

        @pytest.mark.claim("q19-holds")
        def test_second():
            assert True
    """, "keras-3.1.0-tensorflow", "-x")
    assert [c["id"] for c in data["claims"] if c["verdict"] != "untestable"] == ["q19-open"]


def test_with_xdist_workers_the_controller_writes_the_same_verdicts(pytester, mini_catalog,
                                                                     monkeypatch):
    monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
    monkeypatch.setenv("CLAIMS_ENV_ID", "keras-3.1.0-numpy")
    pytester.makepyfile(test_claims=textwrap.dedent("""
        import pytest

        @pytest.mark.claim("q19-holds")
        def test_holds(evidence):
            evidence("measured 3")
            assert True

        @pytest.mark.claim("q19-refuted")
        def test_refuted():
            assert False, "as recorded"

        @pytest.mark.claim("q19-na")
        def test_skipped():
            pytest.skip("numpy cannot train")
    """))
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess("-p", "claims.plugin", "-n", "2",
                                           "--claims-reports", str(reports))
    assert result.ret == 0
    data = json.loads((reports / "keras-3.1.0-numpy.json").read_text())
    assert {c["id"]: (c["verdict"], c["evidence"]) for c in data["claims"]} == {
        "q19-holds": ("holds", "measured 3"),
        "q19-refuted": ("refuted", "AssertionError: as recorded"),
        "q19-na": ("not-applicable", "numpy cannot train"),
        "q24-untestable": ("untestable", "needs R"),
    }


def test_measure_fixture_adds_rows_to_the_claim(audit):
    _, data = audit("""
        import pytest

        @pytest.mark.claim("q19-holds")
        def test_measure(measure):
            measure(model="VGG16", seed="138.4M", measured=138357544)
            assert True
    """)
    claim = next(c for c in data["claims"] if c["id"] == "q19-holds")
    assert claim["measurements"] == [{"model": "VGG16", "seed": "138.4M",
                                      "measured": 138357544}]
    report.validate(data, "run.schema.json", "run")


def test_a_corrections_table_cells_join_the_claims_rows(audit):
    _, data = audit("""
        import pytest

        @pytest.mark.claim("q19-holds", correction=True)
        def test_route(measure):
            measure(table="T", row="route", cell="works", verdict="holds")
            measure(model="VGG16", seed="138.4M", measured=138357544)

        @pytest.mark.claim("q19-holds")
        def test_holds():
            assert True
    """)
    claim = next(c for c in data["claims"] if c["id"] == "q19-holds")
    assert claim["measurements"] == [{"table": "T", "row": "route", "cell": "works",
                                      "verdict": "holds"}]


OPT_IN = """
    import pytest

    @pytest.mark.claim("q19-holds")
    def test_holds():
        assert True

    @pytest.mark.slow
    @pytest.mark.claim("q19-holds")
    def test_slow_one():
        assert False, "the slow group ran"
"""


@pytest.mark.parametrize("group", sorted(OPT_IN_GROUPS))
def test_an_opt_in_group_runs_only_when_asked(audit, group):
    source = OPT_IN.replace("mark.slow", f"mark.{group}")
    result, data = audit(source)
    result.assert_outcomes(passed=1, deselected=1)
    assert verdicts(data)["q19-holds"] == "holds"
    result, data = audit(source, "keras-3.1.0-tensorflow", f"--{group}")
    assert verdicts(data)["q19-holds"] == "refuted"


def test_the_benchmarks_are_an_opt_in_group_like_slow_and_tfjs():
    assert {"slow", "tfjs", "bench"} <= set(OPT_IN_GROUPS)


def test_each_opt_in_group_is_one_marker_named_by_its_option(pytester, mini_catalog,
                                                              monkeypatch):
    monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
    monkeypatch.setenv("CLAIMS_ENV_ID", "keras-3.1.0-tensorflow")
    result = pytester.runpytest_inprocess("-p", "claims.plugin", "--markers")
    for group in OPT_IN_GROUPS:
        assert result.stdout.str().count(f"@pytest.mark.{group}:") == 1
        result.stdout.fnmatch_lines([f"@pytest.mark.{group}: runs only with --{group} (*"])


# --- the run's files (claims.runfile), called directly ----------------------------------------
JAX = Environment.parse("keras-3.15.1-jax")


def test_the_run_document_names_its_environment_and_schema(monkeypatch):
    monkeypatch.setattr("claims.target.installed_packages", lambda: {"keras": "3.15.1"})
    doc = runfile.run_document(JAX, [{"id": "q19-a"}])
    assert list(doc) == ["schema", "environment", "claims"]
    assert doc["schema"] == SCHEMA_VERSION
    assert doc["environment"] == {"id": "keras-3.15.1-jax", "keras": "3.15.1", "backend": "jax",
                                  "python": platform.python_version(),
                                  "packages": {"keras": "3.15.1"}}
    assert runfile.run_document(JAX, [], packages={})["environment"]["packages"] == {}


def test_the_run_file_is_indented_utf8_json_named_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.setattr("claims.target.installed_packages", lambda: {})
    claims = [{"id": "q19-a", "quote": "Lớp Flatten"}]
    path = runfile.write_run(tmp_path / "reports", JAX, claims)
    assert path == tmp_path / "reports" / "keras-3.15.1-jax.json"
    assert path.read_text(encoding="utf-8") == json.dumps(
        runfile.run_document(JAX, claims), indent=1, ensure_ascii=False) + "\n"


def test_the_timing_entry_sums_files_and_lists_the_five_slowest():
    records = [TestRecord(f"tests/test_{f}.py::test_{i}", "q19-a", False, "passed",
                          duration_s=float(i)) for i, f in enumerate("aabbbcc")]
    entry = runfile.timing_entry(records, wall_s=12.345, peak_mb=321)
    assert entry == {
        "wall_s": 12.3, "tests": 7, "peak_rss_mb": 321,
        "slowest": [["tests/test_c.py::test_6", 6.0], ["tests/test_c.py::test_5", 5.0],
                    ["tests/test_b.py::test_4", 4.0], ["tests/test_b.py::test_3", 3.0],
                    ["tests/test_b.py::test_2", 2.0]],
        "files_s": {"test_a.py": 1.0, "test_b.py": 9.0, "test_c.py": 11.0},
    }
    assert runfile.peak_rss_mb() > 0


def test_timing_json_keeps_the_other_environments_entries(tmp_path):
    path = runfile.write_timing(tmp_path, "keras-3.15.1-jax", {"wall_s": 1.0})
    runfile.write_timing(tmp_path, "keras-2.15.0-tensorflow", {"wall_s": 2.0})
    runfile.write_timing(tmp_path, "keras-3.15.1-jax", {"wall_s": 3.0})
    assert path.read_text() == json.dumps(
        {"keras-2.15.0-tensorflow": {"wall_s": 2.0}, "keras-3.15.1-jax": {"wall_s": 3.0}},
        indent=1, sort_keys=True) + "\n"


def test_run_files_are_the_environments_files_validated(tmp_path):
    """Every reader of a reports folder lists its run files with runfile.run_paths: timing.json
    and the merged audit.json are not run files; read_runs checks each against its schema."""
    for name in ("keras-3.15.1-jax.json", "tf_keras-2.21.0-tensorflow.json", "timing.json",
                 "audit.json"):
        (tmp_path / name).write_text(json.dumps(make_run(name.removesuffix(".json"), {}))
                                     if name.count("-") >= 2 else "{}")
    assert [p.name for p in runfile.run_paths(tmp_path)] == [
        "keras-3.15.1-jax.json", "tf_keras-2.21.0-tensorflow.json"]
    assert [r["environment"]["id"] for r in runfile.read_runs(tmp_path)] == [
        "keras-3.15.1-jax", "tf_keras-2.21.0-tensorflow"]
    (tmp_path / "keras-3.0.5-jax.json").write_text('{"schema": 1}')
    with pytest.raises(report.ReportError, match="keras-3.0.5-jax.json"):
        runfile.read_runs(tmp_path)


def test_a_broken_timing_json_is_started_again(tmp_path):
    (tmp_path / "timing.json").write_text("{half")
    runfile.write_timing(tmp_path, "keras-3.15.1-jax", {"wall_s": 1.0})
    assert json.loads((tmp_path / "timing.json").read_text()) == {
        "keras-3.15.1-jax": {"wall_s": 1.0}}


# --- machine facts and switches ------------------------------------------------------------------
GARBAGE_ALWAYS = """
    import pytest

    @pytest.mark.claim("q19-onednn")
    def test_garbage():
        assert False, "garbage output"
"""


def test_a_rule_naming_a_machine_fact_is_judged_by_the_facts_the_run_recorded(
        audit, monkeypatch):
    monkeypatch.setenv("CLAIMS_MACHINE", json.dumps({"onednn": "on"}))
    result, data = audit(GARBAGE_ALWAYS)
    claim = next(c for c in data["claims"] if c["id"] == "q19-onednn")
    assert (result.ret, data["environment"]["machine"]) == (0, {"onednn": "on"})
    assert (claim["verdict"], claim["drift"], claim["decided_by"]) == (
        "refuted", False, "onednn=on")
    monkeypatch.setenv("CLAIMS_MACHINE", json.dumps({"onednn": "off"}))
    result, data = audit(GARBAGE_ALWAYS)
    claim = next(c for c in data["claims"] if c["id"] == "q19-onednn")
    assert (result.ret, claim["expected"], claim["drift"]) == (1, "holds", True)


SWITCHED = """
    import pytest

    class Process:  # what tests/switches.KerasProcess records
        def __init__(self, state):
            self.claims_setting = {"TF_ENABLE_ONEDNN_OPTS": str(int(state == "on")),
                                   "onednn": state}

    @pytest.fixture(scope="session", params=["off", "on"])
    def onednn(request):
        return Process(request.param)

    @pytest.mark.claim("q19-onednn")
    def test_garbage_only_with_onednn(onednn):
        assert onednn.claims_setting["onednn"] == "off", "garbage output"
"""


def test_a_test_under_a_switch_is_judged_per_setting_whatever_the_machine(audit):
    result, data = audit(SWITCHED)  # the fake machine runs oneDNN off
    claim = next(c for c in data["claims"] if c["id"] == "q19-onednn")
    assert result.ret == 0
    assert [(s["setting"]["onednn"], s["verdict"], s["expected"]) for s in claim["settings"]] == [
        ("off", "holds", "holds"), ("on", "refuted", "refuted")]
    assert (claim["verdict"], claim["expected"], claim["drift"]) == ("refuted", "refuted", False)
    result.assert_outcomes(passed=1, xfailed=1)  # only the setting recorded as refuted


def test_files_run_longest_first_by_the_last_runs_times(audit, pytester):
    pytester.makepyfile(test_short="""
        import pytest

        @pytest.mark.claim("q19-holds")
        def test_short():
            pass
    """)
    reports = pytester.path / "reports"
    reports.mkdir()
    (reports / "timing.json").write_text(json.dumps({"keras-3.1.0-tensorflow": {
        "files_s": {"test_short.py": 9.0, "test_claims.py": 1.0}}}))
    result, _ = audit(PASSING, "keras-3.1.0-tensorflow", "-v")
    ran = [line.split("::")[0] for line in result.outlines if "PASSED" in line]
    assert ran == ["test_short.py", "test_claims.py"]  # collected the other way round
