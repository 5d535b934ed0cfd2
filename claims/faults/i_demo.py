"""Faults of section I: the validation demo (question 22)."""

from __future__ import annotations

import math

from claims.faults import before_call, fault, module, with_arguments


@fault("validation-split-takes-first", "I", "q22-validation-split-from-train",
       "validation_split holds out the first fraction of the samples instead of the last")
def _validation_split(keras):
    slicing = module("trainers.data_adapters.array_slicing")

    def first_fraction(arrays, validation_split):
        leaves = [a for a in keras.tree.flatten(arrays) if a is not None]
        n = int(leaves[0].shape[0])
        held = n - math.floor(n * (1.0 - validation_split))

        def cut(part):
            return keras.tree.map_structure(lambda a: None if a is None else a[part], arrays)

        return cut(slice(held, None)), cut(slice(0, held))

    slicing.train_validation_split = first_fraction


@fault("validation-every-other-epoch", "I", "q22-validation-evaluated-each-epoch",
       "fit evaluates the validation data every second epoch (validation_freq=2 by default)")
def _validation_freq(keras):
    with_arguments(keras.Model, "fit", validation_freq=2)


@fault("validation-data-trains", "I", "q22-validation-does-not-train",
       "fit takes one training step on the validation data before it trains")
def _validation_trains(keras):
    def step_on_validation(self, *args, validation_data=None, **kwargs):
        if isinstance(validation_data, tuple) and len(validation_data) >= 2:
            self.train_on_batch(*validation_data[:2])
        return (self, *args), {**kwargs, "validation_data": validation_data}

    before_call(keras.Model, "fit", step_on_validation)
