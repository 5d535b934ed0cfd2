"""Loads a file under an address-space limit 2 GiB above what the imports took, so that a file
declaring a huge dataset fails to allocate here instead of exhausting the machine:
`load_under_limit.py load_model <model.keras>` loads it with keras.models.load_model;
`load_under_limit.py file_editor <model.keras>` opens it with keras.saving.KerasFileEditor;
`load_under_limit.py read <weights.h5>` reads every dataset with h5py alone (the positive
control: what a loader that trusts the file would allocate). Prints {"outcome": "loaded" or the
exception} as JSON."""

import contextlib
import json
import resource
import sys

import h5py

from claims.target import load_keras


def read_every_dataset(path: str) -> None:
    with h5py.File(path, "r") as h5:
        h5.visititems(lambda name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)


LOADERS = {
    "load_model": lambda: load_keras().models.load_model,
    "file_editor": lambda: load_keras().saving.KerasFileEditor,
    "read": lambda: read_every_dataset,
}


def main(how: str, path: str) -> None:
    load = LOADERS[how]()
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + (2 << 30), resource.RLIM_INFINITY))
    try:
        # KerasFileEditor prints the file's description: stdout keeps only the JSON line
        with contextlib.redirect_stdout(sys.stderr):
            load(path)
        outcome = "loaded"
    except BaseException as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"outcome": " ".join(outcome.split())[:400]}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
