"""The words every part of the audit shares, each defined once.

The verdict names, the question range, the claim-id pattern and the file format version are read
from `schemas/common.schema.json`, which the JSON Schemas of the catalog, the run files and the
merged report refer to, so code and schemas cannot disagree. Standard library only: the command
line and the noxfile import it on a bare Python.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

SCHEMA_DIR = Path(__file__).parent / "schemas"
_DEFS = json.loads((SCHEMA_DIR / "common.schema.json").read_text(encoding="utf-8"))["$defs"]

SCHEMA_VERSION: int = _DEFS["schemaVersion"]["const"]
# in the order the report lists them
VERDICTS: tuple[str, ...] = tuple(_DEFS["verdict"]["enum"])
# the verdicts a catalog rule may record; untestable and error are never observed findings
RECORDABLE: tuple[str, ...] = tuple(_DEFS["recordable"]["enum"])
# the most severe first: where two runs check one claim in one environment, the first stands
SEVERITY = ("error", "refuted", "holds", "not-applicable", "untestable")
QUESTIONS = range(_DEFS["question"]["minimum"], _DEFS["question"]["maximum"] + 1)
CLAIM_ID = re.compile(_DEFS["claimId"]["pattern"])
SECTIONS: tuple[str, ...] = tuple(_DEFS["section"]["enum"])  # the seed has no section J
BACKENDS: tuple[str, ...] = tuple(_DEFS["backend"]["enum"])
PACKAGES: tuple[str, ...] = tuple(_DEFS["package"]["enum"])

# The environment `claims audit` checks when none is named, and the bench, stability, mutants
# and envfaults sessions run in.
DEFAULT_ENV = "keras-3.15.1-tensorflow"
