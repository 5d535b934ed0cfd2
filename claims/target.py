"""The Keras under audit: the one place that decides which Keras a run checks.

In a tf-keras environment `import keras` is still Keras 3, so tests never import `keras`
themselves; they take the module from `load_keras()` (the `keras` fixture).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path

from packaging.version import Version

from claims.catalog import Environment

# Distributions whose versions describe an environment, when installed.
REPORTED_PACKAGES = (
    "keras", "tf-keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "torch", "numpy",
    "scipy", "openvino", "h5py", "hypothesis", "pytest",
)


def legacy_keras() -> bool:
    return os.environ.get("TF_USE_LEGACY_KERAS", "") in ("1", "true", "True")


def _configured_backend() -> str:
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((home / "keras.json").read_text())["backend"]
    except (OSError, ValueError, KeyError):
        return "tensorflow"


def detect() -> Environment:
    """The environment from installed metadata alone, without importing Keras.

    `CLAIMS_ENV_ID` overrides it (the engine's self-tests audit fake environments).
    """
    if os.environ.get("CLAIMS_ENV_ID"):
        return Environment.parse(os.environ["CLAIMS_ENV_ID"])
    python = platform.python_version()
    if legacy_keras():
        return Environment("tf_keras", metadata.version("tf-keras"), "tensorflow", python)
    version = metadata.version("keras")
    backend = _configured_backend() if Version(version).major >= 3 else "tensorflow"
    return Environment("keras", version, backend, python)


def installed_packages() -> dict[str, str]:
    found = {}
    for name in REPORTED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def load_keras():
    """Import the Keras under audit, and check it is the one `detect()` described."""
    env = detect()
    keras = importlib.import_module("tf_keras" if env.package == "tf_keras" else "keras")
    actual = keras.backend.backend()
    if actual != env.backend:
        raise RuntimeError(f"Keras runs on {actual!r} but the environment says {env.backend!r}")
    if os.environ.get("CLAIMS_MUTANT"):
        from claims import mutants

        mutants.apply(os.environ["CLAIMS_MUTANT"], keras)
    return keras
