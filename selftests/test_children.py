"""The one runner of the child programs (tests/children/), without Keras: arguments, variables,
the checkout on the path, the JSON report, and the Keras blocker of a serving process."""

from __future__ import annotations

import pytest

from tests import checks

ECHO = """
import json, os, sys
import claims
print("noise")
print(json.dumps({"argv": sys.argv[1:], "set": os.environ.get("CHILD_SET"),
                  "unset": os.environ.get("CHILD_UNSET"), "claims": claims.__file__}))
"""
IMPORTS_KERAS = "import keras\n"


@pytest.fixture
def children(tmp_path, monkeypatch):
    """Child programs written to a folder of their own, found by name as in tests/children/."""
    blocker = checks.CHILDREN / "_no_keras.py"
    (tmp_path / blocker.name).write_text(blocker.read_text())
    monkeypatch.setattr(checks, "CHILDREN", tmp_path)

    def write(name: str, text: str) -> str:
        (tmp_path / f"{name}.py").write_text(text)
        return name

    return write


def test_a_child_gets_its_arguments_variables_and_this_checkout(children, monkeypatch):
    monkeypatch.setenv("CHILD_UNSET", "inherited")
    proc = checks.run_child(children("echo", ECHO), "a", "b c", CHILD_SET="1", CHILD_UNSET=None)
    report = checks.child_report(proc)
    assert report["argv"] == ["a", "b c"]
    assert (report["set"], report["unset"]) == ("1", None)
    assert report["claims"].startswith(str(checks.ROOT))


def test_a_child_that_fails_is_an_error_with_its_last_words(children):
    proc = checks.run_child(children("boom", "raise SystemExit('the reason')"))
    with pytest.raises(RuntimeError, match="exited 1: the reason"):
        checks.child_report(proc)


def test_the_blocker_lets_a_child_find_keras_but_not_import_it(children, tmp_path):
    fake = tmp_path / "site" / "keras"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    name = children("imports", IMPORTS_KERAS)
    path = str(tmp_path / "site")
    assert checks.run_child(name, PYTHONPATH=path).returncode == 0  # positive control
    blocked = checks.run_child(name, block_keras=True, PYTHONPATH=path)
    assert blocked.returncode != 0
    assert "keras imported in a process that must run without Keras" in blocked.stderr
