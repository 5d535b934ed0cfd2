"""Fixtures that several test files share."""

from __future__ import annotations

import importlib.util

import pytest

from tests.checks import PORTABILITY


def portability_maker():
    """fixtures/portability/make.py, which builds the fixed model every file there holds."""
    spec = importlib.util.spec_from_file_location("portability_make", PORTABILITY / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def portable_model(keras):
    """The fixed model built here, the fixed input, and the model's predictions on it: what
    every saved file must load as (test_a_portability) and TF.js must predict (test_a_tfjs)."""
    make = portability_maker()
    model, x = make.build(keras), make.sample_input()
    return model, x, model.predict(x, verbose=0)
