"""The stability check: the same verdicts across runs with different Hypothesis seeds."""

from __future__ import annotations

import json

from claims.cli import main
from claims.stability import compare
from selftests.conftest import make_run


def write(folder, run):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run['environment']['id']}.json").write_text(json.dumps(run))
    return folder


def test_equal_verdicts_are_stable(tmp_path):
    run = make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted", "q25-b": "holds"})
    dirs = [write(tmp_path / f"seed-{s}", run) for s in (1, 2, 3)]
    result = compare(dirs)
    assert (result["stable"], result["runs"], result["claims"]) == (True, 3, 2)


def test_a_differing_verdict_is_named(tmp_path):
    one = write(tmp_path / "a", make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted"}))
    two = write(tmp_path / "b", make_run("keras-3.15.1-tensorflow", {"q19-a": "holds"}))
    result = compare([one, two])
    assert result["stable"] is False
    assert result["differences"] == [{"environment": "keras-3.15.1-tensorflow", "claim": "q19-a",
                                      "verdicts": {str(one): "refuted", str(two): "holds"}}]


def test_compare_command_writes_stability_json_and_fails_on_difference(tmp_path, capsys):
    one = write(tmp_path / "a", make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted"}))
    two = write(tmp_path / "b", make_run("keras-3.15.1-tensorflow", {"q19-a": "holds"}))
    same = write(tmp_path / "c", make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted"}))
    out = tmp_path / "stability.json"
    assert main(["compare", str(one), str(same), "--out", str(out), "--seeds", "1", "2"]) == 0
    assert json.loads(out.read_text())["seeds"] == [1, 2]
    assert main(["compare", str(one), str(two), "--out", str(out)]) == 1
    assert "DIFFERS keras-3.15.1-tensorflow q19-a" in capsys.readouterr().out


def test_a_difference_is_named_with_what_its_runs_varied(tmp_path, capsys):
    one = write(tmp_path / "a", make_run("keras-3.15.1-tensorflow", {"q18-a": "holds"}))
    two = write(tmp_path / "b", make_run("keras-3.15.1-tensorflow", {"q18-a": "refuted"}))
    out = tmp_path / "stability.json"
    assert main(["compare", str(one), str(two), "--out", str(out), "--settings",
                 "math threads all", "math threads 1"]) == 1
    assert "{'math threads all': 'holds', 'math threads 1': 'refuted'}" in (
        capsys.readouterr().out)
    assert json.loads(out.read_text())["settings"] == {str(one): "math threads all",
                                                       str(two): "math threads 1"}


def test_no_runs_at_all_is_not_stable(tmp_path):
    assert compare([tmp_path])["stable"] is False


def test_a_corrupt_run_is_an_error(tmp_path, capsys):
    (tmp_path / "keras-3.1.0-jax.json").write_text("{")
    assert main(["compare", str(tmp_path), "--out", str(tmp_path / "s.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_compare_runs_without_jinja2_as_in_an_audit_venv(tmp_path):
    """The stability session runs `claims compare` in an audit venv, which has no jinja2."""
    import subprocess
    import sys

    run = make_run("keras-3.15.1-tensorflow", {"q19-a": "holds"})
    dirs = [str(write(tmp_path / f"seed-{s}", run)) for s in (1, 2)]
    code = ("import sys; sys.modules['jinja2'] = None; from claims.cli import main; "
            f"sys.exit(main(['compare', *{dirs!r}, '--out', {str(tmp_path / 'st.json')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "st.json").read_text())["stable"] is True
