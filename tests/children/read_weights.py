"""Loads the weights a test wrote into each FOLDER with every Keras entry point that reads
HDF5 weights: `read_weights.py FIRST FOLDER...`.

A FOLDER holds one model, Input((4,)) named 'inp' -> Dense(4) named 'dense', saved as
victim.keras, victim.weights.h5, victim.h5 and attacker.keras, attacker.weights.h5,
attacker.h5. Each load is a JSON line {"unit", "folder", "loader", "file": "victim" or
"attacker"} with {"kernel": the Dense kernel's bytes in hex} or {"refused": the exception},
after the same line with "start": true. The units, each folder with each loader in that order,
are numbered from 0 and run from FIRST on: a process that dies (h5py's in-memory driver can
crash resolving what a weights file references) names the load that killed it, and the test
starts a new one from the next unit."""

import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from claims.target import load_keras

KIND = {"keras": ".keras", "weights": ".weights.h5", "h5": ".h5"}


def dense_model(keras):
    inputs = keras.Input((4,), name="inp")
    return keras.Model(inputs, keras.layers.Dense(4, name="dense")(inputs))


def loaders(keras) -> dict:
    """name -> (kind of file, load: path -> the Dense kernel)."""
    def load_model(path):
        return keras.models.load_model(path).get_layer("dense").get_weights()[0]

    def load_weights(path):
        model = dense_model(keras)
        model.load_weights(path)
        return model.get_layer("dense").get_weights()[0]

    found = {"load_model(.keras)": ("keras", load_model),
             "load_weights(.weights.h5)": ("weights", load_weights),
             "load_model(.h5)": ("h5", load_model),
             "load_weights(.h5)": ("h5", load_weights)}
    editor = getattr(getattr(keras, "saving", None), "KerasFileEditor", None)
    if editor is not None:
        def edit(path):
            arrays = []

            def walk(tree):
                for value in tree.values():
                    if isinstance(value, dict):
                        walk(value)
                    else:
                        arrays.append(np.asarray(value))

            walk(editor(path).weights_dict)
            return next(a for a in arrays if a.shape == (4, 4))

        found["KerasFileEditor(.keras)"] = ("keras", edit)
    return found


def refusal(exc: BaseException, folder: Path) -> str:
    """The reason, the same text in every environment: load_model gathers a layer's error under
    'A total of 1 objects could not be loaded. Example error message for object <Dense ...>:',
    so the line after it; the folder as <tmp>."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[1] if len(lines) > 1 and lines[0].endswith(":") else "".join(lines[:1])
    return f"{type(exc).__name__}: {text}".replace(str(folder), "<tmp>")[:160]


def outcome(load, path: Path) -> dict:
    try:
        with contextlib.redirect_stdout(sys.stderr):  # KerasFileEditor describes the file
            kernel = load(str(path))
    except Exception as exc:  # a refusal is the safe outcome
        return {"refused": refusal(exc, path.parent)}
    return {"kernel": np.asarray(kernel, "<f4").tobytes().hex()}


def report(line: dict) -> None:
    print(json.dumps(line), flush=True)


def main(first: str, *folders: str) -> None:
    found = loaders(load_keras())
    units = [(Path(folder), name) for folder in folders for name in found]
    for unit, (folder, name) in enumerate(units):
        if unit < int(first):
            continue
        kind, load = found[name]
        for owner in ("victim", "attacker"):
            line = {"unit": unit, "folder": str(folder), "loader": name, "file": owner}
            report({**line, "start": True})
            report({**line, **outcome(load, folder / f"{owner}{KIND[kind]}")})


if __name__ == "__main__":
    main(*sys.argv[1:])
