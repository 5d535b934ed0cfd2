"""Trains a model on each disk-backed dataset named in argv in turn, and prints as JSON, per
file, the steps taken and the process's peak memory before and after its epoch:
`disk_training.py <file> [<file>...]`, each file float32 rows of FEATURES values.

Batches are read with np.fromfile at an offset, not through a memory map: file pages stay in
the kernel's page cache and never count in the process's RSS, so the peak RSS (VmHWM, reset
through /proc/self/clear_refs after a warm-up epoch and between files) is the process's own
memory.
"""

import json
import math
import os
import re
import sys

import numpy as np

from claims.target import load_keras

FEATURES, BATCH = 1024, 1024


def batches(path, limit):
    samples = os.path.getsize(path) // (4 * FEATURES)
    with open(path, "rb") as f:
        while True:
            for i in range(limit):
                rows = min(BATCH, samples - i * BATCH)
                f.seek(i * BATCH * FEATURES * 4)
                x = np.fromfile(f, dtype="float32", count=rows * FEATURES)
                yield x.reshape(rows, FEATURES), np.zeros((rows, 1), "float32")


def peak_kib():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\s+(\d+)", status.read()).group(1))


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return peak_kib()


def main(paths: list[str]) -> None:
    keras = load_keras()
    model = keras.Sequential([keras.Input(shape=(FEATURES,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(batches(paths[0], 1), steps_per_epoch=1, epochs=1, verbose=0)
    runs = []
    for path in paths:
        steps = math.ceil(os.path.getsize(path) / (4 * FEATURES * BATCH))
        start = reset_peak()
        model.fit(batches(path, steps), steps_per_epoch=steps, epochs=1, verbose=0)
        runs.append({"steps": steps, "start_kib": start, "peak_kib": peak_kib()})
    print(json.dumps(runs))


if __name__ == "__main__":
    main(sys.argv[1:])
