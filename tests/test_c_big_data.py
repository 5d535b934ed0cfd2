"""Section C: big data: generators, augmentation, multi-device training (questions 5, 6, 7)."""

from __future__ import annotations

import importlib.util
import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from tests.checks import (
    INFERENCE_ONLY_BACKENDS,
    child_report,
    keras_submodule,
    random_array,
    run_child,
    skip_unless_trainable,
    tensorflow_or_skip,
    to_numpy,
)
from tests.children.multi_process_training import SAMPLES
from tests.children.same_training import whole_on_each_device
from tests.strategies import batch_sizes, examples

# Spread over devices or processes, the replicas' gradients are summed in float32 in another
# order than one device sums the whole batch.
DISTRIBUTED_ATOL = 1e-5
# The launcher of the two worker processes gives them 150 s; this leaves it time to report.
MULTI_PROCESS_S = 180
# The disk-backed run: peak memory may grow by at most this share of the extra file size.
MEMORY_SHARE = 0.1
SMALL_FILE, BIG_FILE = 1 << 20, 1 << 30

dataset_sizes = st.integers(1, 40)


def step_counter(keras):
    """A callback counting the training steps fit takes."""

    class Steps(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.count = 0

        def on_train_batch_end(self, batch, logs=None):
            self.count += 1

    return Steps()


def batch_of(n: int, start: int, size: int):
    rows = min(size, n - start)
    return random_array((rows, 2), seed=start), np.ones((rows, 1), "float32")


def three_batches():
    """A finite Python generator of three batches of four samples."""
    for _ in range(3):
        yield batch_of(4, 0, 4)


@pytest.fixture(scope="module")
def tiny_model(keras, environment):
    skip_unless_trainable(environment)
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.claim("q5-generators-feed-batches")
@settings(max_examples=examples(5))
@given(n=dataset_sizes, batch=batch_sizes)
def test_fit_takes_ceil_n_over_b_generator_batches_per_epoch(keras, tiny_model, n, batch):
    """A Python generator feeds fit batch by batch: ceil(n/b) steps per epoch, each step a
    batch drawn from the generator."""
    steps, epochs, counter = math.ceil(n / batch), 2, step_counter(keras)
    drawn = []

    # Endless, as Keras asks of a generator: with exactly steps * epochs batches, Keras 3.0.5
    # on JAX now and then reports "ran out of data" one batch early, a race no verdict can
    # rest on.
    def batches():
        while True:
            for start in range(0, n, batch):
                drawn.append(start)
                yield batch_of(n, start, batch)

    tiny_model.fit(batches(), steps_per_epoch=steps, epochs=epochs, verbose=0,
                   callbacks=[counter])
    assert counter.count == steps * epochs
    assert len(drawn) >= steps * epochs


@pytest.mark.claim("q5-generators-feed-batches")
@settings(max_examples=examples(5))
@given(n=dataset_sizes, batch=batch_sizes)
def test_fit_takes_len_steps_and_reads_every_pydataset_batch(keras, tiny_model, n, batch):
    """A PyDataset (Keras 3) / Sequence (Keras 2) gives fit len() steps per epoch and every
    batch is read (fit may read the first one again to learn the batch's structure)."""
    base = getattr(keras.utils, "PyDataset", None) or keras.utils.Sequence
    requested = []

    class Batches(base):
        def __len__(self):
            return math.ceil(n / batch)

        def __getitem__(self, index):
            requested.append(index)
            return batch_of(n, index * batch, batch)

    steps, epochs, counter = math.ceil(n / batch), 2, step_counter(keras)
    tiny_model.fit(Batches(), epochs=epochs, verbose=0, shuffle=False, callbacks=[counter])
    assert counter.count == steps * epochs
    assert set(requested) == set(range(steps))


@pytest.mark.claim("q5-generators-feed-batches")
@settings(max_examples=examples(3))
@given(n=dataset_sizes, batch=batch_sizes)
def test_fit_takes_one_tf_data_batch_per_step(keras, tiny_model, n, batch):
    """A batched tf.data.Dataset feeds fit ceil(n/b) steps per epoch."""
    tf = tensorflow_or_skip("feeding fit from tf.data")
    x, y = batch_of(n, 0, n)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    counter = step_counter(keras)
    tiny_model.fit(dataset, epochs=2, verbose=0, callbacks=[counter])
    assert int(dataset.cardinality()) == math.ceil(n / batch)
    assert counter.count == 2 * math.ceil(n / batch)


@pytest.mark.claim("q5-fit-generator")
def test_model_has_fit_generator_that_trains(keras, tiny_model):
    """The seed: Keras provides Model.fit_generator to train from a data generator."""
    assert hasattr(keras.Model, "fit_generator"), (
        f"Keras {keras.__version__} has no Model.fit_generator"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = tiny_model.fit_generator(three_batches(), steps_per_epoch=3,
                                           verbose=0)
    assert len(history.history["loss"]) == 1


@pytest.mark.claim("q5-fit-generator", correction=True)
def test_fit_accepts_a_generator_and_fit_generator_is_deprecated(keras, tiny_model):
    """fit trains from a generator; where fit_generator remains, it warns that it is
    deprecated in favour of fit."""
    history = tiny_model.fit(three_batches(), steps_per_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 1
    if hasattr(keras.Model, "fit_generator"):
        with pytest.warns(UserWarning, match="deprecated"):
            tiny_model.fit_generator(three_batches(), steps_per_epoch=3, verbose=0)


# Each transform the seed names: ImageDataGenerator's options, and the preprocessing layer
# (with its arguments) that does the same thing.
TRANSFORMS = {
    "rotation": (dict(rotation_range=30), "RandomRotation", (0.1,)),
    "shift": (dict(width_shift_range=0.2, height_shift_range=0.2), "RandomTranslation",
              (0.2, 0.2)),
    "zoom": (dict(zoom_range=0.2), "RandomZoom", (0.2,)),
    "flip": (dict(horizontal_flip=True), "RandomFlip", ("horizontal",)),
}


@pytest.mark.claim("q5-image-data-generator")
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_image_data_generator_applies_each_transform(keras, transform):
    """The seed: ImageDataGenerator applies random rotation, shift, zoom and flip to batches."""
    image = keras_submodule(keras, "preprocessing.image")
    assert hasattr(image, "ImageDataGenerator"), (
        f"{keras.__name__}.preprocessing.image has no ImageDataGenerator in "
        f"{keras.__version__}"
    )
    if importlib.util.find_spec("scipy") is None:
        pytest.skip("ImageDataGenerator's transforms need SciPy, which is not installed here")
    x = random_array((6, 8, 8, 1), seed=5)
    options = TRANSFORMS[transform][0]
    out, labels = next(image.ImageDataGenerator(**options).flow(
        x, np.arange(6), batch_size=6, shuffle=False, seed=0))
    assert out.shape == x.shape and list(labels) == list(range(6))
    assert not np.allclose(out, x), f"{options} left every image unchanged"


@pytest.mark.claim("q5-image-data-generator", correction=True)
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_preprocessing_layer_transforms_in_training_only(keras, transform):
    """RandomRotation, RandomTranslation, RandomZoom and RandomFlip replace it: each keeps the
    shape, changes images when training and passes them through at inference."""
    _, name, args = TRANSFORMS[transform]
    layer = getattr(keras.layers, name)(*args, seed=1)
    x = random_array((6, 8, 8, 1), seed=5)
    trained = to_numpy(keras, layer(x, training=True))
    assert trained.shape == x.shape and not np.allclose(trained, x)
    np.testing.assert_allclose(to_numpy(keras, layer(x, training=False)), x)


@pytest.mark.claim("q5-image-data-generator", correction=True)
def test_random_flip_gives_the_image_or_its_mirror(keras):
    """RandomFlip('horizontal') returns each image unchanged or mirrored left to right."""
    x = random_array((8, 5, 5, 1), seed=6)
    out = to_numpy(keras, keras.layers.RandomFlip("horizontal", seed=1)(x, training=True))
    for original, flipped in zip(x, out, strict=True):
        assert np.allclose(flipped, original) or np.allclose(flipped, original[:, ::-1])


@pytest.mark.claim("q5-multi-gpu-model")
def test_keras_has_multi_gpu_model(keras):
    """The seed: keras.utils.multi_gpu_model replicates a model over several GPUs."""
    assert hasattr(keras.utils, "multi_gpu_model"), (
        f"keras.utils.multi_gpu_model does not exist in {keras.__name__} {keras.__version__}"
    )


@pytest.fixture(scope="module")
def replication(environment, child_runs):
    """One model trained on one device, under MirroredStrategy and under keras.distribution
    over the host CPU split in two devices, in a fresh process (children/same_training.py):
    how far each run's weights end from one device's and where they live."""
    skip_unless_trainable(environment)
    return child_runs["replication"].result()


def mirrored_run(replication) -> dict:
    run = replication["mirrored"]
    if "absent" in run:
        pytest.skip(f"tf.distribute.MirroredStrategy cannot be imported: {run['absent']}")
    return run


def mirrors(run: dict) -> bool:
    """MirroredStrategy's layout: each of the two devices holds every whole weight."""
    return "error" not in run and all(
        whole_on_each_device(copies, shape)
        for copies, shape in zip(run["copies"], run["shapes"], strict=True))


def spreading_runs(replication) -> dict[str, dict]:
    """Each way this environment offers to spread the model over the host devices:
    whether it left the whole model on each device, whether it reached one device's weights,
    and what it did, in words."""
    runs = {}
    m = replication["mirrored"]
    if "absent" not in m:
        runs["MirroredStrategy"] = {
            "whole": mirrors(m), "same": "error" not in m and m["diff"] <= DISTRIBUTED_ATOL,
            "text": f"raises {m['error']}" if "error" in m else (
                f"kernel held as {m['copies'][0]}, max |w - w_one| = {m['diff']:.1e}")}
    dp = replication.get("distribution", {}).get("data_parallel")
    if dp is not None:
        runs["DataParallel"] = {
            "whole": "error" not in dp and whole_on_each_device(dp["kernel"], (4, 8)),
            "same": "error" not in dp and dp["diff"] <= DISTRIBUTED_ATOL,
            "text": f"raises {dp['error']}" if "error" in dp else (
                f"kernel held as {dp['kernel']}, max |w - w_one| = {dp['diff']:.1e}")}
    return runs


def describe_runs(runs: dict[str, dict]) -> str:
    return " | ".join(f"{name}: {run['text']}" for name, run in runs.items()) or "none"


@pytest.mark.claim("q5-tf-distribute-strategy")
def test_mirrored_strategy_fit_equals_one_device_fit(replication, evidence):
    """Under MirroredStrategy over two CPU devices, each device holds every weight and fit
    reaches one device's weights."""
    m = mirrored_run(replication)
    assert "error" not in m, f"MirroredStrategy raises {m.get('error')}"
    evidence(f"{m['replicas']} replicas, kernel held as {m['copies'][0]}; max |w_mirrored - "
             f"w_one| = {m['diff']:.2e} (tolerance {DISTRIBUTED_ATOL}), against one device at "
             f"{m['replicas']}x the learning rate {m['summed_diff']:.2e}; weights moved by "
             f"{replication['moved']:.2e}")
    assert m["replicas"] == 2
    assert replication["moved"] > 1e-3
    assert mirrors(m), (f"MirroredStrategy left the kernel as {m['copies'][0]}, the weights "
                        f"{m['diff']:.1e} from one device's")
    assert m["diff"] <= DISTRIBUTED_ATOL, (
        f"mirrored weights end {m['diff']:.2e} from one device's, and {m['summed_diff']:.2e} "
        f"from one device's at {m['replicas']}x the learning rate"
    )


@pytest.mark.claim("q5-tf-distribute-strategy", correction=True)
def test_mirrored_strategy_rule_of_this_backend_and_version(environment, replication):
    """With TensorFlow, MirroredStrategy replicates and reaches one device's weights in Keras 2,
    tf_keras and Keras 3.8 on, other weights in Keras 3 before 3.8; with JAX and PyTorch it is
    accepted and ignored: each weight whole on one device, one device's weights."""
    m = mirrored_run(replication)
    if environment.backend != "tensorflow":
        assert all(len(copies) == 1 for copies in m["copies"]), m["copies"]
        assert m["diff"] <= DISTRIBUTED_ATOL
    elif environment.package == "keras" and Version("3") <= environment.version < Version("3.8"):
        assert mirrors(m) and m["diff"] > DISTRIBUTED_ATOL
    else:
        assert mirrors(m) and m["diff"] <= DISTRIBUTED_ATOL


# What replicates a model over the devices, per backend, as q5-multi-gpu-model's correction
# says; on any other backend nothing does.
REPLICATOR = {"tensorflow": "MirroredStrategy", "jax": "DataParallel"}


@pytest.mark.claim("q5-multi-gpu-model", correction=True)
def test_replication_is_mirrored_strategy_on_tensorflow_dataparallel_on_jax(
        environment, replication, evidence):
    """multi_gpu_model's replacements replicate (data parallelism): MirroredStrategy on
    TensorFlow and DataParallel on JAX leave the whole model on each device; on PyTorch
    neither does."""
    runs = spreading_runs(replication)
    evidence(describe_runs(runs))
    replicating = {name for name, run in runs.items() if run["whole"]}
    expected = {REPLICATOR[environment.backend]} if environment.backend in REPLICATOR else set()
    assert replicating == expected


@pytest.mark.claim("q6-multi-gpu-multi-machine")
def test_training_spreads_over_two_devices_of_one_host(replication, evidence):
    """The seed: Keras trains distributed over several devices. Some way it offers
    (MirroredStrategy, DataParallel) leaves the whole model on each of two host devices and
    reaches one device's weights."""
    runs = spreading_runs(replication)
    evidence(describe_runs(runs))
    assert any(run["whole"] and run["same"] for run in runs.values()), describe_runs(runs)


def describe_routes(run: dict) -> str:
    """Each multi-process route's outcome, for the evidence."""
    texts = []
    for route in run["routes"]:
        text = f"{route['route']}: {route['outcome']}"
        if route["outcome"] == "error":
            text += f" in {route['stage']} ({route['detail']})"
        elif route["outcome"] == "trained" and "diff_reference" in route:
            holders = "; ".join(f"process {p}: {d}" for p, d in route["kernel_holders"])
            rows = "; ".join(f"worker {i}: rows {spans(r)}" for i, r in enumerate(route["rows"]))
            text += (f", trained on {rows} (of 0-{SAMPLES - 1}); kernel held by {holders}; "
                     f"max |w - w_one process| = {route['diff_reference']:.1e}, from the "
                     f"first worker's training alone on its half {route['diff_alone']:.1e}, "
                     f"between workers {route['diff_workers']:.1e}")
        if "peer" in route:
            text += f"; the other worker: {route['peer']}"
        texts.append(text)
    if "alone_diff" in run:
        texts.append(f"control: a worker trained alone on its half ends "
                     f"{run['alone_diff']:.1e} away")
    return " | ".join(texts)


def spans(rows: list[int]) -> str:
    """[0, 1, 2, 7, 8] -> '0-2, 7-8'."""
    runs: list[list[int]] = []
    for row in rows:
        if runs and row == runs[-1][1] + 1:
            runs[-1][1] = row
        else:
            runs.append([row, row])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)


def cooperated(route: dict) -> bool:
    """Both workers trained one model, held by devices of both processes, each on rows the
    other lacks (together every row), to one process's weights on every row."""
    if route["outcome"] != "trained" or "diff_reference" not in route:
        return False
    mine, theirs = map(set, route["rows"])
    return ({process for process, _ in route["kernel_holders"]} == {0, 1}
            and not mine & theirs and mine | theirs == set(range(SAMPLES))
            and route["diff_reference"] <= DISTRIBUTED_ATOL
            and route["diff_workers"] <= DISTRIBUTED_ATOL)


@pytest.fixture(scope="module")
def multi_process(environment, child_runs):
    """Two worker processes on 127.0.0.1 training one model together
    (children/multi_process_training.py), each route the workers tried and how it ended."""
    skip_unless_trainable(environment)
    run = child_runs["multi_process"].result()
    if "alone_diff" in run and run["alone_diff"] <= DISTRIBUTED_ATOL:
        raise RuntimeError("a worker trained alone reaches the reference: the comparison "
                           "cannot tell cooperation from none")
    return run


@pytest.mark.claim("q6-multi-gpu-multi-machine")
def test_two_processes_train_one_model_to_one_process_weights(multi_process, evidence):
    """The seed: Keras trains distributed over several machines. Two worker processes on
    127.0.0.1 (as two machines), each training on its half of every batch (keras.distribution
    shards one dataset between them, as its guide feeds it; MultiWorkerMirroredStrategy reads
    each worker's own), hold the model on devices of both and reach the weights one process
    reaches on every batch whole: only combined gradients can."""
    evidence(describe_routes(multi_process))
    assert any(cooperated(route) for route in multi_process["routes"]), (
        describe_routes(multi_process))


MULTI_WORKER_MIRRORED = "tf.distribute.MultiWorkerMirroredStrategy"


@pytest.mark.claim("q6-multi-gpu-multi-machine", correction=True)
def test_multi_process_route_of_this_backend_and_version(environment, multi_process):
    """Several processes train one model with DataParallel on JAX, and under
    MultiWorkerMirroredStrategy with Keras 2 and tf_keras. With Keras 3 on TensorFlow fit
    raises under that strategy; with PyTorch nothing cooperates."""
    routes = {route["route"]: route for route in multi_process["routes"]}
    working = {name for name, route in routes.items() if cooperated(route)}
    mirrored = routes.get(MULTI_WORKER_MIRRORED, {})
    if environment.backend == "jax":
        assert working and all("DataParallel" in name for name in working), routes
    elif environment.backend == "tensorflow" and environment.major < 3:
        assert working == {MULTI_WORKER_MIRRORED}, routes
    elif environment.backend == "tensorflow":
        assert not working, routes
        assert (mirrored["outcome"], mirrored.get("stage")) == ("error", "fit"), routes
    else:
        assert not working, routes


@pytest.mark.claim("q6-multi-gpu-multi-machine", correction=True)
def test_multi_device_route_of_this_backend_and_version(environment, replication):
    """Several devices of one host: MirroredStrategy reaches one device's weights with
    TensorFlow in Keras 2, tf_keras and Keras 3.8 on, DataParallel does on JAX, nothing does on
    PyTorch or with TensorFlow in Keras 3 before 3.8."""
    runs = spreading_runs(replication)
    working = {name for name, run in runs.items() if run["whole"] and run["same"]}
    old_keras3 = environment.package == "keras" and (
        Version("3") <= environment.version < Version("3.8"))
    if environment.backend == "tensorflow" and not old_keras3:
        assert working == {"MirroredStrategy"}, describe_runs(runs)
    elif environment.backend == "jax":
        assert working == {"DataParallel"}, describe_runs(runs)
    else:
        assert working == set(), describe_runs(runs)


def train_from_disk(*paths) -> list[dict]:
    """Train on each disk-backed dataset in turn in one child; its peak memory for each."""
    return child_report(run_child("disk_training", *map(str, paths)))


def grown_kib(run: dict) -> int:
    """How far the child's peak memory rose above its start, in KiB."""
    return run["peak_kib"] - run["start_kib"]


def assert_memory_bounded(big: dict, small: dict, extra_bytes: int) -> None:
    """The catalog's bound: the bigger file may raise the peak by MEMORY_SHARE of its extra
    size at most."""
    growth = (grown_kib(big) - grown_kib(small)) * 1024
    assert growth < MEMORY_SHARE * extra_bytes, (
        f"peak grew {growth >> 20} MiB for {extra_bytes >> 20} MiB more data")


def describe_peak(run: dict) -> str:
    return (f"{run['peak_kib'] / 1024:.0f} MiB (+{grown_kib(run) / 1024:.0f} over start, "
            f"{run['steps']} steps)")


def sparse_file(directory, size: int):
    """A file of `size` bytes that reads as zeros and takes no disk space."""
    path = directory / f"data-{size}.f32"
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@pytest.fixture(scope="module", autouse=True)
def child_runs(environment, tmp_path_factory, shared_child):
    """Start this module's child processes together at its first test, so that their start-up
    (a fresh import of the backend each) overlaps the other tests instead of adding to them."""
    jobs = {}
    if environment.backend not in INFERENCE_ONLY_BACKENDS:
        jobs["replication"] = lambda: shared_child("same_training", "mirrored", "distribution")
        jobs["multi_process"] = lambda: child_report(
            run_child("multi_process_training", timeout=MULTI_PROCESS_S))
        folder = tmp_path_factory.mktemp("disk")
        # The big file first: memory the small run reuses can only understate the small
        # run's peak, which makes the comparison stricter, never looser.
        files = [sparse_file(folder, size) for size in (BIG_FILE, SMALL_FILE)]
        jobs["disk"] = lambda: train_from_disk(*files)
    with ThreadPoolExecutor(max(len(jobs), 1)) as pool:
        yield {name: pool.submit(job) for name, job in jobs.items()}


@pytest.mark.claim("q6-generators-bound-memory")
def test_training_from_a_1gib_file_needs_no_more_memory_than_from_1mib(environment, child_runs,
                                                                         evidence):
    """Fed batch by batch from disk, a 1 GiB dataset trains with about the memory of 1 MiB."""
    skip_unless_trainable(environment)
    big, small = child_runs["disk"].result()
    growth = grown_kib(big) - grown_kib(small)
    evidence("peak RSS (VmHWM reset after a warm-up epoch; batches read without mmap; one child, "
             "1 GiB file first): "
             f"1 MiB file {describe_peak(small)}; 1 GiB file {describe_peak(big)}; growth "
             f"difference {growth / 1024:.0f} MiB, bound {MEMORY_SHARE:.0%} of 1023 MiB")
    assert big["steps"] == 256 and small["steps"] == 1
    assert_memory_bounded(big, small, BIG_FILE - SMALL_FILE)


@pytest.mark.bench
@pytest.mark.claim("q6-generators-bound-memory")
def test_peak_memory_per_file_size(environment, tmp_path, evidence):
    """Peak RSS of disk-backed training for 1 MiB to 4 GiB files, each in its own child."""
    skip_unless_trainable(environment)
    runs = {}
    for size in (1 << 20, 1 << 26, 1 << 28, 1 << 30, 1 << 32):
        [runs[size]] = train_from_disk(sparse_file(tmp_path, size))
        evidence(f"{size >> 20} MiB file: peak {describe_peak(runs[size])}")
    # the catalog's bound is stated from 1 GiB up; below it the fixed ~15 MiB of a first
    # batch pipeline is reported, not judged
    for size in (1 << 30, 1 << 32):
        assert_memory_bounded(runs[size], runs[1 << 20], size - (1 << 20))
