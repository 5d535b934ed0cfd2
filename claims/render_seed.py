"""The seed annotated: the seminar's answers in their order, sentence by sentence as
claims/seedmap.py cuts them, each sentence a claim quotes with that claim's verdicts across the
environments, what is true instead where it is refuted and a link to its evidence in audit.html;
the others marked opinion, context or not yet audited. `lines` is what seed.md (written here)
and seed.html (render_html.py) both show, from the model and the seed's coverage alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from claims import labels
from claims.labels import LABELS
from claims.seedmap import FORM_REASONS, Entry


@dataclass(frozen=True)
class Line:
    """One sentence of the seed as the pages show it."""

    text: str
    kind: str  # heading, or the sentence's status: claim | opinion | context | uncovered
    reason: str  # why an opinion or context sentence is one, in the page's language if known
    claims: list[dict]  # for a claim sentence, its claims in the model


def _reason(entry: Entry, t: dict, lang: str) -> str:
    """Why the sentence is an opinion or context, in the page's language: claims/seedmap.toml
    gives its reasons in both, a sentence's form has its label."""
    if lang == "vi" and entry.reason_vi:
        return entry.reason_vi
    forms = {text: t[f"form_{form}"] for form, text in FORM_REASONS.items()}
    return forms.get(entry.reason, entry.reason)


def _line(entry: Entry, ran: dict[str, dict], t: dict, lang: str) -> Line:
    # the coverage keeps a sentence's form only as its reason: a heading shows as one
    if entry.status == "context" and entry.reason == FORM_REASONS["heading"]:
        return Line(entry.sentence, "heading", "", [])
    claims = [ran[cid] for cid in entry.claims if cid in ran]
    if entry.status == "claim" and not claims:  # its claims have no verdict in this report
        return Line(entry.sentence, "uncovered", "", [])
    return Line(entry.sentence, entry.status, _reason(entry, t, lang), claims)


def lines(model: dict, entries: list[Entry], lang: str) -> list[Line]:
    ran = {c["id"]: c for c in model["claims"]}
    return [_line(entry, ran, LABELS[lang], lang) for entry in entries]


def _markdown(line: Line, envs: list[str], t: dict, lang: str) -> list[str]:
    """A heading, a marked sentence, or a claim sentence with its claims listed under it."""
    if line.kind == "heading":
        return [f"## {line.text}"]
    if line.kind != "claim":
        marker = f"{t[line.kind]}: {line.reason}" if line.reason else t[line.kind]
        return [f"{line.text} *({marker})*"]
    out = [line.text, ""]
    for c in line.claims:
        out.append(f"- [{c['id']}](audit.html#{c['id']}): {labels.badges(c, envs, t)}")
        correction = labels.refuted_correction(c, lang)
        if correction:
            out.append(f"  - **{t['correction']}:** {correction}")
    return out


def render_seed_markdown(model: dict, entries: list[Entry], lang: str = "en") -> str:
    t = LABELS[lang]
    envs = [e["id"] for e in model["environments"]]
    out = [f"# {t['seed_title']}", "", t["seed_hint"]]
    for line in lines(model, entries, lang):
        out += ["", *_markdown(line, envs, t, lang)]
    return "\n".join(out) + "\n"
