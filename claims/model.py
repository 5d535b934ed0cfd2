"""The report's one data model: the per-run files merged, with what the catalog adds, into the
document that audit.json is and that every rendering reads (renderers consult nothing else).

Its shape is merged.schema.json; `merge` checks the model against it before anyone uses it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from packaging.version import InvalidVersion, Version

from claims import catalog
from claims.inputs import ReportError, load_extra, load_runs, validate
from claims.vocabulary import DEFAULT_ENV, QUESTIONS, SCHEMA_VERSION, SEVERITY, VERDICTS

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seminar-answers.md"


def version(env: dict) -> Version:
    """The environment's Keras version; one that is no version sorts as the oldest."""
    try:
        return Version(env["keras"])
    except InvalidVersion:
        return Version("0")


def _catalog() -> dict[str, catalog.Claim]:
    """The catalog, loaded once per report; runs also merge without a valid catalog, and then
    the catalog's order, Vietnamese corrections and bisected boundaries are missing."""
    try:
        return catalog.load()
    except catalog.CatalogError:
        return {}


def _combine(audit: dict, extra: dict, source: str) -> dict:
    """One claim checked by the audit (a few cases) and by a supplementary run (the bench: all
    of them): the more severe verdict stands, and the evidence of both is kept."""
    verdict = min(audit["verdict"], extra["verdict"], key=SEVERITY.index)
    seen = {json.dumps(m, sort_keys=True) for m in audit["measurements"]}
    return {"verdict": verdict, "expected": audit["expected"],
            "drift": audit["drift"] or extra["drift"],
            "correction_drift": audit["correction_drift"] or extra["correction_drift"],
            "evidence": f"{audit['evidence']} | {source}: {extra['evidence']}",
            "measurements": audit["measurements"] + [
                m for m in extra["measurements"] if json.dumps(m, sort_keys=True) not in seen],
            **{k: audit[k] for k in ("decided_by", "settings") if k in audit}}


def _entry(c: dict, recorded: catalog.Claim | None) -> dict:
    """A claim of the model as its first run states it, with what the catalog adds."""
    return {"id": c["id"], "questions": c["questions"], "section": c["section"],
            "quote": c["quote"], "statement": c["statement"],
            "statement_vi": recorded.statement_vi if recorded else None,
            "correction": c.get("correction"),
            "correction_vi": recorded.correction_vi if recorded else None,
            "untestable_vi": recorded.untestable_vi if recorded else None,
            "boundary": recorded.boundary if recorded else None,
            "depends": None, "verdicts": {}}


def _claims(sources: list[tuple[str, list[dict]]], known: dict[str, catalog.Claim]) -> list:
    """Every claim with its verdict cell per environment, in catalog order."""
    claims: dict[str, dict] = {}
    for source, run in [(source, r) for source, runs in sources for r in runs]:
        env_id = run["environment"]["id"]
        for c in run["claims"]:
            if c["id"] not in claims:
                claims[c["id"]] = _entry(c, known.get(c["id"]))
            entry = claims[c["id"]]
            cell = {"verdict": c["verdict"], "expected": c.get("expected"), "drift": c["drift"],
                    "correction_drift": c.get("correction_drift"),
                    "evidence": c["evidence"], "measurements": c.get("measurements", []),
                    **{k: c[k] for k in ("decided_by", "settings") if k in c}}
            earlier = entry["verdicts"].get(env_id)
            if earlier is None:
                entry["verdicts"][env_id] = cell
            elif source == "audit":
                raise ReportError(f"run of {env_id}: claim {c['id']!r} appears twice")
            elif c["verdict"] != "untestable":  # every run lists the untestable claims
                entry["verdicts"][env_id] = _combine(earlier, cell, source)
    rank = {cid: i for i, cid in enumerate(known)}
    return sorted(claims.values(), key=lambda c: (rank.get(c["id"], len(rank)), c["id"]))


