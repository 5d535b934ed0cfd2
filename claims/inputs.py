"""The report's inputs and output checked against the JSON Schemas in claims/schemas/: per-run
files, the timing and stability files, and the merged model itself."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from claims import schema
from claims.runfile import RUN_FILES


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


def validate(data: object, name: str, source: str) -> None:
    """Check `data` against one of the schemas shipped in claims/schemas/, or a part of one."""
    error = jsonschema.exceptions.best_match(_validator(name).iter_errors(data))
    if error is not None:
        raise ReportError(f"{source}: field {_field(error)!r}: {error.message}")


def _validator(name: str) -> jsonschema.protocols.Validator:
    """The validator of one schema, or of one part of it (`merged.schema.json#/$defs/...`)."""
    file, _, pointer = name.partition("#")
    whole = schema.validator(file)
    return whole.evolve(schema={"$ref": f"{whole.schema['$id']}#{pointer}"}) if pointer else whole


def load_run(path: Path) -> dict:
    """One per-run JSON file, validated against run.schema.json."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportError(f"{path}: a directory; expected a run file, <env-id>.json "
                          f"(e.g. {path}/{RUN_FILES})") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    validate(data, "run.schema.json", str(path))
    return data


def load_runs(paths: list[Path]) -> list[dict]:
    """Several per-run files, at most one per environment."""
    runs, seen = [], {}
    for path in paths:
        run = load_run(path)
        env_id = run["environment"]["id"]
        if env_id in seen:
            raise ReportError(f"{path}: environment {env_id!r} is also in {seen[env_id]}")
        seen[env_id] = path
        runs.append(run)
    return runs


def load_extra(path: Path | None, part: str) -> dict | None:
    """timing.json or stability.json, written by the plugin and the stability session, checked
    against their part of merged.schema.json (`part`: "timing" or "stability")."""
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: top level must be an object")
    validate(data, f"merged.schema.json#/properties/{part}", str(path))
    return data
