"""The files one run writes in its reports folder: `<env-id>.json`, the verdicts of the
environment audited (run.schema.json), and `timing.json`, wall time, peak memory and slowest
tests of each environment's latest run. No pytest here: the plugin hands over plain data."""

from __future__ import annotations

import json
import platform
import resource
from collections.abc import Iterable
from pathlib import Path

from claims import target
from claims.catalog import Environment
from claims.reportio import write_atomic
from claims.verdicts import TestRecord
from claims.vocabulary import SCHEMA_VERSION

TIMING = "timing.json"
# `<env-id>.json`: every environment id has at least two dashes, timing.json and audit.json none
RUN_FILES = "*-*-*.json"


def run_path(folder: Path, env: Environment) -> Path:
    return Path(folder) / f"{env.id}.json"


def run_document(env: Environment, claims: list[dict],
                 packages: dict[str, str] | None = None) -> dict:
    """The run file's content; `packages` defaults to the reported packages installed here."""
    return {
        "schema": SCHEMA_VERSION,
        "environment": {
            "id": env.id,
            "keras": env.keras,
            "backend": env.backend,
            "python": platform.python_version(),
            "packages": target.installed_packages() if packages is None else packages,
            **({"machine": env.machine} if env.machine else {}),
        },
        "claims": claims,
    }


def run_paths(folder: Path) -> list[Path]:
    """The run files of a reports folder, by name."""
    return sorted(Path(folder).glob(RUN_FILES))


def read_runs(folder: Path) -> list[dict]:
    """The run files of a reports folder, each validated against run.schema.json."""
    from claims.inputs import load_run  # jsonschema: not needed where runs are only written

    return [load_run(path) for path in run_paths(folder)]


def write_run(folder: Path, env: Environment, claims: list[dict]) -> Path:
    """Write `<folder>/<env-id>.json` (UTF-8: quotes verbatim); returns its path."""
    path = run_path(folder, env)
    text = json.dumps(run_document(env, claims), indent=1, ensure_ascii=False)
    write_atomic(path, text + "\n")
    return path


def peak_rss_mb() -> int:
    """Peak resident memory in MiB; pytest-xdist workers are child processes, so the larger of
    theirs and ours."""
    return round(max(resource.getrusage(who).ru_maxrss
                     for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024)


def timing_entry(records: Iterable[TestRecord], wall_s: float, peak_mb: int) -> dict:
    """One environment's entry of timing.json."""
    records = list(records)
    slowest = sorted(records, key=lambda r: -r.duration_s)[:5]
    by_file: dict[str, float] = {}
    for r in records:
        name = r.nodeid.split("::")[0].rsplit("/", 1)[-1]
        by_file[name] = by_file.get(name, 0.0) + r.duration_s
    return {
        "wall_s": round(wall_s, 1),
        "tests": len(records),
        "peak_rss_mb": peak_mb,
        "slowest": [[r.nodeid, round(r.duration_s, 2)] for r in slowest],
        # test time per section file, summed over xdist workers
        "files_s": {name: round(s, 1) for name, s in sorted(by_file.items())},
    }


def file_times(folder: Path, env_id: str) -> dict[str, float]:
    """Test seconds per file of `env_id`'s latest run in `<folder>/timing.json`; {} where there
    is none. ValueError where the file is not what write_timing writes."""
    try:
        text = (Path(folder) / TIMING).read_text(encoding="utf-8")
    except OSError:
        return {}
    try:
        return dict(json.loads(text).get(env_id, {}).get("files_s", {}))
    except (AttributeError, TypeError) as exc:
        raise ValueError(f"{TIMING}: {exc}") from None


def write_timing(folder: Path, env_id: str, entry: dict) -> Path:
    """Set `env_id`'s entry of `<folder>/timing.json`, keeping the other environments'."""
    path = Path(folder) / TIMING
    try:
        timing = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        timing = {}
    timing[env_id] = entry
    write_atomic(path, json.dumps(timing, indent=1, sort_keys=True) + "\n")
    return path