def depends(claim: dict, environments: list[dict]) -> list[dict] | None:
    """Where the verdict changes between holds and refuted: per (package, backend) series, the
    runs of equal verdicts ordered by version; None where it does not change. Not-applicable
    and error cells say nothing about the claim."""
    verdicts = {e: v["verdict"] for e, v in claim["verdicts"].items()
                if v["verdict"] in ("holds", "refuted")}
    if len(set(verdicts.values())) < 2:
        return None
    series: dict[tuple[str, str], list[dict]] = {}
    for env in environments:
        if env["id"] in verdicts:
            series.setdefault((env["id"].split("-")[0], env["backend"]), []).append(env)
    out = []
    for (package, backend), envs in series.items():
        runs: list[dict] = []
        for env in sorted(envs, key=version):
            if runs and runs[-1]["verdict"] == verdicts[env["id"]]:
                runs[-1]["to"] = env["keras"]
            else:
                runs.append({"verdict": verdicts[env["id"]], "from": env["keras"],
                             "to": env["keras"]})
        out.append({"package": package, "backend": backend, "runs": runs})
    return out


def counts(claims: list[dict], environments: list[dict]) -> dict[str, dict[str, int]]:
    out = {e["id"]: dict.fromkeys(VERDICTS, 0) for e in environments}
    for claim in claims:
        for env_id, v in claim["verdicts"].items():
            out[env_id][v["verdict"]] += 1
    return out


def seed_questions() -> dict[int, str]:
    """The 25 questions as the seed lists them, before the answers begin."""
    try:
        text = SEED.read_text(encoding="utf-8").split("\n## A.")[0]
    except OSError:
        return {}
    found = re.findall(r"^\s*(?:- )?(\d+)\. (.+?)\s*$", text, flags=re.MULTILINE)
    return {int(n): q for n, q in found}


def _newest(environments: list[dict], major: int) -> str | None:
    envs = [e for e in environments if e["id"].startswith("keras-")
            and e["backend"] == "tensorflow" and version(e).major == major]
    return max(envs, key=version)["id"] if envs else None


def _checked(claim: dict, env_id: str | None) -> set[str]:
    """The claim's verdicts where it was checked, in `env_id` only or (None) anywhere: an error
    cell (a missing program, a broken venv) says nothing about the claim, for or against."""
    return {v["verdict"] for e, v in claim["verdicts"].items()
            if v["verdict"] != "error" and env_id in (None, e)}


def _tally(claims: list[dict], env_id: str | None) -> dict:
    """Of the claims checked in `env_id` (None: anywhere), how many hold wherever they apply."""
    seen = [s for s in (_checked(c, env_id) for c in claims) if s]
    return {"holds": sum("holds" in s and s <= {"holds", "not-applicable"} for s in seen),
            "of": len(seen)}


def _unchecked(claims: list[dict]) -> list[dict]:
    """Per claim and reason, the environments where its check ended in an error: there the
    claim was not checked."""
    found: dict[tuple[str, str], list[str]] = {}
    for c in claims:
        for env_id, v in c["verdicts"].items():
            if v["verdict"] == "error":
                found.setdefault((c["id"], v["evidence"]), []).append(env_id)
    return [{"claim": cid, "reason": reason, "environments": envs}
            for (cid, reason), envs in found.items()]


def _scorecard_row(question: int, claims: list[dict], newest: str | None,
                   k215: str | None) -> dict:
    claims = [c for c in claims if question in c["questions"]]
    testable = [c for c in claims
                if any(v["verdict"] != "untestable" for v in c["verdicts"].values())]
    failing = [c["id"] for c in testable
               if c["verdicts"].get(newest, {}).get("verdict") == "refuted"]
    return {"question": question, "claims": len(claims), "testable": len(testable),
            "newest": _tally(testable, newest) if newest else None,
            "keras_2_15": _tally(testable, k215) if k215 else None,
            "everywhere": _tally(testable, None), "failing": failing,
            "unchecked": _unchecked(testable)}


