"""Deliberately broken Keras, to prove the audit can fail: the faults, one module per section.

`CLAIMS_MUTANT=<name>` makes `claims.target.load_keras()` patch one plausible bug into the Keras
under audit (Keras 3 internals: the `mutants` session runs in the default environment); children
that load Keras inherit it. Each fault names the claims whose tests must notice it (a changed
verdict, drift, or a correction that no longer verifies), and only their tests run under it:
for a claim that holds, Keras broken so that the statement is false; for one that is refuted,
Keras made to behave as the seed says.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    section: str
    claims: tuple[str, ...]  # the claims whose tests run under it
    description: str
    inject: Callable


FAULTS: dict[str, Fault] = {}


def fault(name: str, section: str, claims: str, description: str):
    """Register a fault: `claims`, space-separated ids, are those it must change."""
    def register(inject):
        FAULTS[name] = Fault(name, section, tuple(claims.split()), description, inject)
        return inject

    return register


def wrap(owner, attribute: str, make: Callable) -> None:
    """Replace `owner.attribute` by `make(original)`."""
    original = getattr(owner, attribute)
    setattr(owner, attribute, functools.wraps(original)(make(original)))


def after_load(keras, change: Callable) -> None:
    """Make load_model (both of its names) pass every model it loads through `change`."""
    def make(original):
        def load_model(*args, **kwargs):
            model = original(*args, **kwargs)
            change(model)
            return model
        return load_model

    wrap(keras.saving, "load_model", make)
    keras.models.load_model = keras.saving.load_model


def module(name: str):
    """A module of the Keras under audit's internals (Keras 3)."""
    return importlib.import_module(f"keras.src.{name}")


def padding_read_as(keras, swap: dict[str, str], when: Callable) -> None:
    """Conv2D reads its padding through `swap` ('same' -> 'valid') where `when(layer)`. A
    property, not a wrapped __init__, because Keras builds a layer's config from its
    __init__'s exact signature."""
    def read(self):
        padding = self.__dict__.get("_claims_padding")
        return swap.get(padding, padding) if when(self) else padding

    def write(self, value):
        self.__dict__["_claims_padding"] = value

    keras.layers.Conv2D.padding = property(read, write)


# Each section's module registers its faults when imported.
from claims.faults import (  # noqa: E402
    a_saving,
    b_models,
    c_big_data,
    d_debugging,
    e_sequential_functional,
    f_distributed,
    g_frameworks,
    h_preprocessing,
    i_demo,
    k_others,
)

__all__ = ["FAULTS", "Fault", "after_load", "fault", "module", "padding_read_as", "wrap",
           "a_saving", "b_models", "c_big_data", "d_debugging", "e_sequential_functional",
           "f_distributed", "g_frameworks", "h_preprocessing", "i_demo", "k_others"]
