"""Section A, beyond the seed: a model file saved by any Keras version and backend of the matrix
loads in every other one (question 1: "Keras supports save, serialise of models").

Every file holds the same compiled model (fixtures/portability/make.py): Adam with its state
after one step, categorical cross-entropy, fixed weights. It is loaded as users load it,
`load_model(path)`, which compiles it again from the file."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys

import numpy as np
import pytest
from packaging.version import Version

from claims.catalog import Environment
from claims.plugin import describe
from tests.checks import GRAPH, PORTABILITY

PORTABILITY_TABLE = "Portability: file saved by (row) x loaded by (column)"
# What each name holds when `save` writes the format the name promises.
PROMISED_FORMAT = {".keras": "keras-zip", ".h5": "hdf5"}


def portability_files() -> dict[str, dict]:
    """Every file of fixtures/portability/ by name: the environment that saved it, the format it
    really is, its label in the table, and the compiled state it was saved with."""
    files = {}
    for record_path in sorted(PORTABILITY.glob("*.json")):
        record = json.loads(record_path.read_text())
        for suffix, written in record["files"].items():
            name = f"{record['environment']}{suffix}"
            label = name + ("" if written == PROMISED_FORMAT[suffix] else f" ({written})")
            files[name] = {"saver": Environment.parse(record["environment"]), "suffix": suffix,
                           "written": written, "label": label, "compiled": record["compiled"]}
    return files


FILES = portability_files()


def describe_compiled(state: dict) -> str:
    if state["optimizer"] is None:
        return f"no optimizer, loss {state['loss']}"
    return f"{state['optimizer']} at step {state['iterations']}, loss {state['loss']}"


@pytest.fixture(scope="module")
def loaded(keras, portability, portable_model) -> dict[str, dict]:
    """Each file loaded here once with load_model(path): whether it loads, and then whether it
    holds the same model (the weights, the predictions of the model built here, the compiled
    state it was saved with), with the detail of the table's cell."""
    reference, x, expected = portable_model
    weights = reference.get_weights()
    outcomes = {}
    for name, file in FILES.items():
        try:
            with contextlib.redirect_stdout(sys.stderr):
                model = keras.models.load_model(str(PORTABILITY / name))
        except (ValueError, TypeError) as exc:  # how load_model refuses a file it cannot read
            outcomes[name] = {"loads": False, "same": False, "detail": describe(exc)}
            continue
        except Exception as exc:  # anything else broke: that file's test is an error
            outcomes[name] = {"broken": describe(exc)}
            continue
        got = model.predict(x, verbose=0)
        same_weights = len(weights) == len(model.get_weights()) and all(
            np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))
        compiled = portability.compiled_state(model)
        # the same weights through the same kernels: only a different graph could round otherwise
        same = (same_weights and got.shape == expected.shape
                and np.allclose(got, expected, **GRAPH) and compiled == file["compiled"])
        detail = ("weights differ" if not same_weights
                  else f"max abs prediction difference {np.max(np.abs(got - expected)):.1e}")
        detail += f"; compiled: {describe_compiled(compiled)}" + (
            "" if compiled == file["compiled"]
            else f", saved {describe_compiled(file['compiled'])}")
        outcomes[name] = {"loads": True, "same": same, "detail": detail}
    return outcomes


@pytest.mark.claim("q1-portable-files")
@pytest.mark.parametrize("name", FILES)
def test_a_file_saved_in_any_environment_loads_here_with_the_same_model(loaded, measure, name):
    """load_model(path), as users call it (compile=True), reads the compiled model another Keras
    version or backend saved (fixtures/portability, `nox -s portability`): the same weights, the
    predictions of the same model built here, and compiled as it was saved."""
    outcome, label = loaded[name], FILES[name]["label"]
    if "broken" in outcome:
        raise RuntimeError(f"loading {name} broke: {outcome['broken']}")
    if not outcome["loads"]:
        measure(table=PORTABILITY_TABLE, row=label, cell="fails", verdict="refuted",
                detail=outcome["detail"])
        raise AssertionError(f"{name} does not load: {outcome['detail']}")
    if outcome["same"]:
        measure(table=PORTABILITY_TABLE, row=label, cell="loads and matches", verdict="holds",
                detail=outcome["detail"])
    else:
        measure(table=PORTABILITY_TABLE, row=label, cell="loads but differs", verdict="refuted",
                detail=outcome["detail"])
    assert outcome["same"], f"{name} loads but holds another model: {outcome['detail']}"


def loads_by_the_correction(saver: Environment, suffix: str, written: str,
                            here: Environment) -> bool:
    """The correction's rule: whether the Keras `here` reads, as the same compiled model, the
    file `saver` wrote under the name `suffix` (`written` is what it really is)."""
    if saver.major >= 3:
        if here.major < 3:  # Keras 2 does not know InputLayer's batch_shape
            return False
        if (suffix == ".keras" and saver.backend == "torch"
                and importlib.util.find_spec("torch") is None):
            return False  # the file names the torch backend's Adam class
        # forward; back within a minor release from 3.1 on (3.13.0 reads 3.13.1's files), and
        # up to 3.10, but not into the oldest 3.0 releases (observed in the sweep: 3.0.0 and
        # 3.0.1 do not know 3.0.5's optimizer argument
        # gradient_accumulation_steps; 3.0.2 to 3.0.4 read 3.0.5's files, not the dtype policies
        # in the layer configs of 3.5 on)
        if here.version >= saver.version:
            return True
        if here.version.release[:2] == saver.version.release[:2] >= (3, 1):  # 3.13.0 <- 3.13.1
            return True
        oldest_reader = Version("3.0.2") if saver.version < Version("3.1") else Version("3.0.5")
        return saver.version <= Version("3.10") and here.version >= oldest_reader
    if suffix == ".h5":  # Keras 3 reads Keras 2's .h5; 2.12 and 2.15 not tf_keras 2.21's
        return here.major >= 3 or saver.package == "keras" or here.package == "tf_keras"
    if here.major >= 3:  # no Keras 2 '.keras', zip or 2.12's HDF5
        return False
    return written == "hdf5" or here.version >= saver.version


@pytest.mark.claim("q1-portable-files", correction=True)
def test_files_load_exactly_where_the_correction_says(environment, loaded):
    """The correction: files move forward, not back (Keras 3 forward within Keras 3, 3.0.5 to
    3.10 either way; Keras 2's .h5 into Keras 3, nothing of Keras 3 into Keras 2), and a
    torch-compiled .keras needs torch; where a file loads, it is the same compiled model."""
    broken = [name for name, outcome in loaded.items() if "broken" in outcome]
    if broken:
        raise RuntimeError(f"loading broke for {broken}: the rule cannot be checked")
    seen = {(True, True): "loads", (True, False): "loads another model",
            (False, False): "does not load"}
    wrong = [f"{name}: {seen[loaded[name]['loads'], loaded[name]['same']]}"
             for name, file in FILES.items()
             if loaded[name]["same"] != loads_by_the_correction(
                 file["saver"], file["suffix"], file["written"], environment)]
    assert not wrong, f"against the correction here: {wrong}"
