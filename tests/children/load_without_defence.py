"""Loads a .keras file with load_model (safe_mode=True, as users call it) after turning off,
in this process only, the defence Keras 3.9 added against CVE-2025-1550: the deserializer's
module allow-list (with the KerasSaveable check that later joined it) and the functional
loader's refusal of an object that is neither a layer nor an operation. Keras offers no switch
for them: this is that advisory's positive control, the same file through the same load_model
with that defence alone off. `load_without_defence.py <model.keras>` prints
{"outcome": "loaded" or the exception} as JSON."""

import contextlib
import importlib
import json
import sys

from claims.target import load_keras


def without_module_allow_list(serialization_lib) -> None:
    """A class or function the deserializer refuses is looked up as Keras 3.8 did: any
    module's attribute of that name."""
    original = serialization_lib._retrieve_class_or_fn

    def retrieve(name, registered_name, module, obj_type, full_config, custom_objects=None):
        try:
            return original(name, registered_name, module, obj_type, full_config,
                            custom_objects)
        except (TypeError, ValueError):
            return vars(importlib.import_module(module))[name]

    serialization_lib._retrieve_class_or_fn = retrieve


def main(path: str) -> None:
    keras = load_keras()
    without_module_allow_list(
        importlib.import_module(f"{keras.__name__}.src.saving.serialization_lib"))
    # the functional loader's only use of Operation is that isinstance check
    importlib.import_module(f"{keras.__name__}.src.models.functional").Operation = object
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.models.load_model(path)
        outcome = "loaded"
    except Exception as exc:  # the control's outcome, reported
        outcome = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"outcome": " ".join(outcome.split())[:400]}))


if __name__ == "__main__":
    main(sys.argv[1])
