"""Merge per-run JSON files into the audit report: Markdown, one self-contained HTML page, JSON.

Every input is validated before anything is written, and each output is replaced atomically,
so a bad input leaves an earlier report untouched.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

import jsonschema
from packaging.version import InvalidVersion, Version
from referencing import Registry, Resource

from claims import catalog
from claims.reportio import one_line, write_atomic

SCHEMA_VERSION = 1
SCHEMA_DIR = Path(__file__).parent / "schemas"
VERDICT_ORDER = ("holds", "refuted", "not-applicable", "untestable", "error")
LABELS = {
    "en": {
        "title": "Keras claims audit", "counts": "Verdicts per environment",
        "depends": "Claims whose verdict depends on version or backend", "drift": "Drift",
        "no_drift": "No drift: every verdict is the one recorded in the catalog.",
        "claims": "Every claim", "claim": "claim", "quote": "Quote", "statement": "Claim",
        "evidence": "Evidence", "correction": "What is true instead", "verdicts": "Verdicts",
        "recorded": "recorded", "observed": "observed", "filter": "Show verdict",
        "all": "all", "environment": "environment", "up_to": "up to", "from": "from",
        "holds": "holds", "refuted": "refuted", "not-applicable": "not applicable",
        "untestable": "untestable", "error": "error", "none_depends": "None.",
        "timing": "Audit time and memory", "slowest": "slowest tests",
        "by_file": "test s per file (summed over workers)",
        "stability": "Stability", "stable": "every verdict equal across runs",
        "unstable": "VERDICTS DIFFER across runs",
        "scorecard": "Scorecard: how each answer holds up", "question": "question",
        "everywhere": "everywhere", "measured": "The seed's numbers against measured ones",
    },
    "vi": {
        "title": "Kiểm chứng các nhận định về Keras", "counts": "Kết luận theo môi trường",
        "depends": "Nhận định có kết luận phụ thuộc phiên bản hoặc backend",
        "drift": "Sai lệch so với kết luận đã ghi",
        "no_drift": "Không có sai lệch: mọi kết luận đúng như đã ghi trong danh mục.",
        "claims": "Tất cả nhận định", "claim": "nhận định", "quote": "Trích dẫn",
        "statement": "Nhận định", "evidence": "Bằng chứng", "correction": "Điều đúng là",
        "verdicts": "Kết luận", "recorded": "đã ghi", "observed": "quan sát",
        "filter": "Lọc theo kết luận", "all": "tất cả", "environment": "môi trường",
        "up_to": "đến", "from": "từ", "holds": "đúng", "refuted": "sai",
        "not-applicable": "không áp dụng", "untestable": "không kiểm chứng được",
        "error": "lỗi môi trường", "none_depends": "Không có.",
        "timing": "Thời gian và bộ nhớ", "slowest": "test chậm nhất",
        "by_file": "giây test theo tệp (cộng mọi worker)",
        "stability": "Độ ổn định", "stable": "mọi kết luận như nhau giữa các lần chạy",
        "unstable": "KẾT LUẬN KHÁC NHAU giữa các lần chạy",
        "scorecard": "Bảng điểm: mỗi câu trả lời đúng đến đâu", "question": "câu hỏi",
        "everywhere": "mọi môi trường", "measured": "Số liệu của bài trả lời so với số đo",
    },
}


class ReportError(ValueError):
    """Bad report input; the message is one line naming the file and what is wrong."""


def _field(error: jsonschema.ValidationError) -> str:
    """Where a schema error is, as `claims[0].evidence`."""
    parts = list(error.absolute_path)
    missing = re.match(r"'([^']+)' is a required property", error.message)
    if error.validator == "required" and missing:
        parts.append(missing.group(1))
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def validate(data: object, schema: str, source: str) -> None:
    """Check `data` against one of the schemas shipped in claims/schemas/."""
    error = jsonschema.exceptions.best_match(validator(schema).iter_errors(data))
    if error is not None:
        raise ReportError(f"{source}: field {_field(error)!r}: {error.message}")


def validator(name: str) -> jsonschema.protocols.Validator:
    schemas = [json.loads(p.read_text()) for p in sorted(SCHEMA_DIR.glob("*.schema.json"))]
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas)
    schema = next(s for s in schemas if s["$id"].endswith("/" + name))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def load_run(path: Path) -> dict:
    """One per-run JSON file, validated against run.schema.json."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    validate(data, "run.schema.json", str(path))
    return data


