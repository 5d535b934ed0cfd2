"""The JSON Schemas of claims/schemas/: one registry, so each schema may refer to the others."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
from referencing import Registry, Resource

from claims.vocabulary import SCHEMA_DIR


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """The validator of `claims/schemas/<name>`, with every schema there resolvable by $ref."""
    schemas = [json.loads(p.read_text(encoding="utf-8"))
               for p in sorted(SCHEMA_DIR.glob("*.schema.json"))]
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas)
    schema = next(s for s in schemas if s["$id"].endswith("/" + name))
    return jsonschema.Draft202012Validator(schema, registry=registry)


def first_error(data: object, name: str, strong: frozenset[str] = frozenset()
                ) -> jsonschema.ValidationError | None:
    """The most relevant violation of schema `name` in `data`, or None when it is valid;
    violations of the `strong` keywords (e.g. additionalProperties) come first."""
    key = jsonschema.exceptions.by_relevance(strong=strong)
    return jsonschema.exceptions.best_match(validator(name).iter_errors(data), key=key)
