"""Find the exact Keras release where a claim's verdict changed.

Between two neighbouring environments of the matrix whose verdicts differ, the Keras releases in
between are installed one at a time (binary search) and only that claim's tests run. The first
release with the newer verdict is written to the catalog as the claim's `boundary`.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from claims.catalog import CATALOG_DIR, Environment

SIMPLE_API = "https://pypi.org/simple/{name}/"
COMPARABLE = ("holds", "refuted")


@dataclass(frozen=True)
class Gap:
    """Two neighbouring environments (same package and backend) with different verdicts."""

    claim: str
    lower: Environment
    upper: Environment
    lower_verdict: str
    upper_verdict: str


def verdicts_by_env(runs: list[dict], claim_id: str) -> dict[str, str]:
    found = {}
    for run in runs:
        for c in run["claims"]:
            if c["id"] == claim_id and c["verdict"] in COMPARABLE:
                found[run["environment"]["id"]] = c["verdict"]
    return found


def gaps(runs: list[dict], claim_id: str) -> list[Gap]:
    """Neighbouring environments, per backend, where the claim's verdict changes."""
    verdicts = verdicts_by_env(runs, claim_id)
    series: dict[str, list[Environment]] = {}
    for env_id in verdicts:
        env = Environment.parse(env_id)
        if env.package == "keras":
            series.setdefault(env.backend, []).append(env)
    out = []
    for envs in series.values():
        envs.sort(key=lambda e: Version(e.keras))
        for low, high in zip(envs, envs[1:], strict=False):
            if verdicts[low.id] != verdicts[high.id]:
                out.append(Gap(claim_id, low, high, verdicts[low.id], verdicts[high.id]))
    return out


def changing_claims(runs: list[dict]) -> list[str]:
    ids = sorted({c["id"] for run in runs for c in run["claims"]})
    return [cid for cid in ids if gaps(runs, cid)]


def releases(name: str = "keras", fetch: Callable[[str], bytes] | None = None) -> list[Version]:
    """Final releases of a package, from the registry's simple API (PEP 691 JSON)."""
    url = SIMPLE_API.format(name=name)
    if fetch is None:
        def fetch(url):
            request = urllib.request.Request(
                url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.read()
    files = json.loads(fetch(url))["files"]
    found = set()
    for f in files:
        match = re.match(rf"{name}-([^-]+?)(?:-py|\.tar\.gz)", f["filename"])
        if match:
            try:
                version = Version(match.group(1))
            except InvalidVersion:
                continue
            if not version.is_prerelease and not f.get("yanked"):
                found.add(version)
    return sorted(found)


def between(gap: Gap, available: list[Version]) -> list[Version]:
    low, high = Version(gap.lower.keras), Version(gap.upper.keras)
    return [v for v in available if low < v < high]


@dataclass(frozen=True)
class Change:
    """Where a gap's verdict changes: the first release with the upper verdict, the last one
    seen with the lower verdict, and the releases between them that did not install here."""

    first: Version
    last_lower: Version
    untested: tuple[Version, ...] = ()


def first_change(candidates: list[Version], gap: Gap,
                 verdict_of: Callable[[Version], str | None]) -> tuple[Change, list[str]]:
    """Binary search for the first release with the upper verdict.

    `verdict_of` installs and audits one release; None means it could not be installed, and
    the release is skipped (named in the returned notes)."""
    lo, hi = 0, len(candidates)  # the answer is candidates[lo..hi], hi meaning the upper env
    notes, skipped, lower_seen = [], [], [Version(gap.lower.keras)]
    pool = list(candidates)
    while lo < hi:
        mid = (lo + hi) // 2
        verdict = verdict_of(pool[mid])
        if verdict is None:
            notes.append(f"skipped {pool[mid]} (does not install here)")
            skipped.append(pool.pop(mid))
            hi -= 1
            continue
        if verdict == gap.upper_verdict:
            hi = mid
        else:
            lower_seen.append(pool[mid])
            lo = mid + 1
    first = pool[lo] if lo < len(pool) else Version(gap.upper.keras)
    last = max(lower_seen)
    return Change(first, last, tuple(sorted(v for v in skipped if last < v < first))), notes


def boundary_text(gap: Gap, change: Change) -> str:
    """`refuted from Keras 3.8.0 (tensorflow; holds in 3.7.0)`; where releases between the two
    did not install, they are named: the change lies somewhere among them."""
    untested = (f"; {', '.join(map(str, change.untested))} not installable here"
                if change.untested else "")
    return (f"{gap.upper_verdict} from Keras {change.first} ({gap.upper.backend}; "
            f"{gap.lower_verdict} in {change.last_lower}{untested})")


def record(claim_id: str, text: str, directory: Path = CATALOG_DIR) -> Path:
    """Write `boundary = "<text>"` into the claim's catalog entry, replacing an older one."""
    for path in sorted(Path(directory).glob("*.toml")):
        blocks = re.split(r"(?m)^(?=\[\[claim\]\])", path.read_text(encoding="utf-8"))
        for i, block in enumerate(blocks):
            if re.search(rf'(?m)^id = "{re.escape(claim_id)}"$', block):
                block = re.sub(r'(?m)^boundary = ".*"\n', "", block)
                blocks[i] = re.sub(r'(?m)^(id = ".*"\n)', rf'\1boundary = "{text}"\n', block,
                                   count=1)
                path.write_text("".join(blocks), encoding="utf-8")
                return path
    raise KeyError(claim_id)
