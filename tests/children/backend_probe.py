"""Imports the Keras under audit with the modules named in argv made unimportable, and applies
one Dense layer of ones to ones((1, 3)): prints {"backend", "output"} or {"error"} as JSON.
`backend_probe.py [module...]`; the backend comes from the environment (KERAS_BACKEND)."""

import json
import sys


def probe(blocked: list[str]) -> dict:
    for name in blocked:
        sys.modules[name] = None  # importing it now fails as if it were not installed
    try:
        import numpy as np

        from claims.target import load_keras
        from tests.checks import to_numpy

        keras = load_keras()
        out = keras.layers.Dense(2, kernel_initializer="ones")(np.ones((1, 3), "float32"))
        return {"backend": keras.backend.backend(), "output": to_numpy(keras, out).tolist()}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1:])))