def scorecard(claims: list[dict], environments: list[dict]) -> dict:
    """Per seed question: its claims, how many of those checked hold on the newest Keras 3, on
    the newest Keras 2 (2.15 in the matrix; the field keeps that name) and everywhere they were
    checked, the claims refuted on the newest Keras 3 (whose corrections say what is true
    instead), and those an error left unchecked. The columns are the environments merged."""
    newest = _newest(environments, 3)
    k215 = _newest(environments, 2)
    questions = seed_questions()
    rows = [{**_scorecard_row(q, claims, newest, k215), "text": questions.get(q, "")}
            for q in QUESTIONS]
    return {"newest": newest, "keras_2_15": k215, "rows": rows}


def measurement_tables(claims: list[dict]) -> list[dict]:
    """Per claim with measured rows: its columns and one row per environment and measurement,
    so the seed's numbers stand beside what each environment measured. Rows that name a
    `table` go to `cross_tables` instead."""
    tables = []
    for c in claims:
        rows = [(env_id, m) for env_id, v in c["verdicts"].items()
                for m in v["measurements"] if "table" not in m]
        if rows:
            keys = list(dict.fromkeys(k for _, m in rows for k in m))
            tables.append({"claim": c["id"], "columns": ["environment", *keys],
                           "rows": [[env_id, *(str(m.get(k, "")) for k in keys)]
                                    for env_id, m in rows]})
    return tables


def _cross_cell(m: dict) -> dict:
    detail = m.get("detail")
    return {"cell": str(m.get("cell", "-")), "verdict": m.get("verdict"),
            "detail": str(detail) if detail else None}


def cross_tables(claims: list[dict], environments: list[dict]) -> list[dict]:
    """Measurements `measure(table=T, row=R, cell=C, verdict=V, detail=D)`: one table per T,
    R x environment, each cell C coloured by V; D says why, for the cells that have one."""
    found: dict[str, dict[tuple[str, str], dict]] = {}
    for c in claims:
        for env_id, v in c["verdicts"].items():
            for m in v["measurements"]:
                if "table" in m:
                    found.setdefault(str(m["table"]), {})[(str(m["row"]), env_id)] = m
    tables = []
    for title, cells in found.items():
        columns = [e["id"] for e in environments if any(col == e["id"] for _, col in cells)]
        rows = [{"row": row, "cells": [_cross_cell(cells[row, col]) if (row, col) in cells
                                       else None for col in columns]}
                for row in sorted({row for row, _ in cells})]
        tables.append({"title": title, "columns": columns, "rows": rows})
    return tables


def _ordered_environments(runs: list[dict]) -> list[dict]:
    """Keras before tf_keras, newest version first, then by backend."""
    environments = {r["environment"]["id"]: r["environment"] for r in runs}
    return sorted(environments.values(), key=lambda e: (
        e["id"].split("-")[0] != "keras", [-p for p in version(e).release], e["backend"]))


def timeline(runs: list[dict]) -> dict:
    """The sweep's runs (one a release, one backend) as a timeline, oldest first: per claim whose
    verdict is not the same in every release, its verdict in each and the ranges; per row of a
    measured table (the security table's advisories) whose cell changes, the ranges, which give
    each advisory's first safe release."""
    runs = sorted(runs, key=lambda r: Version(r["environment"]["keras"]))
    releases = [r["environment"]["keras"] for r in runs]
    by_claim: dict[str, list[dict | None]] = {}
    by_row: dict[tuple[str, str], list[dict | None]] = {}
    for i, run in enumerate(runs):
        for c in run["claims"]:
            by_claim.setdefault(c["id"], [None] * len(runs))[i] = c
            for m in c.get("measurements", []):
                if "table" in m:
                    by_row.setdefault((str(m["table"]), str(m["row"])), [None] * len(runs))[i] = m
    rows = []
    for claim_id, cells in sorted(by_claim.items()):
        verdicts = [c["verdict"] if c else None for c in cells]
        if len({v for v in verdicts if v}) > 1:
            rows.append({"claim": claim_id, "verdicts": verdicts,
                         "ranges": _ranges(releases, verdicts, verdicts),
                         "drift": [r for r, c in zip(releases, cells, strict=True)
                                   if c and c["drift"]]})
    table_rows = []
    for (title, row), cells in sorted(by_row.items()):
        shown = [str(m["cell"]) if m else None for m in cells]
        if len({v for v in shown if v}) > 1:
            verdicts = [m.get("verdict") if m else None for m in cells]
            table_rows.append({"table": title, "row": row,
                               "ranges": _ranges(releases, shown, verdicts)})
    drift = sorted({(c["id"], run["environment"]["keras"]) for run in runs
                    for c in run["claims"] if c["drift"]}, key=lambda d: (d[0], Version(d[1])))
    backends = sorted({r["environment"]["backend"] for r in runs})
    return {"backend": ", ".join(backends), "releases": releases, "claims": rows,
            "rows": table_rows, "drift": [{"claim": c, "release": r} for c, r in drift]}


