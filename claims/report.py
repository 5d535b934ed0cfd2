"""Merge per-run JSON files into the audit report: Markdown, one self-contained HTML page, JSON;
and the seed annotated with the verdicts (seed.md, seed.html).

`merge` (claims/model.py) builds the one data model, checked against merged.schema.json; the
renderers (render_md.py, render_html.py, render_seed.py) read only that model, with the seed's
coverage (claims/seedmap.py) for the seed's pages, and audit.json is the model.
Every input is validated before anything is written, and each output is replaced atomically,
so a bad input leaves an earlier report untouched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from claims import seedmap
from claims.catalog import Claim
from claims.inputs import ReportError, load_run, validate
from claims.labels import LABELS
from claims.model import merge
from claims.render_html import render_html, render_seed_html
from claims.render_md import md_table, render_markdown
from claims.render_seed import render_seed_markdown
from claims.reportio import write_atomic

__all__ = ["ReportError", "coverage_by", "load_run", "md_table", "merge", "render_html",
           "render_markdown", "render_seed_html", "render_seed_markdown", "validate",
           "write_report"]


def coverage_by(model: dict) -> seedmap.Coverage:
    """The seed's coverage as `claims coverage` gives it, its quotes those of the model's claims
    (the catalog's, as the runs state them): the catalog is read once per report, and a claim
    the runs did not check quotes nothing here."""
    claims = {c["id"]: Claim(c["id"], tuple(c["questions"]), c["section"], c["quote"],
                             c["statement"], "audit.json") for c in model["claims"]}
    try:
        seed = seedmap.SEED.read_text(encoding="utf-8")
        return seedmap.coverage(seedmap.sentences(seed), claims, seedmap.load_map())
    except (OSError, ValueError, re.error) as exc:  # the seed, or a bad claims/seedmap.toml
        raise ReportError(f"the seed's coverage: {exc}") from None


def write_report(paths: list[Path], out_dir: Path, lang: str = "en",
                 supplements: dict[str, list[Path]] | None = None, timing: Path | None = None,
                 stability: Path | None = None, sweep: list[Path] | None = None,
                 coverage: seedmap.Coverage | None = None, proof: Path | None = None) -> dict:
    """Validate every input, then write audit.md, audit.html and audit.json, and seed.md and
    seed.html, into `out_dir`; the sweep's run files, where given, make
    the release timeline. `coverage` is the seed's, the real seed's by default."""
    if lang not in LABELS:
        raise ReportError(f"unknown language {lang!r}: use one of {sorted(LABELS)}")
    model = merge([Path(p) for p in paths],
                  {name: [Path(p) for p in files] for name, files in (supplements or {}).items()},
                  timing, stability, [Path(p) for p in sweep or []], proof)
    entries = (coverage or coverage_by(model)).entries
    texts = {
        "audit.md": render_markdown(model, lang),
        "audit.html": render_html(model, lang),
        "audit.json": json.dumps(model, indent=1, ensure_ascii=False) + "\n",
        "seed.md": render_seed_markdown(model, entries, lang),
        "seed.html": render_seed_html(model, entries, lang),
    }
    for name, text in texts.items():
        write_atomic(Path(out_dir) / name, text)
    return model
