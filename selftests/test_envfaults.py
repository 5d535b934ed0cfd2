"""Judging the broken-environment runs: errors and not-applicable are right, refuted is wrong."""

from __future__ import annotations

import json

from claims.cli import main
from claims.envfaults import FAULTS, judge
from selftests.conftest import make_run


def run_with(verdicts, expected=None):
    run = make_run("keras-3.15.1-tensorflow", verdicts)
    for claim in run["claims"]:
        claim["expected"] = (expected or {}).get(claim["id"], "holds")
    return run


def test_errors_are_affected_and_recorded_refutations_are_fine():
    run = run_with({"q23-a": "error", "q25-b": "refuted", "q25-c": "holds"},
                   {"q25-b": "refuted"})
    assert judge(run) == (["q23-a"], [])


def test_a_new_refutation_under_a_broken_environment_is_wrong():
    assert judge(run_with({"q23-a": "refuted"})) == ([], ["q23-a"])


def write_runs(folder, verdicts_for):
    for fault in FAULTS:
        (folder / fault.name).mkdir(parents=True)
        (folder / fault.name / "keras-3.15.1-tensorflow.json").write_text(
            json.dumps(run_with(verdicts_for(fault.name))))


def test_envfaults_command_passes_when_every_fault_stayed_out_of_verdicts(tmp_path, capsys):
    write_runs(tmp_path, lambda name: {"q23-a": "error"})
    assert main(["envfaults", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("ok   ") == len(FAULTS)


def test_envfaults_command_fails_on_a_refutation_or_on_no_effect(tmp_path, capsys):
    write_runs(tmp_path, lambda name: {"q23-a": "refuted"} if name == "no-graphviz"
               else {"q25-b": "holds"})
    assert main(["envfaults", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL no-graphviz" in out and "wrongly refuted: q23-a" in out
    assert "FAIL backend-missing" in out


def test_envfaults_list_gives_each_faults_environment_and_arguments(capsys):
    assert main(["envfaults", "--list"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["name"] == "no-graphviz" and first["env"] == {"PATH": "{venv}"}
