"""The report as self-contained HTML pages (audit.html, and seed.html: the seed annotated),
rendered from the model alone by the Jinja2 templates in claims/templates/, with autoescaping:
no value reaches a page unescaped."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from claims import labels, render_seed
from claims.labels import LABELS
from claims.seedmap import Entry
from claims.vocabulary import VERDICTS

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)

    def asset(name: str) -> Markup:
        """report.css, report.js or seed.css, inlined so the page needs no other file: our own
        text, which escaping would break (a `'` in a script must stay a quote)."""
        return Markup(env.loader.get_source(env, name)[0])

    env.globals.update(asset=asset, labels=labels, verdicts=VERDICTS)
    return env


def render_html(model: dict, lang: str = "en") -> str:
    return environment().get_template("report.html.j2").render(
        model=model, lang=lang, t=LABELS[lang], envs=[e["id"] for e in model["environments"]],
        claims={c["id"]: c for c in model["claims"]})


def render_seed_html(model: dict, entries: list[Entry], lang: str = "en") -> str:
    """seed.html: the seed, sentence by sentence, each claim's verdicts beside its sentence."""
    return environment().get_template("seed.html.j2").render(
        lang=lang, t=LABELS[lang], envs=[e["id"] for e in model["environments"]],
        lines=render_seed.lines(model, entries, lang))
