"""Faults of section G: Keras beside the other frameworks (questions 15 to 17)."""

from __future__ import annotations

from claims.faults import before_call, fault, module


@fault("frozen-model-still-trains", "G", "q15-transfer-learning-new-head",
       "setting model.trainable = False is ignored")
def _trainable(keras):
    layer_trainable = keras.layers.Layer.trainable
    keras.Model.trainable = property(layer_trainable.fget,
                                     lambda self, value: layer_trainable.fset(self, True))


@fault("weights-default-none", "G", "q15-pretrained-models-available",
       "VGG16, ResNet50 and InceptionV3 default to weights=None")
def _weights_default(keras):
    # not wrap(): functools.wraps would make inspect.signature show the original default
    def untrained(original):
        def constructor(*args, weights=None, **kwargs):
            return original(*args, weights=weights, **kwargs)
        return constructor

    for name in ("VGG16", "ResNet50", "InceptionV3"):
        setattr(keras.applications, name, untrained(getattr(keras.applications, name)))


@fault("preprocess-input-forgets-shift", "G", "q15-pretrained-tools",
       "mobilenet_v2.preprocess_input scales to 0..2 (x / 127.5, the - 1 forgotten)")
def _preprocess(keras):
    keras.applications.mobilenet_v2.preprocess_input = lambda x, data_format=None: x / 127.5


@fault("softmax-over-the-batch", "G", "q15-prototyping-few-lines",
       "softmax normalises over the batch axis instead of the last")
def _softmax(keras):
    before_call(module("ops"), "softmax", lambda x, axis=-1: ((x,), {"axis": 0}))


@fault("fit-drops-last-sample", "G", "q17-tensorflow-step-control",
       "fit drops the last sample of the arrays it is given")
def _fit_drops(keras):
    import numpy as np

    def last_dropped(self, x=None, y=None, *args, **kwargs):
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and len(x) > 1:
            x, y = x[:-1], y[:-1]
        return (self, x, y, *args), kwargs

    before_call(keras.Model, "fit", last_dropped)
