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


def before_call(owner, attribute: str, adjust: Callable) -> None:
    """`owner.attribute` is called with the arguments `adjust(*args, **kwargs)` returns, as
    (args, kwargs); for a method, args start with the instance."""
    def make(original):
        def call(*args, **kwargs):
            args, kwargs = adjust(*args, **kwargs)
            return original(*args, **kwargs)
        return call

    wrap(owner, attribute, make)


def with_arguments(owner, attribute: str, *, force: bool = False, **values) -> None:
    """`owner.attribute` takes `values` for the keyword arguments its caller leaves out (a
    changed default), or in place of the caller's own with `force`."""
    before_call(owner, attribute, lambda *args, **kwargs: (
        args, {**kwargs, **values} if force else {**values, **kwargs}))


def after_call(owner, attribute: str, change: Callable) -> None:
    """`owner.attribute` returns `change(what it returned)`."""
    wrap(owner, attribute, lambda original: lambda *args, **kwargs: change(
        original(*args, **kwargs)))


def patch_load_model(keras, patch: Callable) -> None:
    """`patch(keras.saving, "load_model")`, keras.models' name for it following."""
    patch(keras.saving, "load_model")
    keras.models.load_model = keras.saving.load_model


def after_load(keras, change: Callable) -> None:
    """Make load_model (both of its names) pass every model it loads through `change`."""
    def changed(model):
        change(model)
        return model

    patch_load_model(keras, lambda owner, attribute: after_call(owner, attribute, changed))


def dropping(name: str, section: str, claims: str, owner: str, attribute: str,
             why: str = "") -> None:
    """Register a fault that removes `keras.<owner>.<attribute>` (owner "": keras itself)."""
    def inject(keras):
        delattr(functools.reduce(getattr, owner.split(".") if owner else [], keras), attribute)

    where = f"keras.{owner}" if owner else "keras"
    fault(name, section, claims, f"{where} no longer exports {attribute}{why}")(inject)


def module(name: str):
    """A module of the Keras under audit's internals (Keras 3)."""
    return importlib.import_module(f"keras.src.{name}")


def read_as(cls, attribute: str, change: Callable) -> None:
    """Instances of `cls` read `attribute` as `change(instance, value set)`. A property, not a
    wrapped __init__, because Keras builds a layer's config from its __init__'s exact
    signature."""
    kept = f"_claims_{attribute}"

    def read(self):
        if kept not in self.__dict__:
            raise AttributeError(attribute)  # not set yet: what TensorFlow's tracking asks
        return change(self, self.__dict__[kept])

    def write(self, value):
        self.__dict__[kept] = value

    setattr(cls, attribute, property(read, write))


def padding_read_as(keras, swap: dict[str, str], when: Callable) -> None:
    """Conv2D reads its padding through `swap` ('same' -> 'valid') where `when(layer)`."""
    read_as(keras.layers.Conv2D, "padding",
            lambda layer, padding: swap.get(padding, padding) if when(layer) else padding)


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

__all__ = ["FAULTS", "Fault", "after_call", "after_load", "before_call", "dropping", "fault",
           "module", "padding_read_as", "patch_load_model", "read_as", "with_arguments", "wrap",
           "a_saving", "b_models", "c_big_data", "d_debugging", "e_sequential_functional",
           "f_distributed", "g_frameworks", "h_preprocessing", "i_demo", "k_others"]
