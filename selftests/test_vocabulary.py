"""The shared vocabulary and the JSON Schemas that define it: one source, used everywhere."""

from __future__ import annotations

import json
import tomllib

import pytest

from claims import catalog, vocabulary
from claims.schema import first_error, validator

SCHEMAS = sorted(p.name for p in vocabulary.SCHEMA_DIR.glob("*.schema.json"))


def test_severity_orders_every_verdict_once():
    assert sorted(vocabulary.SEVERITY) == sorted(vocabulary.VERDICTS)


def test_recordable_verdicts_are_verdicts():
    assert set(vocabulary.RECORDABLE) < set(vocabulary.VERDICTS)


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_schema_is_valid_and_its_references_resolve(name):
    checker = validator(name)
    checker.check_schema(checker.schema)
    # walking an empty instance through every $ref fails loudly on one that does not resolve
    list(checker.iter_errors({}))


def test_every_catalog_file_satisfies_the_catalog_schema():
    for path in sorted(catalog.CATALOG_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert first_error(data, "catalog.schema.json") is None, path.name


def test_the_schemas_take_the_claim_id_pattern_from_the_vocabulary():
    run = {"schema": vocabulary.SCHEMA_VERSION, "environment": {
        "id": "keras-3.0.0-jax", "keras": "3.0.0", "backend": "jax", "python": "3.11",
        "packages": {}}, "claims": [{"id": "q25-ok", "questions": [25], "section": "K",
                                     "statement": "s", "quote": "q", "verdict": "holds",
                                     "expected": None, "drift": False, "evidence": "",
                                     "correction": None, "tests": []}]}
    assert first_error(run, "run.schema.json") is None
    for bad in ("Q25 x", "q25-", "q25-a--b"):
        run["claims"][0]["id"] = bad
        assert vocabulary.CLAIM_ID.match(bad) is None
        assert first_error(run, "run.schema.json") is not None, bad


def test_the_common_schema_is_the_one_place_of_the_vocabulary():
    text = json.dumps([json.loads((vocabulary.SCHEMA_DIR / n).read_text()) for n in SCHEMAS
                       if n != "common.schema.json"])
    assert '"not-applicable"' not in text  # verdict names only in common.schema.json
    assert '"openvino"' not in text
