"""Faults of section E: Sequential and Functional models (questions 11 and 12)."""

from __future__ import annotations

from claims.faults import after_call, before_call, fault, module


@fault("sequential-skips-last-layer", "E", "q11-sequential-linear-stack",
       "Sequential.call stops one layer short")
def _sequential(keras):
    def call(self, inputs, training=None, mask=None, **kwargs):
        x = inputs
        for layer in self.layers[:-1]:
            x = layer(x)
        return x

    keras.Sequential.call = call


@fault("functional-outputs-reversed", "E", "q11-functional-multi-io",
       "a Functional model called eagerly returns its outputs in reverse order (fit's traced "
       "calls keep the order)")
def _outputs(keras):
    import tensorflow as tf

    def reversed_when_eager(outputs):
        if isinstance(outputs, (list, tuple)) and tf.executing_eagerly():
            return outputs[::-1]
        return outputs

    after_call(module("models.functional").Functional, "call", reversed_when_eager)


@fault("functional-zeroes-last-input", "E",
       "q12-vqa-image-and-question q11-data-of-several-forms",
       "a Functional model with several inputs reads its last one as zeros")
def _inputs(keras):
    def last_zeroed(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and len(inputs) > 1:
            inputs = [*inputs[:-1], keras.ops.zeros_like(inputs[-1])]
        return (self, inputs, *args), kwargs

    before_call(module("models.functional").Functional, "call", last_zeroed)


@fault("sequential-refuses-two-outputs", "E", "q11-sequential-single-io",
       "Sequential refuses a layer that returns several tensors, as the seed says")
def _sequential_outputs(keras):
    def one_tensor(outputs):
        if isinstance(outputs, (list, tuple)):
            raise ValueError("each layer of a Sequential model must return one tensor")
        return outputs

    after_call(keras.Sequential, "call", one_tensor)


@fault("two-input-layers-take-one", "E", "q12-transformer-needs-functional",
       "a layer that joins two tensors, given one, joins it with itself: MultiHeadAttention's "
       "value defaults to its query, a merge layer repeats its one input")
def _one_input(keras):
    before_call(keras.layers.MultiHeadAttention, "call", lambda self, query, value=None, *args,
                **kwargs: ((self, query, query if value is None else value, *args), kwargs))
    merge = module("layers.merging.base_merge").Merge

    def doubled(first):
        # shapes are lists of dims: a list of several inputs' shapes holds lists or tuples
        several = isinstance(first, list | tuple) and all(
            isinstance(part, list | tuple) or hasattr(part, "shape") for part in first)
        return first if several else [first, first]

    def twice(self, *args, **kwargs):
        if args:
            return (self, doubled(args[0]), *args[1:]), kwargs
        key = next(k for k in ("inputs", "input_shape") if k in kwargs)
        return (self,), {**kwargs, key: doubled(kwargs[key])}

    for name in ("build", "call", "compute_output_shape", "compute_mask"):
        before_call(merge, name, twice)
