"""The verdict rules (claims.verdicts) called directly: plain records in, verdicts out."""

from __future__ import annotations

from claims.catalog import Claim, Environment, Rule
from claims.verdicts import (
    TestRecord,
    aggregate,
    claim_entry,
    correction_note,
    describe,
    is_drift,
    is_refutation,
    judge,
    only_missing_tools,
    unchecked,
    verdicts,
)
from claims.vocabulary import VERDICTS


def record(outcome, message="", correction=False, claim_id="q19-a", nodeid=None, **extra):
    return TestRecord(nodeid or f"t.py::test_{outcome}_{len(message)}_{correction}", claim_id,
                      correction, outcome, message, **extra)


def claim(claim_id="q19-a", untestable=None, correction=None, expected=()):
    rules = tuple(r if isinstance(r, Rule) else Rule(r) for r in expected)
    return Claim(id=claim_id, questions=(19,), section="H", quote="q", statement="S.",
                 source="H.toml", correction=correction, untestable=untestable,
                 expected=rules)


ENV = Environment("keras", "3.1.0", "tensorflow", "3.11.7", {"onednn": "on"})


# --- one exception ----------------------------------------------------------------------------
def test_only_an_assertion_refutes():
    assert is_refutation(AssertionError("x"))
    assert not is_refutation(ImportError("x"))
    assert not is_refutation(OSError("dot not found"))


def test_a_group_refutes_only_when_every_member_is_an_assertion():
    assert is_refutation(ExceptionGroup("g", [AssertionError("a"), AssertionError("b")]))
    assert not is_refutation(ExceptionGroup("g", [AssertionError("a"), ValueError("b")]))
    nested = ExceptionGroup("g", [ExceptionGroup("h", [AssertionError("a")])])
    assert is_refutation(nested)


def test_describe_gives_type_and_first_line():
    assert describe(ValueError("first line\nsecond line")) == "ValueError: first line"
    assert describe(AssertionError()) == "AssertionError"
    assert describe(RuntimeError("  ")) == "RuntimeError"


def test_describe_adds_the_hypothesis_counterexample_without_module_arguments():
    exc = AssertionError("n too big")
    exc.add_note("Falsifying example: test_small(\n    keras=<module 'keras' from '/x'>,\n"
                 "    n=10,\n)")
    exc.add_note("You can reproduce this example by ...")
    assert describe(exc) == "AssertionError: n too big | Falsifying example: test_small( n=10, )"


def test_describe_is_one_line_of_bounded_length():
    text = describe(RuntimeError("x" * 2000))
    assert "\n" not in text and len(text) == 600 and text.endswith("…")


# --- one phase --------------------------------------------------------------------------------
def test_a_phase_without_exception_passes_only_in_the_call():
    assert judge("call", None) == ("passed", "")
    assert judge("setup", None) == (None, "")
    assert judge("teardown", None) == (None, "")


def test_a_skip_is_skipped_with_its_reason_on_one_line():
    assert judge("call", Exception(), "numpy cannot\n  train") == ("skipped",
                                                                     "numpy cannot train")
    assert judge("setup", Exception(), "") == ("skipped", "")


def test_an_assertion_in_the_call_fails_and_anywhere_else_errors():
    assert judge("call", AssertionError("differs")) == ("failed", "AssertionError: differs")
    assert judge("setup", AssertionError("x")) == ("error", "setup: AssertionError: x")
    assert judge("call", ImportError("no h5py")) == ("error", "call: ImportError: no h5py")
    assert judge("teardown", OSError("busy")) == ("error", "teardown: OSError: busy")


# --- one test's phases ------------------------------------------------------------------------
def test_a_record_sums_its_phases_and_keeps_the_first_bad_outcome():
    r = TestRecord("t.py::test_x", "q19-a", False)
    r.add_phase(None, "", 0.5, [], [])
    assert r.outcome is None
    r.add_phase("failed", "AssertionError: x", 1.0, ["measured 3"], [{"m": 1}])
    r.add_phase("error", "teardown: OSError: busy", 0.25, ["measured 3"], [{"m": 1}])
    assert (r.outcome, r.message, r.duration_s) == ("failed", "AssertionError: x", 1.75)
    assert (r.evidence, r.measurements) == (["measured 3"], [{"m": 1}])


def test_a_teardown_error_after_a_pass_is_the_outcome():
    r = TestRecord("t.py::test_x", "q19-a", False)
    r.add_phase("passed", "", 1.0, [], [])
    r.add_phase("error", "teardown: OSError: busy", 0.0, [], [])
    assert (r.outcome, r.message) == ("error", "teardown: OSError: busy")


def test_a_skipped_setup_stays_skipped():
    r = TestRecord("t.py::test_x", "q19-a", False)
    r.add_phase("skipped", "no GPU", 0.0, [], [])
    r.add_phase(None, "", 0.0, [], [])
    assert (r.outcome, r.message) == ("skipped", "no GPU")