def _version(env: dict) -> Version:
    try:
        return Version(env["keras"])
    except InvalidVersion:
        return Version("0")


def _load_all(paths: list[Path]) -> list[dict]:
    runs, seen = [], {}
    for path in paths:
        run = load_run(path)
        env_id = run["environment"]["id"]
        if env_id in seen:
            raise ReportError(f"{path}: environment {env_id!r} is also in {seen[env_id]}")
        seen[env_id] = path
        runs.append(run)
    return runs


SEVERITY = ("error", "refuted", "holds", "not-applicable", "untestable")


def _combine(audit: dict, extra: dict, source: str) -> dict:
    """One claim checked by the audit (a few cases) and by a supplementary run (the bench: all
    of them): the more severe verdict stands, and the evidence of both is kept."""
    verdict = min(audit["verdict"], extra["verdict"], key=SEVERITY.index)
    seen = {json.dumps(m, sort_keys=True) for m in audit["measurements"]}
    return {"verdict": verdict, "expected": audit["expected"],
            "drift": audit["drift"] or extra["drift"],
            "evidence": f"{audit['evidence']} | {source}: {extra['evidence']}",
            "measurements": audit["measurements"] + [
                m for m in extra["measurements"] if json.dumps(m, sort_keys=True) not in seen]}


def merge(paths: list[Path], supplements: dict[str, list[Path]] | None = None) -> dict:
    """The merged audit: environments (ordered) and, per claim, the verdict in each.

    Supplementary runs (SUPPLEMENTS: name -> per-run files) join the columns of their
    environments."""
    if not paths:
        raise ReportError("no report files given (run the audit first: nox -s audit)")
    sources = [("audit", _load_all(paths))] + [
        (name, _load_all(files)) for name, files in (supplements or {}).items()]
    environments = {r["environment"]["id"]: r["environment"]
                    for _, runs in sources for r in runs}
    order = sorted(environments.values(), key=lambda e: (
        e["id"].split("-")[0] != "keras", [-p for p in _version(e).release], e["backend"]))
    try:
        catalog_order = list(catalog.load())
    except catalog.CatalogError:
        catalog_order = []
    claims: dict[str, dict] = {}
    for source, run in [(source, r) for source, runs in sources for r in runs]:
        env_id = run["environment"]["id"]
        for c in run["claims"]:
            entry = claims.setdefault(c["id"], {
                "id": c["id"], "questions": c["questions"], "section": c["section"],
                "quote": c["quote"], "statement": c["statement"],
                "correction": c.get("correction"), "verdicts": {},
            })
            cell = {"verdict": c["verdict"], "expected": c.get("expected"), "drift": c["drift"],
                    "evidence": c["evidence"], "measurements": c.get("measurements", [])}
            earlier = entry["verdicts"].get(env_id)
            if earlier is None:
                entry["verdicts"][env_id] = cell
            elif source == "audit":
                raise ReportError(f"run of {env_id}: claim {c['id']!r} appears twice")
            elif c["verdict"] != "untestable":  # every run lists the untestable claims
                entry["verdicts"][env_id] = _combine(earlier, cell, source)
    rank = {cid: i for i, cid in enumerate(catalog_order)}
    ordered = sorted(claims.values(), key=lambda c: (rank.get(c["id"], len(rank)), c["id"]))
    return {"schema": SCHEMA_VERSION, "environments": order, "claims": ordered}


