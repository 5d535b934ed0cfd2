"""Fixtures for the engine's self-tests: fake catalogs, fake environments, fake runs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

MINI_CATALOG = {
    "H.toml": """
        [[claim]]
        id = "q19-holds"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim that holds."
        expected = [{ verdict = "holds" }]

        [[claim]]
        id = "q19-refuted"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim refuted from Keras 3."
        correction = "What is true instead."
        correction_vi = "Điều đúng là."
        expected = [{ verdict = "refuted", keras = ">=3" }, { verdict = "holds" }]

        [[claim]]
        id = "q19-na"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim not applicable on numpy."
        expected = [{ verdict = "not-applicable", backend = "numpy" }, { verdict = "holds" }]

        [[claim]]
        id = "q19-open"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim with no recorded verdict."
    """,
    "K.toml": """
        [[claim]]
        id = "q24-untestable"
        questions = [24]
        section = "K"
        quote = "q"
        statement = "A claim no code here can check."
        untestable = "needs R"
    """,
}


def write_catalog(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture
def mini_catalog(tmp_path) -> Path:
    return write_catalog(tmp_path / "catalog", MINI_CATALOG)


@pytest.fixture
def audit(pytester, mini_catalog, monkeypatch):
    """Run a claim test file under the plugin in a fake environment; returns (result, json)."""

    def run(source: str, env_id: str = "keras-3.1.0-tensorflow", *args: str):
        monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
        monkeypatch.setenv("CLAIMS_ENV_ID", env_id)
        monkeypatch.delenv("CLAIMS_REPORTS", raising=False)
        pytester.makepyfile(test_claims=textwrap.dedent(source))
        reports = pytester.path / "reports"
        result = pytester.runpytest_inprocess(
            "-p", "claims.plugin", "--claims-reports", str(reports), "-p", "no:cacheprovider",
            *args,
        )
        path = reports / f"{env_id}.json"
        data = json.loads(path.read_text()) if path.exists() else None
        return result, data

    return run


def verdicts(data: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in data["claims"]}


def make_run(env_id: str, verdicts: dict[str, str], drift=()) -> dict:
    """A per-run JSON document as the plugin writes it."""
    package, keras, backend = env_id.rsplit("-", 2)
    return {
        "schema": 1,
        "environment": {"id": env_id, "keras": keras, "backend": backend, "python": "3.11.7",
                        "packages": {}},
        "claims": [
            {"id": cid, "questions": [int(cid[1:].split("-")[0])], "section": "H",
             "statement": f"{cid}.", "quote": "q",
             "verdict": v, "expected": v, "drift": cid in drift,
             "evidence": f"evidence of {cid} in {env_id}", "correction": "fix",
             "tests": []}
            for cid, v in verdicts.items()
        ],
    }


@pytest.fixture
def run_files(tmp_path):
    """Write per-run documents to files; returns their paths."""

    def write(*runs: dict) -> list[Path]:
        paths = []
        for run in runs:
            path = tmp_path / "in" / f"{run['environment']['id']}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(run))
            paths.append(path)
        return paths

    return write
