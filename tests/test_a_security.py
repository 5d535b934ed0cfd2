"""Section A, beyond the seed: loading untrusted model files (question 1 shows load_model on a
file): safe_mode and each published advisory on the model loaders, reproduced.

Payloads are harmless by construction: each can only create a marker inside the test's temporary
directory (a marshalled lambda opening a file, os.makedirs, get_file from a file:// URL there,
tf.io.write_file); no shell, no network. The memory bomb loads in a child process under an
address-space limit (children/load_under_limit.py).

A refusal reads "safe" only next to its positive control, run in the same environment: the same
payload with the defence switched off (safe_mode=False, a trusted custom object, h5py or
tarfile without Keras' check) must fire, or the cell is an error: a payload that merely broke
would otherwise look like a defence.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from claims.plugin import describe
from tests.checks import child_report, file_format, run_child, stderr_tail

SECURITY_TABLE = "Security: advisory (row) x environment (column)"


def load_refusal(keras, path, **kwargs) -> str | None:
    """load_model's exception as text, or None when it loaded."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.models.load_model(str(path), **kwargs)
    except Exception as exc:  # any refusal is the safe outcome
        return describe(exc)
    return None


def judge_advisory(measure, advisory: str, exploited: bool, evidence: str,
                   control: Callable[[], tuple[bool, str]]) -> None:
    """One cell of the security table; an exploited advisory refutes the claim. A refusal is
    shown safe only next to its positive control: `control()` runs the same payload in this
    environment with the defence switched off and returns (fired, what it did). A control that
    does not fire means the payload, not the defence, may have failed: the cell is an error."""
    if not exploited:
        fired, what = control()
        evidence = f"{evidence}; control: {what}"
        if not fired:
            measure(table=SECURITY_TABLE, row=advisory, cell="error", verdict="error",
                    detail=evidence)
            raise RuntimeError(f"{advisory}: the payload does not fire even with the defence "
                               f"off, so its refusal shows nothing: {evidence}")
    cell, verdict = ("vulnerable", "refuted") if exploited else ("safe", "holds")
    measure(table=SECURITY_TABLE, row=advisory, cell=cell, verdict=verdict, detail=evidence)
    assert not exploited, f"{advisory}: {evidence}"


def fires(marker: Path, load: Callable[[], str | None], what: str) -> tuple[bool, str]:
    """A positive control: `load()` (the unsafe load, returning its refusal or None) and whether
    it made the payload's marker."""
    marker.unlink(missing_ok=True)
    refusal = load()
    if marker.exists():
        return True, f"{what} fired"
    return False, f"{what} did not fire ({refusal or 'loaded'})"


def advisory_needs(measure, advisory: str, present: bool, why: str) -> None:
    """Skip (not applicable) where this version lacks the mechanism the advisory abuses."""
    if not present:
        measure(table=SECURITY_TABLE, row=advisory, cell="n/a", verdict="not-applicable",
                detail=why)
        pytest.skip(why)


def marker_lambda(marker: Path):
    # The path is a constant of the code object, so it survives the marshalled bytecode.
    return eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")  # noqa: S307


def saved_lambda_model(keras, folder: Path, suffix: str) -> tuple[Path, Path]:
    """Input -> Lambda(payload) saved by model.save('x<suffix>'); the marker not yet made."""
    marker = folder / f"lambda{suffix}.marker"
    inputs = keras.Input((1,))
    path = folder / f"lambda_model{suffix}"
    with contextlib.redirect_stdout(sys.stderr):
        keras.Model(inputs, keras.layers.Lambda(marker_lambda(marker))(inputs)).save(str(path))
    marker.unlink(missing_ok=True)  # building the model ran the lambda once
    return path, marker


def keras_zip_members(keras, folder: Path, hdf5_by_default: bool) -> tuple[dict[str, bytes], dict]:
    """A real Input -> Dense .keras zip file: its members and its parsed config.json (Keras 2.12
    writes the zip only when asked: `hdf5_by_default`)."""
    inputs = keras.Input((4,), name="inp")
    path = folder / "base.keras"
    keras.Model(inputs, keras.layers.Dense(4, name="dense")(inputs)).save(
        str(path), **({"save_format": "keras_v3"} if hdf5_by_default else {}))
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return members, json.loads(members["config.json"])


