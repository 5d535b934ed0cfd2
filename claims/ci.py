"""The CI job matrix, taken from `nox -l --json` so the environments are never typed twice."""

from __future__ import annotations

import json


def job_matrix(nox_json: str, tag: str = "audit") -> dict:
    """One job per nox session carrying `tag`: {"include": [{"session", "env"}, ...]}."""
    try:
        sessions = json.loads(nox_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"nox -l --json gave no JSON: {exc}") from None
    include = [
        {"session": s["session"], "env": s["call_spec"].get("env_id", s["name"])}
        for s in sessions
        if tag in s.get("tags", [])
    ]
    if not include:
        raise ValueError(f"no nox session is tagged {tag!r}")
    return {"include": include}
