"""Section A, beyond the seed: a model file saved by any Keras version and backend of the matrix
loads in every other one (question 1: "Keras supports save, serialise of models")."""

from __future__ import annotations

import json

import numpy as np
import pytest

from claims.plugin import describe
from tests.checks import GRAPH, PORTABILITY

PORTABILITY_TABLE = "Portability: file saved by (row) x loaded by (column)"
# What each name holds when `save` writes the format the name promises.
PROMISED_FORMAT = {".keras": "keras-zip", ".h5": "hdf5"}


def portability_files():
    """Every file of fixtures/portability/, labelled by the environment that saved it (and the
    format, where it is not the one the name promises)."""
    params = []
    for record_path in sorted(PORTABILITY.glob("*.json")):
        record = json.loads(record_path.read_text())
        for suffix, written in record["files"].items():
            name = f"{record['environment']}{suffix}"
            label = name + ("" if written == PROMISED_FORMAT[suffix] else f" ({written})")
            params.append(pytest.param(PORTABILITY / name, label, id=name))
    return params


@pytest.mark.claim("q1-portable-files")
@pytest.mark.parametrize(("path", "label"), portability_files())
def test_a_file_saved_in_any_environment_loads_here_with_the_same_model(
        keras, measure, portable_model, path, label):
    """load_model reads the file another Keras version or backend saved (fixtures/portability,
    `nox -s portability`): the same weights, and the predictions of the same model built here."""
    try:
        model = keras.models.load_model(str(path), compile=False)
    except (ValueError, TypeError) as exc:  # how load_model refuses a file it cannot read
        measure(table=PORTABILITY_TABLE, row=label, cell="fails", verdict="refuted",
                detail=describe(exc))
        raise AssertionError(f"{path.name} does not load: {describe(exc)}") from exc
    reference, x, expected = portable_model
    weights = reference.get_weights()
    got = model.predict(x, verbose=0)
    same_weights = len(weights) == len(model.get_weights()) and all(
        np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))
    # the same weights through the same kernels: only a different graph could round otherwise
    same = same_weights and got.shape == expected.shape and np.allclose(got, expected, **GRAPH)
    detail = ("weights differ" if not same_weights
              else f"max abs prediction difference {np.max(np.abs(got - expected)):.1e}")
    if same:
        measure(table=PORTABILITY_TABLE, row=label, cell="loads and matches", verdict="holds")
    else:
        measure(table=PORTABILITY_TABLE, row=label, cell="loads but differs", verdict="refuted",
                detail=detail)
    assert same, f"{path.name} loads but holds another model: {detail}"

