"""Broken environments are never verdicts: the audit run with Graphviz hidden, with the backend
package missing, and with no writable temporary folder must give `error` or `not-applicable`
for the claims that need them, and refute nothing that the catalog does not record as refuted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from claims import runfile


@dataclass(frozen=True)
class EnvFault:
    name: str
    description: str
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()


FAULTS = (
    # {venv} is the audit venv's bin folder: PATH holds nothing else, so no `dot`
    EnvFault("no-graphviz", "Graphviz's dot is not on PATH", {"PATH": "{venv}"},
             ("tests/test_d_debugging.py", "tests/test_k_others.py", "-k", "plot or dot")),
    EnvFault("backend-missing", "KERAS_BACKEND names a backend whose package is not installed",
             {"KERAS_BACKEND": "jax"}, ("tests/test_k_others.py",)),
    EnvFault("no-writable-temp", "the temporary folder cannot be created",
             {}, ("tests/test_a_saving.py", "-k", "json or weights",
                  "--basetemp", "/proc/keras-claims")),
)


def judge(run: dict) -> tuple[list[str], list[str]]:
    """(claims the fault made error or not-applicable, claims it wrongly refuted)."""
    affected = [c["id"] for c in run["claims"] if c["verdict"] in ("error", "not-applicable")]
    wrong = [c["id"] for c in run["claims"]
             if c["verdict"] == "refuted" and c["expected"] != "refuted"]
    return affected, wrong


def check(folder: Path) -> list[str]:
    """One line per fault; a line starting with FAIL where the fault read as a verdict."""
    lines = []
    for fault in FAULTS:
        runs = runfile.read_runs(folder / fault.name)
        affected = sorted({a for run in runs for a in judge(run)[0]})
        wrong = sorted({w for run in runs for w in judge(run)[1]})
        ok = bool(affected) and not wrong
        lines.append(f"{'ok  ' if ok else 'FAIL'} {fault.name}: {fault.description}; "
                     f"error or not-applicable: {', '.join(affected) or 'none'}"
                     + (f"; wrongly refuted: {', '.join(wrong)}" if wrong else ""))
    return lines