def boundary(claim: dict, environments: list[dict], lang: str = "en") -> str | None:
    """Where the verdict changes between holds and refuted: per (package, backend) series,
    ordered by version. Not-applicable and error cells say nothing about the claim."""
    verdicts = {e: v["verdict"] for e, v in claim["verdicts"].items()
                if v["verdict"] in ("holds", "refuted")}
    if len(set(verdicts.values())) < 2:
        return None
    t = LABELS[lang]
    series: dict[tuple[str, str], list[dict]] = {}
    for env in environments:
        if env["id"] in verdicts:
            package = env["id"].split("-")[0]
            series.setdefault((package, env["backend"]), []).append(env)
    parts = []
    for (package, backend), envs in series.items():
        envs = sorted(envs, key=_version)
        runs: list[list] = []
        for env in envs:
            verdict = verdicts[env["id"]]
            if runs and runs[-1][0] == verdict:
                runs[-1][2] = env["keras"]
            else:
                runs.append([verdict, env["keras"], env["keras"]])
        name, label = ("Keras", backend) if package == "keras" else (package, package)
        if len(runs) == 1:
            verdict, low, high = runs[0]
            span = low if low == high else f"{low}-{high}"
            text = f"{t[verdict]} ({name} {span})"
        else:
            pieces = [f"{t[runs[0][0]]} {t['up_to']} {name} {runs[0][2]}"]
            pieces += [f"{t[v]} {t['from']} {low}" for v, low, _ in runs[1:]]
            text = "; ".join(pieces)
        parts.append(f"{label}: {text}")
    return " | ".join(parts)


def _from_catalog(attribute: str) -> dict[str, str]:
    """One optional catalog field by claim id (the report also renders runs without a catalog)."""
    try:
        claims = catalog.load().values()
    except catalog.CatalogError:
        return {}
    return {c.id: getattr(c, attribute) for c in claims if getattr(c, attribute)}


def _corrections_vi() -> dict[str, str]:
    return _from_catalog("correction_vi")


def _dependent(merged: dict, lang: str) -> list[tuple[dict, str]]:
    """Claims whose verdict depends on version or backend, with the boundary; the exact release
    where bisection found the change, when it has run."""
    bisected = _from_catalog("boundary")
    out = []
    for c in merged["claims"]:
        text = boundary(c, merged["environments"], lang)
        if text:
            out.append((c, text + (f" [bisected: {bisected[c['id']]}]"
                                   if c["id"] in bisected else "")))
    return out


def _correction(claim: dict, lang: str, vi: dict[str, str]) -> str | None:
    return vi.get(claim["id"], claim["correction"]) if lang == "vi" else claim["correction"]


def counts(merged: dict) -> dict[str, Counter]:
    out = {e["id"]: Counter() for e in merged["environments"]}
    for claim in merged["claims"]:
        for env_id, v in claim["verdicts"].items():
            out[env_id][v["verdict"]] += 1
    return out


def _cell(v: dict | None) -> str:
    if v is None:
        return "-"
    return v["verdict"] + (" (DRIFT)" if v["drift"] else "")


def _timing_lines(merged: dict, t: dict) -> list[str]:
    lines = []
    if merged.get("timing"):
        lines += ["", f"## {t['timing']}", "",
                  f"| {t['environment']} | wall s | tests | peak RSS MB | {t['by_file']} | "
                  f"{t['slowest']} |", "|---|---|---|---|---|---|"]
        for env_id, m in sorted(merged["timing"].items()):
            slow = ", ".join(f"{n.split('::')[-1]} {d}s" for n, d in m.get("slowest", [])[:3])
            files = ", ".join(f"{re.sub(r'^test_|[.]py$', '', name)} {sec}"
                              for name, sec in m.get("files_s", {}).items())
            lines.append(f"| {env_id} | {m.get('wall_s')} | {m.get('tests')} | "
                         f"{m.get('peak_rss_mb')} | {files} | {slow} |")
    if merged.get("stability"):
        st = merged["stability"]
        verdict = t["stable"] if st.get("stable") else t["unstable"]
        lines += ["", f"**{t['stability']}:** {verdict} ({st.get('environment')}, "
                  f"seeds {st.get('seeds')}; {len(st.get('differences', []))} differences)"]
    return lines


SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seminar-answers.md"


def seed_questions() -> dict[int, str]:
    """The 25 questions as the seed lists them, before the answers begin."""
    try:
        text = SEED.read_text(encoding="utf-8").split("\n## A.")[0]
    except OSError:
        return {}
    found = re.findall(r"^\s*(?:- )?(\d+)\. (.+?)\s*$", text, flags=re.MULTILINE)
    return {int(n): q for n, q in found}