def calls_take_file_arguments(config: dict) -> bool:
    """Whether this Keras' config.json gives a node the arguments its layer is called with
    (Keras 3: {"args": [...], "kwargs": {...}}). Keras 2 writes [layer, node, tensor, kwargs]: a
    layer is called on another layer's tensor first, never on a value from the file."""
    nodes = [node for layer in config["config"]["layers"] for node in layer["inbound_nodes"]]
    return all(isinstance(node, dict) and "args" in node for node in nodes)


NO_FILE_ARGUMENTS = ("this Keras calls a layer of config.json on another layer's tensor first "
                     "([layer, node, tensor, kwargs]), never on the file's own arguments: the "
                     "advisory's payload cannot be written")


def write_keras_zip(path: Path, members: dict[str, bytes], config: dict | None = None) -> Path:
    if config is not None:
        members = {**members, "config.json": json.dumps(config).encode()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def function_ref(module: str, name: str) -> dict:
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


def layer_entry(class_name: str, name: str, config: dict, inbound: list, **fields) -> dict:
    """A layer of a functional config.json with the dtype of the base model's Dense."""
    dtype = next(x for x in config["config"]["layers"] if x["class_name"] == "Dense")["config"][
        "dtype"]
    return {"module": "keras.layers", "class_name": class_name, "registered_name": None,
            "name": name, "inbound_nodes": inbound,
            "config": {"name": name, "trainable": True, "dtype": dtype, **fields}}


@pytest.mark.claim("q1-safe-mode-lambda")
def test_a_lambda_in_a_keras_file_is_refused_by_default_and_runs_with_safe_mode_off(
        keras, tmp_path):
    """load_model refuses the marshalled code of a Lambda layer in the file that
    model.save('x.keras') writes, unless safe_mode=False."""
    path, marker = saved_lambda_model(keras, tmp_path, ".keras")
    refusal = load_refusal(keras, path)
    assert not marker.exists(), f"the default load_model ran the file's code ({refusal})"
    load_refusal(keras, path, safe_mode=False)
    if not marker.exists():
        raise RuntimeError("with safe_mode=False the payload did not run: the check is broken")


@pytest.mark.claim("q1-safe-mode-lambda", correction=True)
def test_keras_2_12_writes_hdf5_for_keras_names_and_runs_their_lambda(
        keras, keras_name_writes_hdf5, tmp_path):
    """The correction: Keras 2.12 writes HDF5 for 'x.keras' and load_model runs its Lambda code
    whatever safe_mode says; from 2.13 '.keras' is the zip, whose Lambda safe_mode refuses."""
    path, marker = saved_lambda_model(keras, tmp_path, ".keras")
    refusal = load_refusal(keras, path, safe_mode=True)
    written = file_format(path)
    if keras_name_writes_hdf5:
        assert written == "hdf5" and marker.exists(), f"{written} file: {refusal}"
    else:
        assert written == "keras-zip" and not marker.exists(), f"{written} file: {refusal}"


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2024_3660_a_keras_file_lambda_does_not_run_in_safe_mode(keras, tmp_path, measure):
    """CVE-2024-3660 (Keras < 2.13): the '.keras' file a version writes by default runs its
    Lambda code on load_model(safe_mode=True)."""
    path, marker = saved_lambda_model(keras, tmp_path, ".keras")
    refusal = load_refusal(keras, path, safe_mode=True)
    written = "zip" if zipfile.is_zipfile(path) else "HDF5"
    judge_advisory(measure, "CVE-2024-3660: Lambda code in a .keras file", marker.exists(),
                   f"{written} file: " + ("the Lambda ran" if marker.exists() else
                                          f"refused: {refusal}"),
                   lambda: fires(marker, lambda: load_refusal(keras, path, safe_mode=False),
                                 "load_model(safe_mode=False): the Lambda"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_1550_config_json_cannot_call_any_function(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """CVE-2025-1550 (Keras 3.0 to 3.8): config.json names os.makedirs as a layer and
    load_model(safe_mode=True) calls it with the node's arguments."""
    advisory = "CVE-2025-1550: config.json calls any module's function"
    members, config = keras_zip_members(keras, tmp_path, keras_name_writes_hdf5)
    advisory_needs(measure, advisory, calls_take_file_arguments(config), NO_FILE_ARGUMENTS)
    marker = tmp_path / "made_by_config"
    config["config"]["layers"].append({**function_ref("os", "makedirs"), "name": "evil",
                                       "inbound_nodes": [{"args": [str(marker)], "kwargs": {}}]})
    evil = write_keras_zip(tmp_path / "evil.keras", members, config)
    refusal = load_refusal(keras, evil)

    class MakeDirs(keras.Operation):
        def call(self, path):
            os.makedirs(path)

    # The defence (3.9 on) resolves no function outside Keras and calls only a layer or an
    # operation, with no switch to turn it off: the control hands the loader, as a trusted
    # custom object, an operation doing what the payload names, which the entry must call.
    judge_advisory(measure, advisory, marker.exists(),
                   "os.makedirs ran" if marker.exists() else f"refused: {refusal}",
                   lambda: fires(marker, lambda: load_refusal(
                       keras, evil, safe_mode=False, custom_objects={"makedirs": MakeDirs()}),
                       "the entry resolved to a trusted operation calling os.makedirs"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_8747_a_lambda_cannot_call_get_file(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """CVE-2025-8747 (Keras 3.0 to 3.10): a Lambda whose function is keras.utils.get_file
    downloads (here: copies from a file:// URL in the temporary folder) during loading."""
    advisory = "CVE-2025-8747: a Lambda calls keras.utils.get_file"
    members, config = keras_zip_members(keras, tmp_path, keras_name_writes_hdf5)
    advisory_needs(measure, advisory, calls_take_file_arguments(config), NO_FILE_ARGUMENTS)
    source = tmp_path / "payload.txt"
    source.write_text("fetched during load_model\n")
    cache = tmp_path / "cache"
    cache.mkdir()  # get_file falls back to ~/.keras or /tmp/.keras when it is missing
    marker = cache / "datasets" / "fetched.marker"
    config["config"]["layers"].append(layer_entry(
        "Lambda", "fetch", config, [{"args": [], "kwargs": {"inputs": marker.name}}],
        function=function_ref("keras.utils", "get_file"),
        arguments={"origin": source.as_uri(), "cache_dir": str(cache)}))
    evil = write_keras_zip(tmp_path / "evil.keras", members, config)
    refusal = load_refusal(keras, evil)
    judge_advisory(measure, advisory, marker.exists(),
                   "get_file wrote into the cache" if marker.exists() else f"refused: {refusal}",
                   lambda: fires(marker, lambda: load_refusal(
                       keras, evil, safe_mode=False,
                       custom_objects={"get_file": keras.utils.get_file}),
                       "load_model(safe_mode=False, custom_objects={'get_file': get_file}): "
                       "get_file"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_9905_an_h5_lambda_does_not_run_in_safe_mode(keras, tmp_path, measure):
    """CVE-2025-9905 (Keras 3.0 to 3.11.2; tf.keras never checks): load_model of an .h5 file
    ignores safe_mode and runs its Lambda code."""
    path, marker = saved_lambda_model(keras, tmp_path, ".h5")
    refusal = load_refusal(keras, path, safe_mode=True)
    judge_advisory(measure, "CVE-2025-9905: Lambda code in an .h5 file", marker.exists(),
                   "the Lambda ran" if marker.exists() else f"refused: {refusal}",
                   lambda: fires(marker, lambda: load_refusal(keras, path, safe_mode=False),
                                 "load_model(safe_mode=False): the Lambda"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_9906_config_json_cannot_turn_safe_mode_off(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """CVE-2025-9906 (Keras 3.0 to 3.10): config.json calls
    keras.config.enable_unsafe_deserialization (through keras.ops.cond in a Lambda), after
    which a later layer's Lambda code is accepted."""
    advisory = "CVE-2025-9906: config.json turns safe_mode off"
    config_module = getattr(keras, "config", None)
    advisory_needs(measure, advisory, hasattr(config_module, "enable_unsafe_deserialization"),
                   "no keras.config.enable_unsafe_deserialization here")
    from keras.src.backend.common import global_state

    members, config = keras_zip_members(keras, tmp_path, keras_name_writes_hdf5)
    marker = tmp_path / "lambda.marker"
    inputs = keras.Input((1,))
    payload = keras.saving.serialize_keras_object(
        keras.Model(inputs, keras.layers.Lambda(marker_lambda(marker))(inputs)))
    marker.unlink(missing_ok=True)
    unsafe = function_ref("keras.config", "enable_unsafe_deserialization")
    gadget = layer_entry("Lambda", "disable_safe_mode", config,
                         [{"args": [], "kwargs": {"inputs": True}}],
                         function=function_ref("keras.ops", "cond"),
                         arguments={"true_fn": unsafe, "false_fn": unsafe})
    # a node's arguments are deserialized when the node runs: after the gadget's
    carrier = layer_entry("Identity", "carrier", config,
                          [{"args": [], "kwargs": {"inputs": payload}}])
    layers = config["config"]["layers"]
    config["config"]["layers"] = [*layers, carrier]
    carried = write_keras_zip(tmp_path / "carrier.keras", members, config)
    config["config"]["layers"] = [*layers, gadget, carrier]
    evil = write_keras_zip(tmp_path / "evil.keras", members, config)
    before = global_state.get_global_attribute("safe_mode_saving")
    try:
        # without the gadget the carrier's Lambda must be refused: only the gadget can run it
        load_refusal(keras, carried)
        if marker.exists():
            raise RuntimeError("the payload ran without the gadget: the check is broken")
        refusal = load_refusal(keras, evil)
    finally:
        global_state.set_global_attribute("safe_mode_saving", before)
    judge_advisory(measure, advisory, marker.exists(),
                   "safe_mode turned off, then the Lambda ran" if marker.exists()
                   else f"refused: {refusal}",
                   lambda: fires(marker, lambda: load_refusal(keras, carried, safe_mode=False),
                                 "the carrier loaded with safe_mode=False: its Lambda"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2026_1462_a_tfsmlayer_does_not_load_a_savedmodel_in_safe_mode(
        keras, tmp_path, measure):
    """CVE-2026-1462 (Keras 3 before 3.12.1 / 3.13.2): a TFSMLayer in the file loads an
    attacker's SavedModel with safe_mode=True, whose graph then runs."""
    advisory = "CVE-2026-1462: TFSMLayer loads any SavedModel"
    advisory_needs(measure, advisory, hasattr(keras.layers, "TFSMLayer"),
                   "no keras.layers.TFSMLayer here")
    advisory_needs(measure, advisory, importlib.util.find_spec("tensorflow") is not None,
                   "no TensorFlow here, which a SavedModel needs")
    import tensorflow as tf

    marker = tmp_path / "savedmodel.marker"

    class Payload(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)])
        def serve(self, x):
            tf.io.write_file(str(marker), "written by the SavedModel's graph")
            return x

    tf.saved_model.save(Payload(), str(tmp_path / "saved_model"))
    inputs = keras.Input((1,))
    try:
        outputs = keras.layers.TFSMLayer(str(tmp_path / "saved_model"), call_endpoint="serve")(
            inputs)
    except (NotImplementedError, TypeError) as exc:  # the layer is there, not for this backend
        advisory_needs(measure, advisory, False, "no model with a TFSMLayer builds on this "
                       f"backend, so no file can bring one: {describe(exc)}")
    keras.Model(inputs, outputs).save(str(tmp_path / "tfsm.keras"))

    def load_and_call(**kwargs) -> str | None:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                model = keras.models.load_model(str(tmp_path / "tfsm.keras"), **kwargs)
                model(np.ones((1, 1), "float32"))
        except Exception as exc:  # refused: the safe outcome
            return describe(exc)
        return None

    marker.unlink(missing_ok=True)
    refusal = load_and_call()
    judge_advisory(measure, advisory, marker.exists(),
                   "the SavedModel's graph ran" if marker.exists() else f"refused: {refusal}",
                   lambda: fires(marker, lambda: load_and_call(safe_mode=False),
                                 "load_model(safe_mode=False), then a call: the graph"))


ALLOCATION_FAILURES = ("MemoryError", "Unable to allocate", "Cannot allocate", "bad_alloc",
                       "Out of memory")


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2026_0897_a_tiny_file_cannot_make_load_model_allocate_64_gib(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """CVE-2026-0897 (fixed for load_model in 3.12.3 and 3.15.0): a 13 kB .keras file whose
    weights declare a 64 GiB dataset makes loading allocate it; in the child, under a memory
    limit, a vulnerable version fails to allocate instead of refusing the file."""
    import h5py

    advisory = "CVE-2026-0897: HDF5 weights declare 64 GiB"
    members, _ = keras_zip_members(keras, tmp_path, keras_name_writes_hdf5)
    weights = tmp_path / "model.weights.h5"
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as h5:
        kernels = []
        h5.visititems(lambda name, obj: kernels.append(name)
                      if isinstance(obj, h5py.Dataset) and obj.shape == (4, 4) else None)
        del h5[kernels[0]]
        h5.create_dataset(kernels[0], shape=(1 << 17, 1 << 17), dtype="float32",
                          chunks=(1024, 1024), compression="gzip", fillvalue=0)
    bomb = write_keras_zip(tmp_path / "bomb.keras",
                           {**members, "model.weights.h5": weights.read_bytes()})
    proc = run_child("load_under_limit", "load_model", str(bomb), timeout=180)
    if proc.returncode:
        exploited, evidence = True, f"the child died (exit {proc.returncode}): {stderr_tail(proc)}"
    else:
        outcome = child_report(proc)["outcome"]
        exploited = any(failure in outcome for failure in ALLOCATION_FAILURES)
        evidence = f"{bomb.stat().st_size:,}-byte file: {outcome}"

    def read_without_keras() -> tuple[bool, str]:
        # the loader's size check is the defence: h5py alone reads what the file declares
        outcome = child_report(run_child("load_under_limit", "read", str(weights), timeout=180))
        fired = any(failure in outcome["outcome"] for failure in ALLOCATION_FAILURES)
        return fired, f"h5py reading the weights under the same limit: {outcome['outcome']}"

    judge_advisory(measure, advisory, exploited, evidence, read_without_keras)


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_hqp4_2352_xf5r_get_file_extraction_stays_in_its_folder(keras, tmp_path, measure):
    """GHSA-hqp4-2352-xf5r (fixed in 3.12.2 and 3.14.0): get_file(extract=True) checks tar
    members against the current directory, not the extraction folder; run from '/', the member
    '../escaped.txt' lands outside the folder (here: still inside the temporary directory)."""
    import io
    import tarfile

    archive = tmp_path / "payload.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("inside.txt", "../escaped.txt"):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"data"))
    cache = tmp_path / "cache" / "deeper"
    cache.mkdir(parents=True)  # get_file falls back to ~/.keras or /tmp/.keras when it is missing
    here = os.getcwd()
    os.chdir("/")  # the advisory's precondition: containers and CI runners start there
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.utils.get_file("payload.tar", origin=archive.as_uri(), extract=True,
                                 cache_dir=str(cache))
        refusal = None
    except Exception as exc:
        refusal = describe(exc)
    finally:
        os.chdir(here)
    inside = sorted(cache.rglob("inside.txt"))
    if not inside:
        raise RuntimeError(f"nothing was extracted: the check is broken ({refusal})")
    escaped = list(tmp_path.rglob("escaped.txt"))
    outside = [p for p in escaped if inside[0].parent not in p.parents]
    if outside:
        evidence = f"'../escaped.txt' written to <tmp>/{outside[0].relative_to(tmp_path)}"
    else:
        evidence = "'../escaped.txt' " + ("kept inside the folder" if escaped else "skipped")

    def extract_unchecked() -> tuple[bool, str]:
        # get_file's member check is the defence: tarfile with no filter follows the '../'
        folder = tmp_path / "control" / "deeper"
        folder.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="fully_trusted")
        fired = (folder.parent / "escaped.txt").exists()
        return fired, "tarfile.extractall with no filter: '../escaped.txt' " + (
            "escaped" if fired else "stayed inside")

    judge_advisory(measure, "GHSA-hqp4-2352-xf5r: archive extraction escapes its folder",
                   bool(outside), evidence, extract_unchecked)
