"""Whether repeated audit runs (different Hypothesis seeds) gave the same verdicts."""

from __future__ import annotations

from pathlib import Path

from claims import runfile


def compare(dirs: list[Path]) -> dict:
    """Verdicts per (environment, claim) in each folder's per-run files, and where they differ."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for folder in dirs:
        for run in runfile.read_runs(folder):
            for claim in run["claims"]:
                key = (run["environment"]["id"], claim["id"])
                seen.setdefault(key, {})[str(folder)] = claim["verdict"]
    differences = [
        {"environment": env, "claim": cid, "verdicts": by_run}
        for (env, cid), by_run in sorted(seen.items())
        if len(set(by_run.values())) > 1 or len(by_run) != len(dirs)
    ]
    environments = sorted({env for env, _ in seen})
    return {
        "runs": len(dirs),
        "environment": ", ".join(environments),
        "claims": len({cid for _, cid in seen}),
        "stable": bool(seen) and not differences,
        "differences": differences,
    }
