"""The GitHub workflow: valid against GitHub's schema, clean under zizmor, and its job matrix
taken from nox's own session list."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claims.ci import job_matrix
from claims.cli import main
from claims.vocabulary import DEFAULT_ENV

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "audit.yml"


def tool(name: str) -> str:
    """A command-line tool installed beside this Python (the selftest extra installs them)."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install keras-claims[selftest]")
    return found


def test_workflow_matches_githubs_workflow_schema():
    subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                    str(WORKFLOW)], check=True, capture_output=True)


def test_workflow_has_no_zizmor_findings():
    done = subprocess.run([tool("zizmor"), "--offline", str(WORKFLOW)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def nox_sessions() -> str:
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-l",
                           "--json"], capture_output=True, text=True, check=True).stdout


def environments() -> dict:
    """noxfile.ENVIRONMENTS, the one list of the matrix's environments."""
    sys.path.insert(0, str(ROOT))
    try:
        import noxfile
    finally:
        sys.path.remove(str(ROOT))
    return noxfile.ENVIRONMENTS


def test_the_job_matrix_has_one_job_per_audit_environment():
    jobs = job_matrix(nox_sessions())["include"]
    assert [j["env"] for j in jobs] == list(environments())
    assert all(j["session"] == f"audit({j['env']})" for j in jobs)


def test_ci_matrix_command_prints_a_github_output_line(monkeypatch, capsys):
    sessions = [{"session": "audit(keras-3.1.0-jax)", "name": "audit", "tags": ["audit"],
                 "call_spec": {"env_id": "keras-3.1.0-jax"}},
                {"session": "report", "name": "report", "tags": [], "call_spec": {}}]
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(json.dumps(sessions)))
    assert main(["ci-matrix"]) == 0
    assert capsys.readouterr().out == (
        'matrix={"include":[{"session":"audit(keras-3.1.0-jax)","env":"keras-3.1.0-jax"}]}\n')


@pytest.mark.parametrize("text, message", [("not json", "gave no JSON"), ("[]", "no nox session")])
def test_ci_matrix_refuses_bad_input(monkeypatch, capsys, text, message):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(text))
    assert main(["ci-matrix"]) == 2
    assert message in capsys.readouterr().err


def test_the_readme_table_and_the_default_name_the_environments_of_the_one_list():
    """README.md's table of environments (`keras-3.0.5-{tensorflow,jax}` names two) and the
    default environment are the environments of noxfile.ENVIRONMENTS, no more, no fewer."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| environment | installs |", 1)[1].split("\n\n", 1)[0]
    named = set()
    for cell in re.findall(r"^\| (.+?) \|", table, flags=re.M)[1:]:
        for name in re.findall(r"`([^`]+)`", cell):
            stem, _, variants = name.partition("{")
            named |= {stem + v for v in variants.rstrip("}").split(",")} if variants else {name}
    assert named == set(environments())
    assert DEFAULT_ENV in environments()
