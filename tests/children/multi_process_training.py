"""Trains one small model in two processes together, as two machines would (two workers on
127.0.0.1, ports picked at run time), and prints as JSON how far the weights they reach are
from one process's training on the same data.

`multi_process_training.py`: the launcher. It starts both workers, waits for them (WAIT_S at
most), kills them on failure, and prints, for each route the workers tried, what happened, how
many devices over both processes hold the trained kernel, and how far its weights ended from
the reference. A worker that hangs or dies without a report makes the launcher exit non-zero:
the cluster did not come up, which says nothing of Keras.
`multi_process_training.py worker <index> <port> <port> <port>`: one worker. It tries the routes
in ROUTES order, in one process, until one trains: a route whose API is absent, or whose set-up
raises, has changed nothing in the process, so the next one can start; one that raises in fit
ends the trials, the process being no longer as it was.

Each worker trains on its own half of every batch, rows the other worker lacks: only workers
that combine their gradients reach the weights of one process trained on every batch whole.
Under keras.distribution every worker passes fit the same dataset of global batches, as its
guide does, and Keras gives each process its part; the rows fit handed each worker are
recorded. Under MultiWorkerMirroredStrategy each worker's input pipeline reads its half.
Each worker reports the rows it trained on and the devices, with the process that owns each,
holding the trained kernel.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np

from tests.children.same_training import build, diff, failure, fit_feeds

WORKERS = 2
SAMPLES, GLOBAL_BATCH, EPOCHS = 32, 16, 1  # two steps
WEIGHT_SHAPES = [(4, 8), (8,), (8, 1), (1,)]  # same_training.build()'s kernels and biases
WAIT_S = 150


def data():
    rng = np.random.default_rng(0)
    return (rng.uniform(-1, 1, (SAMPLES, 4)).astype("float32"),
            rng.uniform(-1, 1, (SAMPLES, 1)).astype("float32"))


def half_of_each_batch(array, index):
    """Rows [8 * index, 8 * index + 8) of each batch of 16: one worker's shard."""
    halves = array.reshape(SAMPLES // GLOBAL_BATCH, WORKERS, -1, *array.shape[1:])
    return halves[:, index].reshape(-1, *array.shape[1:])


def own_half(index):
    """Worker `index`'s data: its half of each global batch."""
    return tuple(half_of_each_batch(array, index) for array in data())


def start_weights():
    """The same start in every process, drawn without the backend (JAX must not compute before
    its cluster is set up)."""
    rng = np.random.default_rng(1)
    return [rng.uniform(-0.5, 0.5, shape).astype("float32") for shape in WEIGHT_SHAPES]


def as_lists(weights):
    return [np.asarray(w).tolist() for w in weights]


def fit_alone(keras, start, x, y, batch_size):
    model = build(keras)
    model.set_weights(start)
    model.fit(x, y, batch_size=batch_size, epochs=EPOCHS, shuffle=False, verbose=0)
    return as_lists(model.get_weights())


def local_runs(keras, start, index) -> dict:
    """Each worker also trains by itself: on all the data (the reference), and on its shard
    only (what a worker reaches whose gradients are not combined with its peer's). Both
    workers do, so that they draw the same random numbers before training together."""
    return {"reference": fit_alone(keras, start, *data(), GLOBAL_BATCH),
            "alone": fit_alone(keras, start, *own_half(index), GLOBAL_BATCH // WORKERS),
            "start": as_lists(start)}


def holders(keras, variable, index) -> list[list]:
    """[process, device] of each device holding the variable: over every process for a JAX
    array (its sharding), this worker's copies for a tf.distribute variable (the process is
    the device's task); the variable's one device in this process otherwise."""
    value = variable.value if hasattr(keras, "distribution") else variable
    if hasattr(value, "sharding"):
        return sorted([d.process_index, str(d)] for d in value.sharding.device_set)
    copies = getattr(value, "values", None)
    if not isinstance(copies, tuple | list):
        return [[index, str(value.device)]]
    import tensorflow as tf

    return [[tf.DeviceSpec.from_string(c.device).task, c.device] for c in copies]


def rows_of(x, batch) -> list[int]:
    """The rows of `x` a batch of inputs holds (a batch of targets: none)."""
    local = np.asarray(batch)
    if local.shape[1:] != x.shape[1:]:
        return []
    return [int(np.flatnonzero((x == row).all(1))[0]) for row in local]


def fit_global_batches(keras, model, index) -> list[int]:
    """keras.distribution's multi-process way: the same tf.data.Dataset of global batches in
    every process, which Keras shards between them. Returns the rows this process trained on."""
    import tensorflow as tf

    rows: list[int] = []
    x = data()[0]
    with fit_feeds(keras, lambda batch, _: rows.extend(rows_of(x, batch))):
        model.fit(tf.data.Dataset.from_tensor_slices(data()).batch(GLOBAL_BATCH),
                  epochs=EPOCHS, verbose=0)
    return sorted(set(rows))  # a batch may be handed over more than once (a first build)


def fit_together(keras, start, cluster, index) -> dict:
    scope, fit = cluster
    with scope:  # a keras.distribution spreads only the batches fit is given inside its scope
        model = build(keras)
        model.set_weights(start)
        rows = fit(keras, model, index)
    return {"weights": as_lists(model.get_weights()), "rows": rows,
            "kernel_holders": holders(keras, model.get_layer("hidden").kernel, index)}


def data_parallel(keras):
    """keras.distribution.DataParallel over every process's devices, as set up by default."""
    return keras.distribution.DataParallel().scope(), fit_global_batches


def cpu_collectives() -> None:
    """JAX before 0.5 computes across processes on CPU only with Gloo switched on (later JAX
    uses it by default and has no such option): a setting of this CPU host, not of Keras."""
    import jax

    try:
        jax.config.update("jax_cpu_enable_gloo_collectives", True)
    except AttributeError:
        pass


def keras_distribution(keras, ports, index):
    if not hasattr(keras, "distribution"):
        return None
    if keras.backend.backend() == "jax":
        cpu_collectives()
    # positional: Keras 3.0 names the third parameter `proceed_id`
    keras.distribution.initialize(f"127.0.0.1:{ports[0]}", WORKERS, index)
    return data_parallel


def jax_distributed(keras, ports, index):
    try:
        import jax
    except ImportError:
        return None
    if not hasattr(keras, "distribution"):
        return None
    cpu_collectives()
    jax.distributed.initialize(f"127.0.0.1:{ports[0]}", WORKERS, index)
    return data_parallel


def multi_worker_mirrored(keras, ports, index):
    try:
        import tensorflow as tf
    except ImportError:
        return None
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports[1:]]},
        "task": {"type": "worker", "index": index},
    })
    strategy = tf.distribute.MultiWorkerMirroredStrategy()

    def fit_own_half_datasets(keras, model, index):
        """Each worker's input pipeline reads that worker's half, batched per replica (the
        strategy's way to give each worker its own data, with no sharding of its own)."""
        def dataset(context):
            return tf.data.Dataset.from_tensor_slices(own_half(context.input_pipeline_id)).batch(
                context.get_per_replica_batch_size(GLOBAL_BATCH))

        model.fit(strategy.distribute_datasets_from_function(dataset), epochs=EPOCHS,
                  steps_per_epoch=SAMPLES // GLOBAL_BATCH, verbose=0)
        return sorted(half_of_each_batch(np.arange(SAMPLES), index).tolist())

    return lambda keras: (strategy.scope(), fit_own_half_datasets)


# Each route sets up the cluster and returns what makes (the scope to build the model in, the
# fit of the worker's data) (None: its API is absent).
ROUTES = {
    "keras.distribution.initialize + DataParallel": keras_distribution,
    "jax.distributed.initialize + DataParallel": jax_distributed,
    "tf.distribute.MultiWorkerMirroredStrategy": multi_worker_mirrored,
}


def worker(index: int, ports: list[int]) -> dict:
    from claims.target import load_keras

    keras = load_keras()
    start = start_weights()
    routes, local = [], {}
    for name, route in ROUTES.items():
        try:
            scope = route(keras, ports, index)
        except Exception as exc:  # the route's own set-up refused: that is the finding
            routes.append({"route": name, "outcome": "error", "stage": "set-up",
                           "detail": failure(exc)})
            continue
        if scope is None:
            routes.append({"route": name, "outcome": "absent"})
            continue
        local = local or local_runs(keras, start, index)
        try:
            result = fit_together(keras, start, scope(keras), index)
        except Exception as exc:
            routes.append({"route": name, "outcome": "error", "stage": "fit",
                           "detail": failure(exc)})
            break
        routes.append({"route": name, "outcome": "trained", **result})
        break
    return {"routes": routes, **local}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers() -> list[dict]:
    ports = [str(p) for p in free_ports(3)]
    # JAX's coordinator listens on every interface unless told otherwise; TensorFlow's
    # servers always do (its gRPC address is fixed), for the few seconds the workers run.
    env = {**os.environ, "JAX_COORDINATOR_BIND_ADDRESS": f"127.0.0.1:{ports[0]}"}
    workers = [subprocess.Popen([sys.executable, __file__, "worker", str(i), *ports], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(WORKERS)]
    outputs, deadline = [], time.monotonic() + WAIT_S
    try:
        for proc in workers:
            outputs.append(proc.communicate(timeout=max(deadline - time.monotonic(), 1)))
    except subprocess.TimeoutExpired:
        sys.exit(f"the workers did not finish within {WAIT_S} s")
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    reports = []
    for proc, (out, err) in zip(workers, outputs, strict=True):
        if proc.returncode != 0 or not out.strip():
            tail = " | ".join([line for line in err.splitlines() if line.strip()][-5:])
            sys.exit(f"a worker exited {proc.returncode} without a report: {tail}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def launch() -> dict:
    first, second = run_workers()
    routes = []
    for mine, theirs in zip(first["routes"], second["routes"], strict=True):
        route = {k: v for k, v in mine.items() if k != "weights"}
        if mine["outcome"] == theirs["outcome"] == "trained":
            route["kernel_holders"] = sorted({tuple(h) for h in (
                *mine["kernel_holders"], *theirs["kernel_holders"])})
            route["rows"] = [mine["rows"], theirs["rows"]]
            route["diff_reference"] = diff(mine["weights"], first["reference"])
            route["diff_alone"] = diff(mine["weights"], first["alone"])
            route["diff_workers"] = diff(mine["weights"], theirs["weights"])
        elif mine["outcome"] != theirs["outcome"]:
            route["peer"] = {k: v for k, v in theirs.items() if k != "weights"}
        routes.append(route)
    if "reference" not in first:  # no route got as far as training
        return {"routes": routes}
    return {"routes": routes, "moved": diff(first["start"], first["reference"]),
            "alone_diff": diff(first["alone"], first["reference"])}


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        signal.alarm(WAIT_S + 30)  # outlives no launcher: ends itself if left waiting on a peer
        print(json.dumps(worker(int(sys.argv[2]), [int(p) for p in sys.argv[3:]])))
    else:
        print(json.dumps(launch()))
