"""Faults of section A: saving, loading and the loaders' defences (questions 1 and 2)."""

from __future__ import annotations

import os

from claims.faults import (
    after_call,
    after_load,
    before_call,
    fault,
    module,
    patch_load_model,
    with_arguments,
    wrap,
)


@fault("load-model-perturbs-weight", "A", "q1-save-load-roundtrip q1-save-load-resumes-training",
       "load_model adds 0.01 to the first weight it loads")
def _load_model(keras):
    def perturb(model):
        if model.weights:
            weights = model.get_weights()
            weights[0] = weights[0] + 0.01
            model.set_weights(weights)

    after_load(keras, perturb)


@fault("lambda-never-runs", "A", "q1-safe-mode-lambda q1-load-untrusted-files",
       "a Lambda layer returns its input without calling its function (rule 6: a payload that "
       "merely broke would read 'safe' without the positive control)")
def _lambda(keras):
    keras.layers.Lambda.call = lambda self, inputs, mask=None, training=None: inputs


@fault("load-model-resets-optimizer", "A", "q1-portable-files q1-save-load-resumes-training",
       "load_model restores the weights but resets the optimizer's step count (rule 4: an "
       "uncompiled model loaded with compile=False never shows it)")
def _optimizer_reset(keras):
    def reset(model):
        if getattr(model, "optimizer", None) is not None:
            model.optimizer.iterations.assign(0)

    after_load(keras, reset)


@fault("get-file-fetches-nothing", "A", "q1-get-file-untrusted-archives",
       "get_file raises before it fetches anything (a refusal that names no member: with the "
       "control through get_file no row may read 'safe')")
def _get_file(keras):
    def get_file(*args, **kwargs):
        raise OSError("fetch failed")

    keras.utils.get_file = get_file


@fault("file-editor-dies", "A", "q1-load-untrusted-files",
       "KerasFileEditor ends its process (exit 3) as it opens a file: a death that is not the "
       "bomb's allocation must read error, never vulnerable")
def _file_editor(keras):
    def die(*args, **kwargs):
        os._exit(3)

    keras.saving.KerasFileEditor = die


@fault("safe-mode-off-by-default", "A", "q1-safe-mode-lambda q1-load-untrusted-files",
       "load_model's safe_mode defaults to False, as Keras 2's did")
def _safe_mode(keras):
    patch_load_model(keras, lambda owner, attribute: with_arguments(owner, attribute,
                                                                    safe_mode=False))


@fault("save-wants-keras-suffix", "A", "q1-keras-extension-required",
       "model.save refuses every name that does not end in .keras, as the seed says")
def _save_suffix(keras):
    def refuse_other_names(self, filepath, *args, **kwargs):
        if not str(filepath).endswith(".keras"):
            raise ValueError(f"the file name must end in .keras: {filepath}")
        return (self, filepath, *args), kwargs

    before_call(keras.Model, "save", refuse_other_names)


@fault("load-weights-does-nothing", "A", "q1-save-weights q4-pretrained-models-provided",
       "load_weights returns without loading (applications' weights='imagenet' too)")
def _load_weights(keras):
    keras.Model.load_weights = lambda self, filepath, *args, **kwargs: None


@fault("json-drops-activations", "A", "q1-json-roundtrip",
       "model_from_json builds every layer without its activation")
def _json(keras):
    def without_activations(model):
        for layer in model.layers:
            if hasattr(layer, "activation"):
                layer.activation = keras.activations.linear
        return model

    after_call(keras.models, "model_from_json", without_activations)


@fault("to-yaml-restored", "A", "q1-yaml-format",
       "Model.to_yaml is back, as in Keras 2 (JSON is YAML)")
def _to_yaml(keras):
    keras.Model.to_yaml = lambda self, **kwargs: self.to_json(**kwargs)


@fault("export-perturbs-weights", "A", "q1-tf-serving q1-tflite",
       "model.export writes every weight 0.01 too large")
def _export(keras):
    def make(original):
        def export(self, *args, **kwargs):
            weights = self.get_weights()
            self.set_weights([w + 0.01 for w in weights])
            try:
                return original(self, *args, **kwargs)
            finally:
                self.set_weights(weights)
        return export

    wrap(keras.Model, "export", make)


@fault("classes-found-by-name", "A", "q1-subclass-save-load",
       "loading finds an unregistered Layer subclass by its class name, as the seed expects")
def _classes_by_name(keras):
    serialization = module("saving.serialization_lib")

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    def make(original):
        def retrieve(name, *args, **kwargs):
            try:
                return original(name, *args, **kwargs)
            except TypeError:
                found = [c for c in subclasses(keras.layers.Layer) if c.__name__ == name]
                if not found:
                    raise
                return found[-1]
        return retrieve

    wrap(serialization, "_retrieve_class_or_fn", make)


@fault("tfsm-layer-loads-in-safe-mode", "A", "q1-load-untrusted-files",
       "TFSMLayer.from_config loads its SavedModel in safe mode, as before 3.12.1")
def _tfsm(keras):
    layer = keras.layers.TFSMLayer
    original = layer.from_config.__func__

    def from_config(cls, config, custom_objects=None, safe_mode=None):
        return original(cls, config, custom_objects, safe_mode=False)

    layer.from_config = classmethod(from_config)


@fault("archive-links-skipped", "A", "q1-get-file-untrusted-archives",
       "get_file's extraction skips every link member with Keras' own warning, so no link "
       "chain can lead out, as the seed expects of it")
def _links(keras):
    import warnings

    file_utils = module("utils.file_utils")

    def make(original):
        def filter_safe_tarinfos(archive, base_dir):
            for member in original(archive, base_dir):
                if member.issym() or member.islnk():
                    warnings.warn("Skipping invalid path during archive extraction: "
                                  f"'{member.name}'.", stacklevel=2)
                    continue
                yield member
        return filter_safe_tarinfos

    wrap(file_utils, "filter_safe_tarinfos", make)
