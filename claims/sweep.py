"""Every Keras release against the recorded verdicts, not only the matrix's environments.

The catalog's rules are ranges of versions (`keras = ">=3.15"`), written from the matrix; the
sweep audits each release on the TensorFlow backend (Keras 3.0.0 to the newest, patch releases
included, each with the newest tensorflow-cpu whose requirements accept it, as a user's resolver
picks; and the Keras 2 releases of TensorFlow 2.12 on, the first on Python 3.11) so that a rule
untrue of some release shows as drift there. The `sweep` nox session drives it; this module
holds what can be decided without installing anything. Standard library and packaging only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from claims import runfile
from claims.catalog import Environment
from claims.verdicts import settle

FIRST = Version("2.12")  # TensorFlow 2.12 has the first wheels for Python 3.11


def sweep_releases(available: Iterable[Version]) -> list[Version]:
    """The releases the sweep audits, oldest first."""
    return sorted(v for v in available if v >= FIRST)


def env_id(version: Version) -> str:
    return f"keras-{version}-tensorflow"


def pins(version: Version) -> list[str]:
    """What to install beside the audit's tools. Keras 2 ships with TensorFlow of its minor
    version (scipy for ImageDataGenerator's transforms, as the matrix's Keras 2); for Keras 3 the
    resolver picks the newest tensorflow-cpu whose `keras>=` requirement the release meets."""
    if version.major < 3:
        return [f"tensorflow-cpu=={version.major}.{version.minor}.*", f"keras=={version}", "scipy"]
    return [f"keras=={version}", "tensorflow-cpu"]


def rejudge(run: dict, claims: dict) -> dict:
    """A kept run file judged against the catalog as it is now (`claims`: id -> Claim): the
    verdicts are what ran; the recorded ones, and so the drift, follow corrected rules without
    re-running the release. A failed correction stays drift."""
    env = Environment.of_run(run["environment"])
    for entry in run["claims"]:
        claim = claims.get(entry["id"])
        if claim is not None:
            settle(entry, claim, env)
    return run


def summary(run: dict) -> dict:
    """A run file's verdict counts and drift, as the progress line and the final table show."""
    counts: dict[str, int] = {}
    for claim in run["claims"]:
        counts[claim["verdict"]] = counts.get(claim["verdict"], 0) + 1
    drift = sorted(c["id"] for c in run["claims"] if c.get("drift"))
    return {"counts": counts, "drift": drift}


def describe(run: dict) -> str:
    s = summary(run)
    counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(s["counts"].items()))
    return counts + (f"; DRIFT: {', '.join(s['drift'])}" if s["drift"] else "; no drift")


def clock(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}:{seconds:02d}"


@dataclass
class Progress:
    """'release n of N, elapsed, estimate' for a sweep running `jobs` releases at a time; the
    estimate is the mean time of the releases audited in this run (resumed ones take none)."""

    total: int
    jobs: int = 1
    started: float = field(default_factory=time.monotonic)
    durations: list[float] = field(default_factory=list)
    done: int = 0

    def line(self, env: str, outcome: str, seconds: float | None = None) -> str:
        self.done += 1
        if seconds is not None:
            self.durations.append(seconds)
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        estimate = ""
        if self.durations and left:
            mean = sum(self.durations) / len(self.durations)
            estimate = f", about {clock(mean * left / self.jobs)} left"
        took = f" in {clock(seconds)}" if seconds is not None else " (resumed)"
        return (f"[{self.done}/{self.total}] {env}{took}: {outcome} "
                f"(elapsed {clock(elapsed)}{estimate})")


def release_matrix(available: Iterable[Version]) -> dict:
    """The workflow's job matrix: one job per release (`nox -s sweep -- --release V`)."""
    return {"release": [str(v) for v in sweep_releases(available)]}


def load(directory: Path) -> list[dict]:
    """The sweep's run files, oldest release first."""
    return sorted(runfile.read_runs(directory), key=lambda r: Version(r["environment"]["keras"]))
