"""Deliberately broken Keras, to prove the audit can fail.

`CLAIMS_MUTANT=<name>` makes `claims.target.load_keras()` patch one plausible bug into the Keras
under audit (Keras 3 internals: the `mutants` session runs in the default environment). Each
fault names the section whose tests must notice it: a changed verdict, drift, or a correction
that no longer verifies.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Fault:
    name: str
    section: str
    tests: str  # the section's test file, relative to the project root
    description: str
    inject: Callable


FAULTS: dict[str, Fault] = {}


def fault(name: str, section: str, tests: str, description: str):
    def register(inject):
        FAULTS[name] = Fault(name, section, f"tests/{tests}", description, inject)
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


@fault("load-model-perturbs-weight", "A", "test_a_saving.py",
       "load_model adds 0.01 to the first weight it loads")
def _load_model(keras):
    def perturb(model):
        if model.weights:
            weights = model.get_weights()
            weights[0] = weights[0] + 0.01
            model.set_weights(weights)

    after_load(keras, perturb)


# One fault per rule of tests/README.md that a test of these sections follows: each would pass
# unnoticed by the weaker test the rule replaced.
@fault("lambda-never-runs", "A", "test_a_security.py",
       "a Lambda layer returns its input without calling its function (rule 6: a payload that "
       "merely broke would read 'safe' without the positive control)")
def _lambda(keras):
    keras.layers.Lambda.call = lambda self, inputs, mask=None, training=None: inputs


@fault("load-model-resets-optimizer", "A", "test_a_portability.py",
       "load_model restores the weights but resets the optimizer's step count (rule 4: an "
       "uncompiled model loaded with compile=False never shows it)")
def _optimizer_reset(keras):
    def reset(model):
        if getattr(model, "optimizer", None) is not None:
            model.optimizer.iterations.assign(0)

    after_load(keras, reset)


@fault("model-to-dot-hides-shapes", "D", "test_d_debugging.py",
       "model_to_dot ignores show_shapes (rule 2: what plot_model draws, not its signature; "
       "rule 7: the correction's per-version rule drifts)")
def _model_to_dot(keras):
    def make(original):
        def model_to_dot(*args, **kwargs):
            return original(*args, **{**kwargs, "show_shapes": False})
        return model_to_dot

    wrap(keras.utils, "model_to_dot", make)


@fault("stop-training-ignored", "D", "test_d_debugging.py",
       "fit ignores model.stop_training set by a callback (rule 5: the callback's substance is "
       "its own claim)")
def _stop_training(keras):
    keras.Model.stop_training = property(lambda self: False, lambda self, value: None)


@fault("application-export-dropped", "B", "test_b_models.py",
       "keras.applications no longer exports EfficientNetB4")
def _applications(keras):
    delattr(keras.applications, "EfficientNetB4")


@fault("pydataset-drops-last-batch", "C", "test_c_big_data.py",
       "fit takes one batch fewer than a PyDataset's len() each epoch")
def _pydataset(keras):
    adapters = importlib.import_module("keras.src.trainers.data_adapters.py_dataset_adapter")
    counted = adapters.PyDatasetAdapter.num_batches.fget

    def num_batches(self):
        n = counted(self)
        return n - 1 if n and n > 1 else n

    adapters.PyDatasetAdapter.num_batches = property(num_batches)


@fault("early-stopping-never-stops", "D", "test_d_debugging.py",
       "EarlyStopping never stops training")
def _early_stopping(keras):
    keras.callbacks.EarlyStopping.on_epoch_end = lambda self, epoch, logs=None: None


@fault("sequential-skips-last-layer", "E", "test_e_sequential_functional.py",
       "Sequential.call stops one layer short")
def _sequential(keras):
    def call(self, inputs, training=None, mask=None, **kwargs):
        x = inputs
        for layer in self.layers[:-1]:
            x = layer(x)
        return x

    keras.Sequential.call = call


@fault("data-parallel-dropped", "F", "test_f_distributed.py",
       "keras.distribution no longer exports DataParallel")
def _data_parallel(keras):
    delattr(keras.distribution, "DataParallel")


@fault("data-parallel-raises", "F", "test_f_distributed.py",
       "keras.distribution.DataParallel raises when built, as on TensorFlow up to 3.13.1 (rule 1: "
       "the TensorFlow cell is run, not inferred from the backend's name, so a change of what "
       "happens there shows)")
def _data_parallel_raises(keras):
    def make(original):
        def __init__(self, *args, **kwargs):
            raise NotImplementedError("DataParallel is not supported on this backend")
        return __init__

    wrap(keras.distribution.DataParallel, "__init__", make)


@fault("frozen-model-still-trains", "G", "test_g_frameworks.py",
       "setting model.trainable = False is ignored")
def _trainable(keras):
    layer_trainable = keras.layers.Layer.trainable
    keras.Model.trainable = property(layer_trainable.fget,
                                     lambda self, value: layer_trainable.fset(self, True))


def padding_read_as_valid(keras, when: Callable) -> None:
    """Conv2D reads its padding 'same' as 'valid' where `when(layer)`. A property, not a wrapped
    __init__, because Keras builds a layer's config from its __init__'s exact signature."""
    def read(self):
        padding = self.__dict__.get("_claims_padding")
        return "valid" if padding == "same" and when(self) else padding

    def write(self, value):
        self.__dict__["_claims_padding"] = value

    keras.layers.Conv2D.padding = property(read, write)


@fault("same-padding-is-valid", "H", "test_h_preprocessing.py",
       "Conv2D(padding='same') convolves as 'valid'")
def _same_padding(keras):
    padding_read_as_valid(keras, lambda layer: True)


@fault("augmentation-at-inference", "H", "test_h_preprocessing.py",
       "RandomFlip flips at inference too (rule 7: the correction, every layer but RandomCrop "
       "unchanged at inference, drifts where the claim is refuted)")
def _augmentation(keras):
    def make(original):
        def call(self, data, training=True):
            return original(self, data, training=True)
        return call

    wrap(keras.layers.RandomFlip, "call", make)


@fault("validation-split-takes-first", "I", "test_i_demo.py",
       "validation_split holds out the first fraction of the samples instead of the last")
def _validation_split(keras):
    slicing = importlib.import_module("keras.src.trainers.data_adapters.array_slicing")

    def first_fraction(arrays, validation_split):
        leaves = [a for a in keras.tree.flatten(arrays) if a is not None]
        n = int(leaves[0].shape[0])
        held = n - math.floor(n * (1.0 - validation_split))

        def cut(part):
            return keras.tree.map_structure(lambda a: None if a is None else a[part], arrays)

        return cut(slice(held, None)), cut(slice(0, held))

    slicing.train_validation_split = first_fraction


@fault("same-padding-is-valid-at-stride-3", "H", "test_h_preprocessing.py",
       "Conv2D(padding='same') convolves as 'valid' at stride 3 only (rules 4 and 8: the strategy "
       "draws every stride the claim speaks of, within the budget the profile gives)")
def _same_padding_stride_3(keras):
    padding_read_as_valid(keras, lambda layer: 3 in layer.strides)


@fault("random-crop-crops-at-inference", "H", "test_h_preprocessing.py",
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


@fault("flatten-reorders", "K", "test_k_others.py",
       "Flatten reverses the order of the features")
def _flatten(keras):
    def make(original):
        def call(self, inputs):
            return keras.ops.flip(original(self, inputs), axis=-1)
        return call

    wrap(keras.layers.Flatten, "call", make)


@fault("count-params-off-by-one", "K", "test_k_others.py",
       "count_params counts one parameter too many")
def _count_params(keras):
    wrap(keras.layers.Layer, "count_params", lambda original: lambda self: original(self) + 1)


@fault("get-file-fetches-nothing", "A", "test_a_archives.py",
       "get_file raises before it fetches anything (a refusal that names no member: with the "
       "control through get_file no row may read 'safe')")
def _get_file(keras):
    def get_file(*args, **kwargs):
        raise OSError("fetch failed")

    keras.utils.get_file = get_file


@fault("file-editor-dies", "A", "test_a_security.py",
       "KerasFileEditor ends its process (exit 3) as it opens a file: a death that is not the "
       "bomb's allocation must read error, never vulnerable")
def _file_editor(keras):
    def die(*args, **kwargs):
        os._exit(3)

    keras.saving.KerasFileEditor = die


def apply(name: str, keras) -> None:
    if name not in FAULTS:
        raise ValueError(f"CLAIMS_MUTANT={name!r} is not a fault: {sorted(FAULTS)}")
    FAULTS[name].inject(keras)


def caught_by(run: dict) -> list[str]:
    """The claims whose audit noticed the fault: drift, an error, or a correction that broke.
    An error is marked as such: it may be the fault's own patch failing, not Keras changing."""
    return [c["id"] + (" (error)" if c["verdict"] == "error" and not c["drift"] else "")
            for c in run["claims"]
            if c["drift"] or c["verdict"] == "error" or "correction NOT verified" in c["evidence"]]


