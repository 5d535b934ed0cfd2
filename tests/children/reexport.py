"""Re-exports a .keras file as a SavedModel in a process of its own, run with
KERAS_BACKEND=tensorflow (a backend is fixed per process): `reexport.py <model.keras> <out>`."""

import sys

# Keras 3 itself, not claims.target.load_keras: only a Keras 3 environment whose backend cannot
# export (jax, torch) runs this, with KERAS_BACKEND=tensorflow.
import keras

if __name__ == "__main__":
    keras.models.load_model(sys.argv[1]).export(sys.argv[2])