def test_a_record_as_dict_is_what_the_run_file_lists():
    r = record("passed", duration_s=1.23456, correction=True, nodeid="t.py::test_c")
    assert r.as_dict() == {"nodeid": "t.py::test_c", "outcome": "passed", "duration_s": 1.235,
                           "message": "", "role": "correction"}
    assert record("failed").as_dict()["role"] == "claim"


# --- one claim --------------------------------------------------------------------------------
def test_an_error_outranks_a_refutation_which_outranks_a_pass():
    assert aggregate([record("passed"), record("failed", "F"), record("error", "E")]) == (
        "error", "E")
    assert aggregate([record("passed"), record("failed", "F1"), record("failed", "F2")]) == (
        "refuted", "F1")


def test_all_skipped_is_not_applicable_with_the_first_reason():
    assert aggregate([record("skipped", "numpy"), record("skipped", "other")]) == (
        "not-applicable", "numpy")


def test_a_partial_skip_still_holds():
    assert aggregate([record("skipped", "numpy"), record("passed")]) == (
        "holds", "1 test(s) passed")


def test_holds_shows_measured_evidence_or_the_count():
    measured = [record("passed", evidence=["18,496 parameters"]),
                record("passed", evidence=["3 ms"])]
    assert aggregate(measured) == ("holds", "18,496 parameters; 3 ms")
    assert aggregate([record("passed"), record("passed")]) == ("holds", "2 test(s) passed")


def test_the_correction_tests_never_decide_the_verdict():
    assert aggregate([record("passed"), record("failed", "F", correction=True)]) == (
        "holds", "1 test(s) passed")


def test_correction_note_says_whether_the_correction_was_verified():
    assert correction_note([record("failed")]) == ""
    assert correction_note([record("passed", correction=True)]) == "correction verified"
    assert correction_note([record("skipped", correction=True)]) == (
        "correction not checked here")
    assert correction_note([record("passed", correction=True),
                            record("error", "E", correction=True)]) == (
        "correction NOT verified: E")


def test_drift_is_a_verdict_other_than_the_recorded_one_except_error():
    assert is_drift("holds", "refuted")
    assert not is_drift("refuted", "refuted")
    assert not is_drift("error", "holds")
    assert not is_drift("holds", None)


def test_every_verdict_the_rules_give_is_in_the_vocabulary():
    cases = [[record("error")], [record("failed")], [record("skipped")], [record("passed")]]
    assert {aggregate(c)[0] for c in cases} | {"untestable"} == set(VERDICTS)


def test_a_claim_entry_has_the_run_files_fields_in_order():
    entry = claim_entry(claim(correction="Fix.", expected=["refuted"]), [
        record("failed", "AssertionError: x"), record("passed", correction=True)], ENV)
    assert list(entry) == ["id", "questions", "section", "statement", "quote", "verdict",
                           "expected", "drift", "evidence", "correction", "tests"]
    assert (entry["verdict"], entry["drift"], entry["questions"]) == ("refuted", False, [19])
    assert entry["evidence"] == "AssertionError: x [correction verified]"
    assert [t["role"] for t in entry["tests"]] == ["claim", "correction"]


def test_a_recorded_correction_that_stops_holding_is_drift():
    entry = claim_entry(claim(correction="Fix.", expected=["refuted"]), [
        record("failed", "AssertionError: x"),
        record("failed", "AssertionError: the rule changed", correction=True)], ENV)
    assert (entry["verdict"], entry["drift"]) == ("refuted", True)
    assert entry["correction_drift"] == "AssertionError: the rule changed"


def test_a_correction_that_cannot_run_here_is_no_drift():
    entry = claim_entry(claim(correction="Fix.", expected=["refuted"]), [
        record("failed", "AssertionError: x"),
        record("error", "setup: ImportError: no graphviz", correction=True)], ENV)
    assert (entry["drift"], "correction_drift" in entry) == (False, False)
    assert entry["evidence"].endswith("[correction NOT verified: setup: ImportError: no graphviz]")


def test_only_a_refutation_carries_the_correction_note():
    entry = claim_entry(claim(expected=["holds"]),
                        [record("passed"), record("failed", "F", correction=True)], ENV)
    assert entry["evidence"] == "1 test(s) passed"


def test_an_untestable_claim_gets_its_reason_as_evidence():
    entry = claim_entry(claim(untestable="needs R"), [], ENV)
    assert (entry["verdict"], entry["evidence"], entry["drift"]) == (
        "untestable", "needs R", False)


def test_a_claim_whose_own_tests_did_not_run_has_no_entry():
    assert claim_entry(claim(), [], ENV) is None
    assert claim_entry(claim(), [record("passed", correction=True)], ENV) is None


def test_measurements_of_the_claim_and_table_cells_of_its_correction_join_the_entry():
    rows = [record("passed", measurements=[{"model": "VGG16"}]),
            record("passed", correction=True,
                   measurements=[{"table": "T", "row": "r"}, {"model": "not mine"}])]
    assert claim_entry(claim(), rows, ENV)["measurements"] == [
        {"model": "VGG16"}, {"table": "T", "row": "r"}]
    assert "measurements" not in claim_entry(claim(), [record("passed")], ENV)