def _newest(merged: dict, major: int) -> str | None:
    envs = [e for e in merged["environments"] if e["id"].startswith("keras-")
            and e["backend"] == "tensorflow" and _version(e).major == major]
    return max(envs, key=_version)["id"] if envs else None


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scorecard(merged: dict, lang: str = "en") -> list[dict]:
    """Per seed question: its claims, how many hold on the newest Keras 3, on Keras 2.15 and
    everywhere they were checked, and what is true instead for the rest."""
    vi = _corrections_vi()
    newest, k215 = _newest(merged, 3), "keras-2.15.0-tensorflow"
    rows = []
    for q in range(1, 26):
        claims = [c for c in merged["claims"] if q in c["questions"]]
        testable = [c for c in claims
                    if any(v["verdict"] != "untestable" for v in c["verdicts"].values())]

        def holds_in(env_id, pool=testable):
            return sum(c["verdicts"].get(env_id, {}).get("verdict") == "holds" for c in pool)

        everywhere = sum(
            all(v["verdict"] in ("holds", "not-applicable") for v in c["verdicts"].values())
            and any(v["verdict"] == "holds" for v in c["verdicts"].values())
            for c in testable)
        failing = [c for c in testable if c["verdicts"].get(newest, {}).get("verdict")
                   not in ("holds", "not-applicable", None)]
        instead = [_short((_correction(c, lang, vi) or c["id"]).split(". ")[0].rstrip("."))
                   for c in failing[:3]] + ([f"(+{len(failing) - 3})"] if len(failing) > 3 else [])
        rows.append({
            "question": q, "claims": len(claims), "testable": len(testable),
            "newest": holds_in(newest) if newest else None,
            "keras_2_15": holds_in(k215) if k215 in {e["id"] for e in
                                                     merged["environments"]} else None,
            "everywhere": everywhere, "instead": "; ".join(instead),
        })
    return rows


def _scorecard_lines(merged: dict, lang: str) -> list[str]:
    t, questions = LABELS[lang], seed_questions()
    newest = _newest(merged, 3) or "-"
    lines = [f"## {t['scorecard']}", "",
             f"| Q | {t['question']} | {t['claim']}s | {newest} | keras-2.15.0 | "
             f"{t['everywhere']} | {t['correction']} |", "|---" * 7 + "|"]
    for row in scorecard(merged, lang):
        def part(n, of=row["testable"]):
            return "-" if n is None else f"{n}/{of}"
        text = _short(questions.get(row["question"], ""), 60)
        lines.append(f"| {row['question']} | {text} | {row['claims']} | {part(row['newest'])} | "
                     f"{part(row['keras_2_15'])} | {part(row['everywhere'])} | "
                     f"{row['instead'] or '-'} |")
    return lines + [""]


def _same_evidence(claim: dict, envs: list[str]) -> list[tuple[list[str], dict]]:
    """The claim's cells, environments with the same verdict and evidence grouped in one line."""
    groups: dict[tuple, tuple[list[str], dict]] = {}
    for env_id in envs:
        v = claim["verdicts"].get(env_id)
        if v:
            key = (v["verdict"], v["drift"], v["evidence"])
            groups.setdefault(key, ([], v))[0].append(env_id)
    return list(groups.values())


