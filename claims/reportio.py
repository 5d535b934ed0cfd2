"""Small helpers shared by the plugin, the report and the command line (standard library only:
the command line runs on a bare Python)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp makes the file 0600; a report is read by others (a colleague, a web server)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask, which os.umask can only read by setting it."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def one_line(text: str, limit: int = 600) -> str:
    """Whitespace collapsed, cut to `limit` characters: one line of evidence."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Sessions whose runs supplement the audit's, each in its own reports/<name>/ folder.
SUPPLEMENTS = {
    "bench": "the benchmark claims, run apart so the audit stays fast",
    "table": "the slow group (the whole pretrained-model table), run apart likewise",
    "tfjs": "the TF.js claim, in venvs that add the tensorflowjs converter",
}
