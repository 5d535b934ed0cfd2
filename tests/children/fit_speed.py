"""test_g's fit benchmark on the backend KERAS_BACKEND names, in a process of its own (a
backend is fixed per process): prints {"backend", "steps_per_s"} as JSON."""

import json

from claims.target import load_keras
from tests.test_g_frameworks import fit_steps_per_second

if __name__ == "__main__":
    keras = load_keras()
    print(json.dumps({"backend": keras.backend.backend(),
                      "steps_per_s": fit_steps_per_second(keras)}))
