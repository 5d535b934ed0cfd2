"""Merge per-run JSON files into the audit report: Markdown, one self-contained HTML page, JSON.

`merge` (claims/model.py) builds the one data model, checked against merged.schema.json; the
renderers (render_md.py, render_html.py) read only that model, and audit.json is the model.
Every input is validated before anything is written, and each output is replaced atomically,
so a bad input leaves an earlier report untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

from claims.inputs import ReportError, load_run, validate
from claims.labels import LABELS
from claims.model import merge
from claims.render_html import render_html
from claims.render_md import md_table, render_markdown
from claims.reportio import write_atomic

__all__ = ["ReportError", "load_run", "md_table", "merge", "render_html", "render_markdown",
           "validate", "write_report"]


def write_report(paths: list[Path], out_dir: Path, lang: str = "en",
                 supplements: dict[str, list[Path]] | None = None, timing: Path | None = None,
                 stability: Path | None = None) -> dict:
    """Validate every input, then write audit.md, audit.html and audit.json into `out_dir`."""
    if lang not in LABELS:
        raise ReportError(f"unknown language {lang!r}: use one of {sorted(LABELS)}")
    model = merge([Path(p) for p in paths],
                  {name: [Path(p) for p in files] for name, files in (supplements or {}).items()},
                  timing, stability)
    texts = {
        "audit.md": render_markdown(model, lang),
        "audit.html": render_html(model, lang),
        "audit.json": json.dumps(model, indent=1, ensure_ascii=False) + "\n",
    }
    for name, text in texts.items():
        write_atomic(Path(out_dir) / name, text)
    return model