# --- the run ----------------------------------------------------------------------------------
def test_verdicts_follow_the_catalog_order_and_skip_what_did_not_run():
    claims = [claim("q19-b"), claim("q19-a", expected=["refuted"]),
              claim("q24-u", untestable="needs R"), claim("q19-c")]
    records = [record("passed", claim_id="q19-a"), record("failed", "F", claim_id="q19-b"),
               record(None, claim_id="q19-c")]
    out = verdicts(claims, records, ENV)
    assert [(e["id"], e["verdict"], e["expected"], e["drift"]) for e in out] == [
        ("q19-b", "refuted", None, False),
        ("q19-a", "holds", "refuted", True),
        ("q24-u", "untestable", "untestable", False),
    ]


def test_a_run_where_no_claim_test_ran_has_no_verdicts():
    claims = [claim("q24-u", untestable="needs R"), claim("q19-a")]
    assert verdicts(claims, [record(None)], None) == []
    assert verdicts(claims, [], None) == []


# --- claims not checked here --------------------------------------------------------------------
def test_unchecked_groups_the_errors_by_reason_and_drops_the_missing_tool_prefix():
    results = [
        {"id": "q9-a", "verdict": "error",
         "evidence": "setup: MissingTool: needs dot, which is not installed here: apt-get x"},
        {"id": "q9-b", "verdict": "holds", "evidence": "1 test(s) passed"},
        {"id": "q23-c", "verdict": "error",
         "evidence": "setup: MissingTool: needs dot, which is not installed here: apt-get x"},
        {"id": "q1-d", "verdict": "error", "evidence": "call: OSError: disk full"},
    ]
    assert unchecked(results) == [
        "2 claims not checked here (q9-a, q23-c): needs dot, which is not installed here: "
        "apt-get x",
        "1 claim not checked here (q1-d): call: OSError: disk full",
    ]


def test_only_missing_tools_needs_every_failure_to_be_a_missing_tools_error():
    missing = record("error", "setup: MissingTool: x", missing_tool=True)
    other = record("error", "setup: OSError: y", claim_id="q19-b")
    assert only_missing_tools([missing, record("passed")], failures=1)
    assert not only_missing_tools([missing, other], failures=2)
    assert not only_missing_tools([record("passed")], failures=0)


# --- machine facts and switch settings ----------------------------------------------------------
ONEDNN_RULES = [Rule("refuted", facts=(("onednn", "on"),)), Rule("holds")]
OFF = {"TF_ENABLE_ONEDNN_OPTS": "0", "onednn": "off"}
ON = {"TF_ENABLE_ONEDNN_OPTS": "1", "onednn": "on"}


def test_a_rule_naming_a_machine_fact_decides_only_where_the_run_recorded_that_fact():
    c = claim(expected=ONEDNN_RULES)
    entry = claim_entry(c, [record("failed", "AssertionError: garbage")], ENV)
    assert (entry["expected"], entry["drift"], entry["decided_by"]) == (
        "refuted", False, "onednn=on")
    off = Environment("keras", "3.1.0", "tensorflow", "3.11.7", {"onednn": "off"})
    entry = claim_entry(c, [record("failed", "AssertionError: garbage")], off)
    assert (entry["expected"], entry["drift"], "decided_by" in entry) == ("holds", True, False)


def test_each_setting_gets_its_own_verdict_and_recorded_verdict():
    records = [record("passed", nodeid="t.py::a[off]", setting=OFF),
               record("failed", "AssertionError: garbage", nodeid="t.py::a[on]", setting=ON)]
    entry = claim_entry(claim(expected=ONEDNN_RULES, correction="Fix."), records, ENV)
    assert [(s["setting"]["onednn"], s["verdict"], s["expected"], s["drift"])
            for s in entry["settings"]] == [("off", "holds", "holds", False),
                                            ("on", "refuted", "refuted", False)]
    assert (entry["verdict"], entry["expected"], entry["drift"]) == ("refuted", "refuted", False)
    assert entry["evidence"].startswith(
        "[TF_ENABLE_ONEDNN_OPTS=0, onednn=off] holds: 1 test(s) passed; "
        "[TF_ENABLE_ONEDNN_OPTS=1, onednn=on] refuted: AssertionError: garbage")


def test_a_setting_whose_verdict_moves_is_drift_even_where_the_claims_does_not():
    records = [record("failed", "AssertionError: x", nodeid="t.py::a[off]", setting=OFF),
               record("failed", "AssertionError: y", nodeid="t.py::a[on]", setting=ON)]
    entry = claim_entry(claim(expected=ONEDNN_RULES, correction="Fix."), records, ENV)
    assert entry["verdict"] == entry["expected"] == "refuted"
    assert entry["drift"] is True
    assert [s["drift"] for s in entry["settings"]] == [True, False]
