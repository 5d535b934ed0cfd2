"""Faults of section H: preprocessing, padding and augmentation (questions 18 to 21)."""

from __future__ import annotations

from claims.faults import before_call, dropping, fault, module, padding_read_as, read_as, wrap


@fault("same-padding-is-valid", "H",
       "q19-same-pads-zeros q19-same-keeps-size q19-padding-corners-more-windows",
       "Conv2D(padding='same') convolves as 'valid'")
def _same_padding(keras):
    padding_read_as(keras, {"same": "valid"}, lambda layer: True)


@fault("augmentation-at-inference", "H", "q18-training-only",
       "RandomFlip flips at inference too (rule 7: the correction, every layer but RandomCrop "
       "unchanged at inference, drifts where the claim is refuted)")
def _augmentation(keras):
    before_call(keras.layers.RandomFlip, "call",
                lambda self, data, training=True: ((self, data), {"training": True}))


@fault("same-padding-is-valid-at-stride-3", "H", "q19-same-pads-zeros",
       "Conv2D(padding='same') convolves as 'valid' at stride 3 only (rules 4 and 8: the strategy "
       "draws every stride the claim speaks of, within the budget the profile gives)")
def _same_padding_stride_3(keras):
    padding_read_as(keras, {"same": "valid"}, lambda layer: 3 in layer.strides)


@fault("random-crop-crops-at-inference", "H", "q18-training-only",
       "RandomCrop gives its centred crop at inference, as before Keras 3.8 (rule 3: the verdict "
       "follows what the layer is seen to return)")
def _random_crop(keras):
    def make(original):
        def call(self, inputs, training=True):
            if training:
                return original(self, inputs, training=True)
            return keras.layers.CenterCrop(self.height, self.width)(inputs)
        return call

    wrap(keras.layers.RandomCrop, "call", make)


@fault("random-flip-never-flips", "H",
       "q18-random-variants q18-unwanted-variants q18-reduces-overfitting "
       "q18-augmentation-improves-generalisation",
       "RandomFlip returns its input unchanged in training too")
def _no_flip(keras):
    keras.layers.RandomFlip.call = lambda self, data, training=True: data


@fault("rotation-factor-capped", "H", "q18-layers-configurable",
       "RandomRotation rotates by 0.05 of a turn at most, whatever its factor")
def _rotation(keras):
    read_as(keras.layers.RandomRotation, "factor",
            lambda layer, factor: (max(factor[0], -0.05), min(factor[1], 0.05)))


@fault("augmentation-doubles-the-batch", "H", "q18-enlarges-training-set",
       "each augmentation layer returns two variants of every image in training, so the "
       "training set grows, as the seed says")
def _doubles(keras):
    def make(original):
        def call(self, data, training=True, *args, **kwargs):
            out = original(self, data, training, *args, **kwargs)
            return keras.ops.concatenate([out, out]) if training else out
        return call

    for name in ("RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                 "RandomContrast", "RandomCrop", "RandomBrightness"):
        wrap(getattr(keras.layers, name), "call", make)


dropping("augmentation-layer-dropped", "H", "q18-augmentation-layers-exist", "layers",
         "RandomBrightness")


@fault("square-keeps-the-sign", "H", "q20-ops-equal-numpy",
       "keras.ops.square computes x * |x|")
def _square(keras):
    keras.ops.square = lambda x: keras.ops.multiply(x, keras.ops.abs(x))


@fault("ops-are-numpys", "H", "q20-ops-fewer-than-numpy",
       "keras.ops offers NumPy's own functions, every one of them")
def _ops_numpy(keras):
    import numpy as np

    def on_tensors(function):
        def call(*args, **kwargs):
            args, kwargs = keras.tree.map_structure(
                lambda v: keras.ops.convert_to_numpy(v) if keras.ops.is_tensor(v) else v,
                (args, kwargs))
            return function(*args, **kwargs)
        return call

    for name in dir(np):
        if callable(getattr(np, name)) and not name.startswith("_"):
            setattr(keras.ops, name, on_tensors(getattr(np, name)))


dropping("ops-api-dropped", "H", "q20-ops-api-exists", "", "ops", ", as Keras 2 did not")
dropping("timeseries-helper-dropped", "H", "q20-preprocessing-outside-keras", "utils",
         "timeseries_dataset_from_array", ", as the seed says")


@fault("normalization-adapts-nothing", "H", "q21-normalisation-helps",
       "Normalization.adapt keeps mean 0 and variance 1 whatever the data")
def _adapt(keras):
    def adapt(self, data, *args, **kwargs):
        if not self.built:
            self.build((None, data.shape[-1]))

    keras.layers.Normalization.adapt = adapt


@fault("valid-padding-is-same", "H",
       "q19-corner-pixels-fewer-windows q19-valid-adds-no-padding q19-valid-shrinks-output",
       "Conv2D(padding='valid') convolves as 'same'")
def _valid_padding(keras):
    padding_read_as(keras, {"valid": "same"}, lambda layer: True)


@fault("padding-takes-any-text", "H", "q19-padding-two-choices",
       "Conv2D takes any padding text, reading what it does not know as 'valid'")
def _padding_text(keras):
    base_conv = module("layers.convolutional.base_conv")

    def make(original):
        def standardize_padding(value, *args, **kwargs):
            try:
                return original(value, *args, **kwargs)
            except ValueError:
                return "valid"
        return standardize_padding

    wrap(base_conv, "standardize_padding", make)
