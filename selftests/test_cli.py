"""The command line: list, show, audit and selftest dispatch, and the bootstrap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claims import cli
from selftests.conftest import make_run

ROOT = Path(__file__).resolve().parent.parent


def test_list_json_prints_the_catalog_without_importing_keras(tmp_path):
    poisoned = tmp_path / "keras"
    poisoned.mkdir()
    (poisoned / "__init__.py").write_text("raise ImportError('Keras was imported')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-m", "claims", "list", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    ids = [c["id"] for c in json.loads(out)]
    assert "q25-flatten-3136" in ids and len(ids) == len(set(ids))


def test_list_prints_one_line_per_claim(capsys):
    assert cli.main(["list"]) == 0
    assert any(line.startswith("q25-flatten-3136 ") for line in capsys.readouterr().out.split("\n"))


def test_show_prints_quote_statement_correction_and_latest_verdicts(tmp_path, capsys):
    run = make_run("keras-3.15.1-jax", {"q25-flatten-required-before-dense": "refuted"})
    (tmp_path / "keras-3.15.1-jax.json").write_text(json.dumps(run))
    (tmp_path / "broken.json").write_text("{")
    assert cli.main(["show", "q25-flatten-required-before-dense", "--reports", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for part in ("quote:", "statement:", "correction: Dense accepts any rank",
                 "keras-3.15.1-jax: refuted"):
        assert part in out


def test_show_without_reports_says_how_to_get_them(tmp_path, capsys):
    assert cli.main(["show", "q25-flatten-3136", "--reports", str(tmp_path)]) == 0
    assert "no verdicts yet" in capsys.readouterr().out


def test_show_an_untestable_claim_prints_the_reason(tmp_path, capsys, monkeypatch, mini_catalog):
    monkeypatch.setattr("claims.catalog.CATALOG_DIR", mini_catalog)
    monkeypatch.setattr("claims.catalog.load.__defaults__", (mini_catalog,))
    assert cli.main(["show", "q24-untestable", "--reports", str(tmp_path)]) == 0
    assert "untestable: needs R" in capsys.readouterr().out


def test_show_an_unknown_claim_is_an_error(capsys):
    assert cli.main(["show", "q99-nothing"]) == 2
    assert "no claim 'q99-nothing'" in capsys.readouterr().err


def test_a_bad_catalog_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    (tmp_path / "H.toml").write_text("[[claim]]\nid = 1\n")
    monkeypatch.setattr("claims.catalog.load.__defaults__", (tmp_path,))
    assert cli.main(["list"]) == 2
    assert capsys.readouterr().err.startswith("claims: catalog: ")


@pytest.mark.parametrize("argv, sessions", [
    (["audit"], [["-s", "audit(keras-3.15.1-tensorflow)"], ["-s", "report"]]),
    (["audit", "--env", "keras-3.15.1-jax"],
     [["-s", "audit(keras-3.15.1-jax)"], ["-s", "report"]]),
    (["audit", "--all"], [["-t", "audit"], ["-s", "report"]]),
    (["audit", "--all", "--trust"], [["-t", "audit"], ["-s", "bench", "stability", "mutants",
                                                          "envfaults"],
                                     ["-s", "report"]]),
    (["selftest"], [["-s", "selftest"]]),
])
def test_audit_and_selftest_run_nox_sessions(monkeypatch, argv, sessions):
    calls = []
    monkeypatch.setattr(cli, "_ensure_dependencies", lambda argv: None)
    monkeypatch.setattr(cli, "_nox", lambda *args: calls.append(list(args)) or 0)
    assert cli.main(argv) == 0
    assert calls == sessions


def test_audit_of_one_claim_reports_it_apart_from_the_whole_audit(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    monkeypatch.setattr(cli, "_ensure_dependencies", lambda argv: None)

    def nox(*args):
        calls.append(list(args))
        out = Path(args[args.index("--claims-reports") + 1])
        out.mkdir(parents=True)
        (out / "keras-3.15.1-tensorflow.json").write_text(json.dumps(
            make_run("keras-3.15.1-tensorflow", {"q19-a": "holds"})))
        return 0

    monkeypatch.setattr(cli, "_nox", nox)
    assert cli.main(["audit", "--claim", "q19-a"]) == 0
    out = tmp_path / "reports" / "claims"
    assert calls == [["-s", f"audit({cli.DEFAULT_ENV})", "--", "tests", "--claim", "q19-a",
                      "--claims-reports", str(out)]]
    assert "q19-a" in (out / "audit.md").read_text()


def test_a_failed_audit_still_writes_the_report_and_fails(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "_ensure_dependencies", lambda argv: None)
    monkeypatch.setattr(cli, "_nox", lambda *args: calls.append(args) or (1 if len(calls) == 1
                                                                            else 0))
    assert cli.main(["audit"]) == 1
    assert calls[-1] == ("-s", "report")


def test_missing_dependencies_rerun_inside_the_bootstrap_venv(monkeypatch, tmp_path):
    execs = []
    monkeypatch.setattr(cli, "BOOTSTRAP", tmp_path / "boot")
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(cli.venv, "create", lambda path, with_pip: execs.append(("venv", path)))
    monkeypatch.setattr(cli.subprocess, "run", lambda cmd, check: execs.append(("pip", cmd[3:])))
    monkeypatch.setattr(cli.os, "execv", lambda exe, args: execs.append(("exec", args[1:])))
    cli._ensure_dependencies(["audit"])
    assert execs[0] == ("venv", tmp_path / "boot")
    assert execs[1][1][:3] == ["install", "-q", "nox>=2024.4"]
    assert execs[2] == ("exec", ["-m", "claims", "audit"])


def test_a_bootstrap_venv_of_an_older_pyproject_is_brought_up_to_date(monkeypatch, tmp_path):
    calls = []
    (tmp_path / "boot" / "bin").mkdir(parents=True)
    (tmp_path / "boot" / "bin" / "python").touch()
    (tmp_path / "boot" / ".claims-pyproject").write_text("an older pyproject")
    monkeypatch.setattr(cli, "BOOTSTRAP", tmp_path / "boot")
    monkeypatch.setattr(cli.venv, "create", lambda *a, **k: pytest.fail("venv remade"))
    monkeypatch.setattr(cli.subprocess, "run", lambda cmd, check: calls.append(cmd[3:]))
    cli._bootstrap_python()
    cli._bootstrap_python()  # up to date now: nothing more installed
    assert [c[:2] for c in calls] == [["install", "-q"]]


def test_present_dependencies_need_no_bootstrap(monkeypatch):
    monkeypatch.setattr(cli.os, "execv", lambda *a: pytest.fail("re-exec"))
    cli._ensure_dependencies(["list"])


def test_a_broken_bootstrap_venv_says_how_to_fix_it(monkeypatch):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(cli, "BOOTSTRAP", Path(sys.prefix))
    with pytest.raises(SystemExit, match="delete it and run again"):
        cli._ensure_dependencies(["audit"])


def test_nox_runs_the_projects_noxfile(monkeypatch):
    seen = []
    monkeypatch.setattr(cli.subprocess, "run", lambda cmd, cwd: seen.append((cmd, cwd)) or
                        subprocess.CompletedProcess(cmd, 3))
    assert cli._nox("-l") == 3
    assert seen[0][0][1:] == ["-m", "nox", "-f", str(ROOT / "noxfile.py"), "-l"]


def test_a_closed_pipe_ends_the_listing_quietly():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "claims", "list"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and "Traceback" not in err
