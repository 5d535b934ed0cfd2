"""Re-exports a .keras file as a SavedModel in a process of its own, run with
KERAS_BACKEND=tensorflow (a backend is fixed per process): `reexport.py <model.keras> <out>`
prints {"error": null} or {"error": Keras' exception} as JSON; a crash prints nothing."""

import contextlib
import json
import sys

# Keras 3 itself, not claims.target.load_keras: only a Keras 3 environment whose backend cannot
# export (jax, torch) runs this, with KERAS_BACKEND=tensorflow.
import keras


def main(source: str, out: str) -> None:
    try:
        with contextlib.redirect_stdout(sys.stderr):  # model.export prints its signature
            keras.models.load_model(source).export(out)
        error = None
    except Exception as exc:  # Keras refusing the file or the export: judged by the test
        error = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
    print(json.dumps({"error": error}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
