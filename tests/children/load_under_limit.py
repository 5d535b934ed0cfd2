"""Loads a .keras file under an address-space limit 2 GiB above what the imports took:
`load_under_limit.py <model.keras>` prints {"outcome": "loaded" or the exception} as JSON, so
that a file declaring a huge dataset fails to allocate here instead of exhausting the machine."""

import json
import resource
import sys

from claims.target import load_keras


def main(path: str) -> None:
    keras = load_keras()
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + (2 << 30), resource.RLIM_INFINITY))
    try:
        keras.models.load_model(path)
        outcome = "loaded"
    except BaseException as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    print(json.dumps({"outcome": " ".join(outcome.split())[:400]}))


if __name__ == "__main__":
    main(sys.argv[1])
