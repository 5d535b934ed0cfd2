"""Imports the Keras under audit with the modules named in argv made unimportable, and applies
one Dense layer of ones to ones((1, 3)): prints {"backend", "output"} or {"error"} as JSON.
`backend_probe.py [module...]`; the backend comes from the environment (KERAS_BACKEND).
With PROBE_FIT=1 it also reports the type of the tensor the layer returned ("tensor_type",
and "jax_array": whether it is a jax.Array, where JAX was loaded) and fits a small linear
model (5 epochs of 4 batches, SGD): "losses", one per epoch."""

import json
import os
import sys


def fit_losses(keras) -> list[float]:
    import numpy as np

    x = np.random.default_rng(0).uniform(-1, 1, (32, 4)).astype("float32")
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(x, x.sum(axis=1, keepdims=True), batch_size=8, epochs=5, verbose=0)
    return [float(loss) for loss in history.history["loss"]]


def probe(blocked: list[str]) -> dict:
    for name in blocked:
        sys.modules[name] = None  # importing it now fails as if it were not installed
    try:
        import numpy as np

        from claims.target import load_keras
        from tests.checks import to_numpy

        keras = load_keras()
        out = keras.layers.Dense(2, kernel_initializer="ones")(np.ones((1, 3), "float32"))
        report = {"backend": keras.backend.backend(), "output": to_numpy(keras, out).tolist()}
        if os.environ.get("PROBE_FIT"):
            jax = sys.modules.get("jax")
            report.update(tensor_type=f"{type(out).__module__}.{type(out).__qualname__}",
                          jax_array=jax is not None and isinstance(out, jax.Array),
                          losses=fit_losses(keras))
        return report
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1:])))