def measurement_tables(merged: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per claim with measured rows: (claim id, columns, rows), one row per environment and
    measurement, so the seed's numbers stand beside what each environment measured. Rows that
    name a `table` go to `cross_tables` instead."""
    tables = []
    for c in merged["claims"]:
        rows = [(env_id, m) for env_id, v in c["verdicts"].items()
                for m in v.get("measurements", []) if "table" not in m]
        if rows:
            keys = list(dict.fromkeys(k for _, m in rows for k in m))
            tables.append((c["id"], ["environment", *keys],
                           [[env_id, *(str(m.get(k, "")) for k in keys)] for env_id, m in rows]))
    return tables


def cross_tables(merged: dict) -> list[dict]:
    """Measurements `measure(table=T, row=R, cell=C, verdict=V, detail=D)`: one table per T,
    R x environment, each cell C coloured by V; D says why, for the cells that have one."""
    envs = [e["id"] for e in merged["environments"]]
    tables: dict[str, dict] = {}
    for c in merged["claims"]:
        for env_id, v in c["verdicts"].items():
            for m in v.get("measurements", []):
                if "table" in m:
                    table = tables.setdefault(m["table"], {"title": m["table"], "cells": {}})
                    table["cells"][(str(m["row"]), env_id)] = m
    for table in tables.values():
        table["rows"] = sorted({row for row, _ in table["cells"]})
        table["columns"] = [e for e in envs if any(col == e for _, col in table["cells"])]
    return list(tables.values())


def _measurement_lines(merged: dict, t: dict) -> list[str]:
    lines = []
    for claim_id, columns, rows in measurement_tables(merged):
        lines += ["", f"### {t['measured']}: {claim_id}", "", "| " + " | ".join(columns) + " |",
                  "|---" * len(columns) + "|"] + ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _cross_lines(merged: dict) -> list[str]:
    lines = []
    for table in cross_tables(merged):
        cells = table["cells"]
        lines += ["", f"## {table['title']}", "", "| | " + " | ".join(table["columns"]) + " |",
                  "|---" * (len(table["columns"]) + 1) + "|"]
        lines += ["| " + row + " | " + " | ".join(
            str(cells.get((row, col), {}).get("cell", "-")) for col in table["columns"]) + " |"
            for row in table["rows"]]
        lines.append("")
        for row in table["rows"]:  # per row, the environments that gave the same detail
            why: dict[str, list[str]] = {}
            for col in table["columns"]:
                detail = cells.get((row, col), {}).get("detail")
                if detail:
                    why.setdefault(one_line(str(detail), 240), []).append(col)
            if why:
                lines.append(f"- **{row}**: " + "; ".join(
                    f"{', '.join(cols)}: {detail}" for detail, cols in why.items()))
    return lines


def render_markdown(merged: dict, lang: str = "en") -> str:
    t, vi = LABELS[lang], _corrections_vi()
    envs = [e["id"] for e in merged["environments"]]
    lines = [f"# {t['title']}", ""] + _scorecard_lines(merged, lang) + [f"## {t['counts']}", ""]
    lines += ["| " + t["environment"] + " | " + " | ".join(t[v] for v in VERDICT_ORDER) + " |",
              "|---" * (len(VERDICT_ORDER) + 1) + "|"]
    for env_id, c in counts(merged).items():
        lines.append(f"| {env_id} | " + " | ".join(str(c[v]) for v in VERDICT_ORDER) + " |")
    lines += _timing_lines(merged, t)
    lines += ["", f"## {t['depends']}", ""]
    lines += [f"- **{c['id']}**: {b}" for c, b in _dependent(merged, lang)] or [
        t["none_depends"]]
    lines += ["", f"## {t['drift']}", ""]
    drift = [(c, e, v) for c in merged["claims"] for e, v in c["verdicts"].items() if v["drift"]]
    lines += [
        f"- **{c['id']}** in {e}: {t['recorded']} {v['expected']}, {t['observed']} {v['verdict']}"
        for c, e, v in drift
    ] or [t["no_drift"]]
    lines += _measurement_lines(merged, t)
    lines += _cross_lines(merged)
    lines += ["", f"## {t['claims']}", "", "| " + t["claim"] + " | " + " | ".join(envs) + " |",
              "|---" * (len(envs) + 1) + "|"]
    for c in merged["claims"]:
        lines.append(f"| {c['id']} | " + " | ".join(_cell(c["verdicts"].get(e)) for e in envs)
                     + " |")
    for c in merged["claims"]:
        lines += ["", f"### {c['id']} (Q{', Q'.join(map(str, c['questions']))})", "",
                  f"> {c['quote']}", "", f"**{t['statement']}:** {c['statement']}", ""]
        for group, v in _same_evidence(c, envs):
            lines.append(f"- {', '.join(group)}: **{_cell(v)}**: {v['evidence']}")
        correction = _correction(c, lang, vi)
        if correction:
            lines += ["", f"**{t['correction']}:** {correction}"]
    return "\n".join(lines) + "\n"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .5em}
th{background:#f4f4f4;position:sticky;top:0}td.cell{cursor:pointer;text-align:center}
.holds{background:#c8f0c8}.refuted{background:#ffd9a0}.not-applicable{background:#e4e4e4}
.untestable{background:#d8e4ff}.error{background:#ff9c9c}.drift{outline:3px solid #d00}
#evidence{position:fixed;right:1em;bottom:1em;max-width:40em;background:#fff;
border:2px solid #444;padding:1em;display:none;box-shadow:0 2px 8px #0004}
"""
_JS = """
function filterRows(v){document.querySelectorAll('tr.claim').forEach(function(r){
 r.style.display=(v==='all'||r.dataset.verdicts.split(' ').indexOf(v)>=0)?'':'none';});}
function show(td){var b=document.getElementById('evidence');
 b.querySelector('h3').textContent=td.dataset.claim+' / '+td.dataset.env;
 b.querySelector('p').textContent=td.dataset.evidence;b.style.display='block';}
"""


def _scorecard_html(merged: dict, lang: str) -> str:
    """The Markdown scorecard table, as an HTML table."""
    esc = html.escape
    lines = [ln for ln in _scorecard_lines(merged, lang) if ln.startswith("|")]
    head, body = lines[0], lines[2:]

    def cells(line, tag):
        return "".join(f"<{tag}>{esc(c.strip())}</{tag}>" for c in line.strip("|").split(" | "))

    return (f"<h2>{esc(LABELS[lang]['scorecard'])}</h2><table id='scorecard'><tr>"
            f"{cells(head, 'th')}</tr>" + "".join(f"<tr>{cells(b, 'td')}</tr>" for b in body)
            + "</table>")


def render_html(merged: dict, lang: str = "en") -> str:
    t, vi, esc = LABELS[lang], _corrections_vi(), html.escape
    envs = [e["id"] for e in merged["environments"]]
    out = [f"<!doctype html><html lang='{lang}'><meta charset='utf-8'>",
           f"<title>{esc(t['title'])}</title><style>{_CSS}</style><script>{_JS}</script>",
           f"<h1>{esc(t['title'])}</h1>", _scorecard_html(merged, lang),
           f"<h2>{esc(t['counts'])}</h2><table><tr>",
           f"<th>{esc(t['environment'])}</th>"
           + "".join(f"<th class='{v}'>{esc(t[v])}</th>" for v in VERDICT_ORDER) + "</tr>"]
    for env_id, c in counts(merged).items():
        out.append(f"<tr><td>{esc(env_id)}</td>"
                   + "".join(f"<td>{c[v]}</td>" for v in VERDICT_ORDER) + "</tr>")
    out.append("</table>")
    extra = _timing_lines(merged, t)
    if extra:
        out.append("<pre>" + esc("\n".join(extra).strip()) + "</pre>")
    items = [f"<li><a href='#{esc(c['id'])}'>{esc(c['id'])}</a>: {esc(b)}</li>"
             for c, b in _dependent(merged, lang)]
    out.append(f"<h2>{esc(t['depends'])}</h2>"
               + (f"<ul>{''.join(items)}</ul>" if items else f"<p>{esc(t['none_depends'])}</p>"))
    drift = [f"<li class='drift'>{esc(c['id'])} in {esc(e)}: {esc(t['recorded'])} "
             f"{esc(str(v['expected']))}, {esc(t['observed'])} {esc(v['verdict'])}</li>"
             for c in merged["claims"] for e, v in c["verdicts"].items() if v["drift"]]
    out.append(f"<h2>{esc(t['drift'])}</h2>"
               + (f"<ul>{''.join(drift)}</ul>" if drift else f"<p>{esc(t['no_drift'])}</p>"))
    for claim_id, columns, rows in measurement_tables(merged):
        out.append(f"<h3>{esc(t['measured'])}: {esc(claim_id)}</h3><table class='measured'><tr>"
                   + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"
                   + "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>"
                             for r in rows) + "</table>")
    for table in cross_tables(merged):
        out.append(f"<h2>{esc(table['title'])}</h2><table class='cross'><tr><th></th>"
                   + "".join(f"<th>{esc(c)}</th>" for c in table["columns"]) + "</tr>")
        for row in table["rows"]:
            cells = [table["cells"].get((row, col)) for col in table["columns"]]
            out.append(f"<tr><td>{esc(row)}</td>" + "".join(
                "<td>-</td>" if m is None else
                f"<td class='{esc(str(m.get('verdict', '')))}' "
                f"title='{esc(str(m.get('detail', '')))}'>{esc(str(m['cell']))}</td>"
                for m in cells) + "</tr>")
        out.append("</table>")
    out.append(f"<h2>{esc(t['claims'])}</h2>")
    out.append(f"<label>{esc(t['filter'])}: <select id='filter' "
               "onchange='filterRows(this.value)'>"
               + f"<option value='all'>{esc(t['all'])}</option>"
               + "".join(f"<option value='{v}'>{esc(t[v])}</option>" for v in VERDICT_ORDER)
               + "</select></label>")
    out.append(f"<table id='matrix'><tr><th>{esc(t['claim'])}</th>"
               + "".join(f"<th>{esc(e)}</th>" for e in envs) + "</tr>")
    for c in merged["claims"]:
        verdicts = {v["verdict"] for v in c["verdicts"].values()}
        correction = _correction(c, lang, vi)
        title = esc(c["statement"] + (f"\n{t['correction']}: {correction}" if correction else ""))
        row = [f"<tr class='claim' data-verdicts='{' '.join(sorted(verdicts))}'>"
               f"<td title='{title}'>{esc(c['id'])}</td>"]
        for env_id in envs:
            v = c["verdicts"].get(env_id)
            if v is None:
                row.append("<td>-</td>")
                continue
            cls = v["verdict"] + (" drift" if v["drift"] else "")
            row.append(f"<td class='cell {cls}' data-claim='{esc(c['id'])}' "
                       f"data-env='{esc(env_id)}' data-evidence='{esc(v['evidence'])}' "
                       f"onclick='show(this)'>{esc(t[v['verdict']])}</td>")
        out.append("".join(row) + "</tr>")
    out.append("</table><div id='evidence' onclick=\"this.style.display='none'\">"
               "<h3></h3><p></p></div>")
    for c in merged["claims"]:
        out.append(f"<section id='{esc(c['id'])}'><h3>{esc(c['id'])}</h3>"
                   f"<blockquote>{esc(c['quote'])}</blockquote>"
                   f"<p><b>{esc(t['statement'])}:</b> {esc(c['statement'])}</p><ul>")
        for env_id in envs:
            v = c["verdicts"].get(env_id)
            if v:
                out.append(f"<li><span class='{v['verdict']}'>{esc(env_id)}: "
                           f"{esc(_cell(v))}</span> {esc(v['evidence'])}</li>")
        out.append("</ul>")
        correction = _correction(c, lang, vi)
        if correction:
            out.append(f"<p><b>{esc(t['correction'])}:</b> {esc(correction)}</p>")
        out.append("</section>")
    return "\n".join(out) + "\n</html>\n"


def _load_extra(path: Path | None) -> dict | None:
    """timing.json or stability.json, written by the plugin and the stability session."""
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: top level must be an object")
    return data


def write_report(paths: list[Path], out_dir: Path, lang: str = "en",
                 supplements: dict[str, list[Path]] | None = None, timing: Path | None = None,
                 stability: Path | None = None) -> dict:
    """Validate every input, then write audit.md, audit.html and audit.json into `out_dir`."""
    if lang not in LABELS:
        raise ReportError(f"unknown language {lang!r}: use one of {sorted(LABELS)}")
    merged = merge([Path(p) for p in paths],
                   {name: [Path(p) for p in files] for name, files in (supplements or {}).items()})
    for key, path in (("timing", timing), ("stability", stability)):
        extra = _load_extra(path)
        if extra is not None:
            merged[key] = extra
    texts = {
        "audit.md": render_markdown(merged, lang),
        "audit.html": render_html(merged, lang),
        "audit.json": json.dumps(merged, indent=1, ensure_ascii=False) + "\n",
    }
    for name, text in texts.items():
        write_atomic(Path(out_dir) / name, text)
    return merged
