"""Faults of section E: Sequential and Functional models (questions 11 and 12)."""

from __future__ import annotations

from claims.faults import fault, module, wrap


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

    eager = tf.executing_eagerly

    def make(original):
        def call(self, *args, **kwargs):
            outputs = original(self, *args, **kwargs)
            if isinstance(outputs, (list, tuple)) and eager():
                return outputs[::-1]
            return outputs
        return call

    wrap(module("models.functional").Functional, "call", make)


@fault("functional-zeroes-last-input", "E",
       "q12-vqa-image-and-question q11-data-of-several-forms",
       "a Functional model with several inputs reads its last one as zeros")
def _inputs(keras):
    def make(original):
        def call(self, inputs, *args, **kwargs):
            if isinstance(inputs, (list, tuple)) and len(inputs) > 1:
                inputs = [*inputs[:-1], keras.ops.zeros_like(inputs[-1])]
            return original(self, inputs, *args, **kwargs)
        return call

    wrap(module("models.functional").Functional, "call", make)


@fault("sequential-refuses-two-outputs", "E", "q11-sequential-single-io",
       "Sequential refuses a layer that returns several tensors, as the seed says")
def _sequential_outputs(keras):
    def make(original):
        def call(self, *args, **kwargs):
            outputs = original(self, *args, **kwargs)
            if isinstance(outputs, (list, tuple)):
                raise ValueError("each layer of a Sequential model must return one tensor")
            return outputs
        return call

    wrap(keras.Sequential, "call", make)
