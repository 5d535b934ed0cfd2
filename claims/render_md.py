"""The report as Markdown (audit.md), rendered from the model alone."""

from __future__ import annotations

from claims import labels
from claims.labels import LABELS
from claims.reportio import one_line
from claims.vocabulary import VERDICTS


def md_cell(value: object) -> str:
    """One table cell: an unescaped `|` would split the cell and a newline end the row."""
    return " ".join(str(value).splitlines()).replace("|", "\\|")


def md_table(headers: list[str], rows: list[list]) -> list[str]:
    """A Markdown table's lines; every table of the report is written by this one function."""
    # an empty header (a corner) is written `| |`, as the report has always written it
    head = "|" + "|".join(f" {md_cell(h)} " if h else " " for h in headers) + "|"
    body = ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return [head, "|---" * len(headers) + "|", *body]


def _scorecard(model: dict, t: dict, lang: str) -> list[str]:
    card, claims = model["scorecard"], {c["id"]: c for c in model["claims"]}
    headers = [t["q"], t["question"], t["n_claims"], card["newest"] or "-",
               card["keras_2_15"] or "-", t["everywhere"], t["correction"]]
    rows = [[r["question"], labels.short(r["text"], 60), r["claims"],
             *(labels.fraction(r[k]) for k in ("newest", "keras_2_15", "everywhere")),
             labels.instead(r, claims, lang) or "-"] for r in card["rows"]]
    return [f"## {t['scorecard']}", "", *md_table(headers, rows), ""]


def _counts(model: dict, t: dict) -> list[str]:
    headers = [t["environment"], *(t[v] for v in VERDICTS)]
    rows = [[env_id, *(n[v] for v in VERDICTS)] for env_id, n in model["counts"].items()]
    return [f"## {t['counts']}", "", *md_table(headers, rows), "", f"## {t['environments']}",
            "", *md_table(labels.environment_headers(t),
                          labels.environment_rows(model["environments"]))]


def _timing(model: dict, t: dict) -> list[str]:
    lines = []
    if model.get("timing"):
        lines += ["", f"## {t['timing']}", "",
                  *md_table(labels.timing_headers(t), labels.timing_rows(model["timing"]))]
    if model.get("stability"):
        lines += ["", f"**{t['stability']}:** {labels.stability(model['stability'], t)}"]
    if model.get("proof"):
        lines += ["", f"**{t['proof']}:** {labels.proof_share(model['proof'], t)}"]
    return lines


def _depends_and_drift(model: dict, t: dict, lang: str) -> list[str]:
    lines = ["", f"## {t['depends']}", ""]
    lines += [f"- **{c['id']}**: {labels.depends_text(c, lang)}"
              for c in model["claims"] if c["depends"]] or [t["none_depends"]]
    lines += ["", f"## {t['drift']}", ""]
    lines += [f"- **{d['claim']}** {t['in']} {d['environment']}: {labels.drift(d, t)}"
              for d in model["drift"]] or [t["no_drift"]]
    return lines


def _measured(model: dict, t: dict) -> list[str]:
    lines = []
    for table in model["measured"]:  # the first column is the environment's, named here
        lines += ["", f"### {t['measured']}: {table['claim']}", "",
                  *md_table([t["environment"], *table["columns"][1:]], table["rows"])]
    return lines


def _cross(model: dict) -> list[str]:
    lines = []
    for table in model["cross"]:
        rows = [[r["row"], *(c["cell"] if c else "-" for c in r["cells"])] for r in table["rows"]]
        lines += ["", f"## {table['title']}", "", *md_table(["", *table["columns"]], rows), ""]
        for r in table["rows"]:  # per row, the environments that gave the same detail
            why: dict[str, list[str]] = {}
            for col, c in zip(table["columns"], r["cells"], strict=True):
                if c and c["detail"]:
                    why.setdefault(one_line(c["detail"], 240), []).append(col)
            if why:
                lines.append(f"- **{r['row']}**: " + "; ".join(
                    f"{', '.join(cols)}: {detail}" for detail, cols in why.items()))
    return lines


def _matrix(model: dict, t: dict) -> list[str]:
    envs = [e["id"] for e in model["environments"]]
    rows = [[c["id"], *(labels.cell(c["verdicts"].get(e), t) for e in envs)]
            for c in model["claims"]]
    return ["", f"## {t['claims']}", "", *md_table([t["claim"], *envs], rows)]


def _claim(c: dict, envs: list[str], t: dict, lang: str, proof: dict | None) -> list[str]:
    """One claim in full: quote, statement, evidence per environment, correction."""
    lines = ["", f"### {c['id']} ({labels.questions(c, t)})", "",
             f"> {c['quote']}", "", f"**{t['statement']}:** {labels.statement(c, lang)}", ""]
    groups: dict[tuple, tuple[list[str], dict]] = {}  # environments with the same evidence
    for env_id in envs:
        v = c["verdicts"].get(env_id)
        if v:
            groups.setdefault((v["verdict"], v["drift"], v["evidence"]), ([], v))[0].append(env_id)
    lines += [f"- {', '.join(group)}: **{labels.cell(v, t)}**: {labels.evidence(c, v, lang)}"
              for group, v in groups.values()]
    correction = labels.correction(c, lang)
    if correction:
        lines += ["", f"**{t['correction']}:** {correction}"]
    if proof:
        lines += ["", f"*{t['proof']}:* {labels.claim_proof(c['id'], proof, t)}"]
    return lines


def _timeline(model: dict, t: dict) -> list[str]:
    tl = model.get("timeline")
    if not tl:
        return []
    lines = ["", f"## {t['timeline']}", "", t["timeline_hint"].format(tl["backend"]),
             f"({len(tl['releases'])}: {tl['releases'][0]} … {tl['releases'][-1]})", ""]
    lines += [f"- {row['claim']}: {labels.release_ranges(row, t)}" for row in tl["claims"]]
    if not tl["claims"]:
        lines.append(t["timeline_same"])
    for title in dict.fromkeys(r["table"] for r in tl["rows"]):
        lines += ["", f"### {title}", ""]
        lines += [f"- {r['row']}: {labels.release_ranges(r, t)}"
                  for r in tl["rows"] if r["table"] == title]
    if tl["drift"]:
        lines += ["", f"**{t['timeline_drift']}:** " + ", ".join(
            f"{d['claim']} ({d['release']})" for d in tl["drift"])]
    return lines


def render_markdown(model: dict, lang: str = "en") -> str:
    t = LABELS[lang]
    envs = [e["id"] for e in model["environments"]]
    lines = [f"# {t['title']}", "", *_scorecard(model, t, lang), *_counts(model, t)]
    lines += _timing(model, t) + _depends_and_drift(model, t, lang) + _timeline(model, t)
    lines += _measured(model, t) + _cross(model) + _matrix(model, t)
    for c in model["claims"]:
        lines += _claim(c, envs, t, lang, model.get("proof"))
    return "\n".join(lines) + "\n"