def proof(rows: list[tuple[Fault, list[str]]]) -> dict:
    """proof.json, which the report reads: per fault, what it broke and the claims whose audit
    it changed."""
    return {"faults": [{"name": f.name, "section": f.section, "description": f.description,
                        "caught": caught} for f, caught in rows]}


def score(folder: Path) -> tuple[list[tuple[Fault, list[str]]], int]:
    """Per fault, the claims that caught it, from `<folder>/<fault>/<env>.json`."""
    rows = []
    for fault_ in FAULTS.values():
        runs = sorted((Path(folder) / fault_.name).glob("*-*-*.json"))
        caught = sorted({cid for p in runs for cid in caught_by(json.loads(p.read_text()))})
        rows.append((fault_, caught))
    return rows, sum(1 for _, caught in rows if caught)


# A broken Keras should be audited about as fast as a working one: at most this times as long.
SPEED_BUDGET = 1.5


def speed_lines(measured: dict) -> tuple[list[str], bool]:
    """The `faultspeed` session's times as lines (seconds, ratio to the clean audit) and
    whether every fault stayed within SPEED_BUDGET."""
    times = measured["audit_s"]
    clean = times["clean"]
    width = max(map(len, times))
    lines = [f"default audit on {measured['cores']} cores, import keras "
             f"{measured['import_keras_s']:.1f} s; ratio to the clean audit (budget "
             f"{SPEED_BUDGET}x):"]
    lines += [f"{name:<{width}}  {s:6.0f} s  {s / clean:4.2f}x"
              + ("  OVER BUDGET" if s / clean > SPEED_BUDGET else "")
              for name, s in times.items()]
    return lines, all(s / clean <= SPEED_BUDGET for s in times.values())
