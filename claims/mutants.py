"""Runs the deliberate faults of claims/faults against the audit and scores them.

`CLAIMS_MUTANT=<name>` makes `claims.target.load_keras()` apply one fault (`apply`); the
`mutants` session runs each fault on the tests of the claims it targets (`run`) and counts the
claims that noticed it (`score`, `proof`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from claims import runfile
from claims.faults import FAULTS, Fault


def apply(name: str, keras) -> None:
    if name not in FAULTS:
        raise ValueError(f"CLAIMS_MUTANT={name!r} is not a fault: {sorted(FAULTS)}")
    FAULTS[name].inject(keras)


ROOT = Path(__file__).resolve().parent.parent


def run(folder: Path, workers: int = 2) -> list[str]:
    """Each fault in a pytest of its own that runs only the tests of the claims it targets,
    `workers` faults at a time: `<folder>/<fault>/<env>.json`. Returns a line per fault with
    its time; a run that is neither passed nor failed (no test, an internal error) raises."""
    def one(f: Fault) -> str:
        started = time.perf_counter()
        chosen = [a for claim in f.claims for a in ("--claim", claim)]
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
             "--claims-reports", str(folder / f.name), *chosen],
            cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "CLAIMS_MUTANT": f.name, "HYPOTHESIS_PROFILE": "mutants"})
        # a caught fault fails its run: that is the point, so 1 is as good as 0 here
        if proc.returncode not in (0, 1):
            tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
            raise RuntimeError(f"{f.name}: pytest exited {proc.returncode}: {tail}")
        return f"{f.name}: {time.perf_counter() - started:.0f} s"

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, FAULTS.values()))


def caught_by(run: dict) -> list[str]:
    """The claims whose audit noticed the fault: drift, an error, or a correction that broke.
    An error is marked as such: it may be the fault's own patch failing, not Keras changing."""
    return [c["id"] + (" (error)" if c["verdict"] == "error" and not c["drift"] else "")
            for c in run["claims"]
            if c["drift"] or c["verdict"] == "error" or "correction NOT verified" in c["evidence"]]


def proof(rows: list[tuple[Fault, list[str]]]) -> dict:
    """proof.json, which the report reads: per fault, what it broke and the claims whose audit
    it changed."""
    return {"faults": [{"name": f.name, "section": f.section, "description": f.description,
                        "caught": caught} for f, caught in rows]}


def score(folder: Path) -> tuple[list[tuple[Fault, list[str]]], int]:
    """Per fault, the claims that caught it, from `<folder>/<fault>/<env>.json`."""
    rows = []
    for fault_ in FAULTS.values():
        runs = runfile.read_runs(Path(folder) / fault_.name)
        caught = sorted({cid for run in runs for cid in caught_by(run)})
        rows.append((fault_, caught))
    return rows, sum(1 for _, caught in rows if caught)


# A broken Keras should be audited about as fast as a working one: at most this times as long.
SPEED_BUDGET = 1.5


def speed_lines(measured: dict) -> tuple[list[str], bool]:
    """The `faultspeed` session's times as lines (seconds, ratio to the clean audit) and
    whether every fault stayed within SPEED_BUDGET."""
    times = measured["audit_s"]
    clean = times["clean"]
    width = max(map(len, times))
    lines = [f"default audit on {measured['cores']} cores, import keras "
             f"{measured['import_keras_s']:.1f} s; ratio to the clean audit (budget "
             f"{SPEED_BUDGET}x):"]
    lines += [f"{name:<{width}}  {s:6.0f} s  {s / clean:4.2f}x"
              + ("  OVER BUDGET" if s / clean > SPEED_BUDGET else "")
              for name, s in times.items()]
    return lines, all(s / clean <= SPEED_BUDGET for s in times.values())