def _ranges(releases: list[str], shown: list, verdicts: list) -> list[dict]:
    """Consecutive releases showing the same value: [{shown, verdict, first, last}]."""
    ranges: list[dict] = []
    for release, value, verdict in zip(releases, shown, verdicts, strict=True):
        if ranges and ranges[-1]["shown"] == value:
            ranges[-1]["last"] = release
        else:
            ranges.append({"shown": value, "verdict": verdict, "first": release, "last": release})
    return ranges


def proven(proof: dict, claims: list[dict], environments: list[dict]) -> dict:
    """Per claim, the planted faults that changed its verdict (proof.json of the mutants
    session, run in the default environment), and the share of the claims that hold or are
    refuted there which some fault changed: the verdicts shown able to come out otherwise."""
    by_claim: dict[str, list[str]] = {}
    for fault in proof["faults"]:
        # a fault the claim met only with an error noticed it, but no verdict came out otherwise
        for caught in fault["caught"]:
            if not caught.endswith("(error)"):
                by_claim.setdefault(caught, []).append(fault["name"])
    env_ids = {e["id"] for e in environments}
    where = DEFAULT_ENV if DEFAULT_ENV in env_ids else None
    decided = [c["id"] for c in claims
               if any(v["verdict"] in ("holds", "refuted") and where in (None, e)
                      for e, v in c["verdicts"].items())]
    return {**proof, "environment": where or "any", "claims": by_claim,
            "proven": sum(cid in by_claim for cid in decided), "of": len(decided),
            "unproven": [cid for cid in decided if cid not in by_claim]}


def merge(paths: list[Path], supplements: dict[str, list[Path]] | None = None,
          timing: Path | None = None, stability: Path | None = None,
          sweep: list[Path] | None = None, proof: Path | None = None) -> dict:
    """The report's model: environments (ordered) and, per claim, the verdict in each, with
    the summaries every rendering shows. Supplementary runs (SUPPLEMENTS: name -> per-run
    files) join the columns of their environments; timing.json and stability.json, when
    given, are carried as they are; the sweep's run files become the release timeline."""
    if not paths:
        raise ReportError("no report files given (run the audit first: nox -s audit)")
    sources = [("audit", load_runs(paths))] + [
        (name, load_runs(files)) for name, files in (supplements or {}).items()]
    environments = _ordered_environments([r for _, runs in sources for r in runs])
    claims = _claims(sources, _catalog())
    for claim in claims:
        claim["depends"] = depends(claim, environments)
    model = {
        "schema": SCHEMA_VERSION, "environments": environments, "claims": claims,
        "counts": counts(claims, environments),
        "drift": [{"claim": c["id"], "environment": env_id, "expected": v["expected"],
                   "verdict": v["verdict"], "correction_drift": v["correction_drift"]}
                  for c in claims for env_id, v in c["verdicts"].items() if v["drift"]],
        "scorecard": scorecard(claims, environments),
        "measured": measurement_tables(claims),
        "cross": cross_tables(claims, environments),
    }
    if sweep:
        model["timeline"] = timeline(load_runs(sweep))
    for key, path in (("timing", timing), ("stability", stability)):
        extra = load_extra(path, key)
        if extra is not None:
            model[key] = extra
    planted = load_extra(proof, "proof")
    if planted is not None:
        model["proof"] = proven(planted, claims, environments)
    validate(model, "merged.schema.json", "audit.json")
    return model
