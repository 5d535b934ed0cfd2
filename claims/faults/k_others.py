"""Faults of section K: plots, Flatten and the seminar's CNN (questions 23 to 25)."""

from __future__ import annotations

from claims.faults import after_call, before_call, dropping, fault


@fault("flatten-reorders", "K", "q25-flatten-keeps-batch",
       "Flatten reverses the order of the features")
def _flatten(keras):
    after_call(keras.layers.Flatten, "call", lambda out: keras.ops.flip(out, axis=-1))


@fault("count-params-off-by-one", "K",
       "q25-flatten-3136 q25-summary-zero-param-layers q4-table-parameters "
       "q9-summary-params-and-shapes",
       "count_params counts one parameter too many")
def _count_params(keras):
    after_call(keras.layers.Layer, "count_params", lambda count: count + 1)


@fault("channels-first-by-default", "K", "q25-conv-pool-output-channels-last",
       "the image data format defaults to channels_first")
def _channels_first(keras):
    keras.config.set_image_data_format("channels_first")


@fault("flatten-keeps-last-axis", "K", "q25-flatten-to-1d q25-none-is-batch",
       "Flatten keeps the last axis: (batch, d1*...*dk-1, dk)")
def _flatten_last(keras):
    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        return keras.ops.reshape(inputs, (shape[0], -1, shape[-1]))

    keras.layers.Flatten.call = call


@fault("dense-wants-flat-input", "K", "q25-flatten-required-before-dense",
       "Dense refuses an input of more than two axes, as the seed says")
def _dense_flat(keras):
    def refuse_unflattened(self, input_shape):
        if len(input_shape) > 2:
            raise ValueError(f"Dense needs a (batch, features) input, got {input_shape}")
        return (self, input_shape), {}

    before_call(keras.layers.Dense, "build", refuse_unflattened)


@fault("plot-model-writes-nothing", "K", "q23-plot-model-writes-png",
       "plot_model draws the model but writes no file")
def _plot_nothing(keras):
    keras.utils.plot_model = lambda model, *args, **kwargs: keras.utils.model_to_dot(model)


@fault("model-to-dot-writes-a-file", "K", "q23-model-to-dot-writes-nothing",
       "model_to_dot also writes model.png in the working folder")
def _dot_writes(keras):
    def written(dot):
        dot.write("model.png", format="png")
        return dot

    after_call(keras.utils, "model_to_dot", written)


dropping("plot-model-dropped", "K", "q23-plot-model-and-model-to-dot-exist", "utils",
         "plot_model")
