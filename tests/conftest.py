"""Fixtures that several test files share."""

from __future__ import annotations

import importlib.util

import pytest
from packaging.version import Version

from tests.checks import PORTABILITY, child_report, once_per_run, run_child
from tests.seed import DOWNLOADED, SEED_PRETRAINED
from tests.switches import SWITCHES, KerasProcess


@pytest.fixture(scope="session")
def portability():
    """fixtures/portability/make.py, which builds the fixed model every file there holds and
    reads a model's compiled state."""
    spec = importlib.util.spec_from_file_location("portability_make", PORTABILITY / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def portable_model(keras, portability):
    """The fixed model built here, the fixed input, and the model's predictions on it: what
    every saved file must load as (test_a_portability) and TF.js must predict (test_a_tfjs)."""
    model, x = portability.build(keras), portability.sample_input()
    return model, x, model.predict(x, verbose=0)


@pytest.fixture(scope="session")
def keras_name_writes_hdf5(environment) -> bool:
    """Keras 2.12 writes HDF5 even for a '.keras' name unless save_format='keras_v3'; 2.13 made
    the zip the default (test_a_saving, test_a_security)."""
    return environment.package == "keras" and environment.version < Version("2.13")


@pytest.fixture(scope="module")
def probe():
    """children/backend_probe.py's report with the given modules unimportable and the given
    environment changes, each run once per module (test_f_distributed, test_g_frameworks)."""
    seen: dict[tuple, dict] = {}

    def run(*blocked: str, **env: str | None) -> dict:
        key = (blocked, tuple(sorted(env.items())))
        if key not in seen:
            seen[key] = child_report(run_child("backend_probe", *blocked, **env))
        return seen[key]

    return run


@pytest.fixture(scope="session")
def shared_child(tmp_path_factory):
    """`shared_child(name, *args)`: children/<name>.py's report, run once in the whole run
    however many test files ask for it (tests.checks.once_per_run): each run is a fresh import
    of the backend."""
    compute = once_per_run(tmp_path_factory, "children")

    def run(name: str, *args: str) -> dict:
        return compute("-".join((name, *args)).replace(":", "_"),
                       lambda: child_report(run_child(name, *args)))

    return run


@pytest.fixture(scope="session")
def imagenet_downloads(shared_child) -> dict:
    """children/imagenet_downloads.py, run against a server on 127.0.0.1, by experiment:
    weights="imagenet" of each of DOWNLOADED, a weights file made here served (test_b_models);
    the default weights of each of SEED_PRETRAINED, the server answering 404, and
    decode_predictions' class index, a made index served (test_g_frameworks)."""
    return shared_child("imagenet_downloads", *DOWNLOADED, "class-index",
                        *(f"default:{name}" for name in SEED_PRETRAINED))


@pytest.fixture(scope="session")
def reexport():
    """`reexport(source, out)` exports the .keras file `source` as a SavedModel in a
    TensorFlow-backend process (children/reexport.py), for a backend whose model.export fails:
    returns Keras' refusal there as text (None: exported); a process that dies is a
    RuntimeError, never a verdict."""
    def run(source, out) -> str | None:
        return child_report(run_child("reexport", str(source), str(out),
                                      KERAS_BACKEND="tensorflow"))["error"]

    return run


@pytest.fixture(scope="session", params=sorted(SWITCHES["onednn"]), ids="onednn={}".format)
def onednn(request):
    """A Python of this environment with TensorFlow's oneDNN switched on, then off
    (tests.switches): each test that takes it runs in both, and its verdict is recorded per
    setting."""
    process = KerasProcess.start("onednn", request.param)
    yield process
    process.close()
