"""keras.applications' downloads, run for real against a server on 127.0.0.1: every https URL
constant of the module that downloads (an application's weights, imagenet_utils' class index)
is pointed at a local HTTP server that serves a file made here or answers 404. HOME and
KERAS_HOME are set to a temporary folder before Keras is imported (Keras 3 caches downloads
under KERAS_HOME, Keras 2 under ~/.keras), so nothing is cached anywhere else.
`imagenet_downloads.py <experiment>...`, each experiment one of:
  <Application>          its weights file made here (a weights=None model's weights, set to a
                         seeded pattern, written as the legacy HDF5 the real files are), then
                         weights="imagenet" run with the module's own file hashes and, where they
                         refuse the file, once more with them set to the made file's sha256, or
                         else once more to see the cached file used;
  default:<Application>  the constructor with its default weights (include_top=False), the
                         server answering 404: which file it asks for;
  class-index            decode_predictions with a made 1000-class index served.
Prints one JSON object: a report per experiment."""

import hashlib
import importlib
import json
import os
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from claims.target import detect, load_keras

# Keyword arguments that make an application small enough to build in a second or two.
SMALL = {"MobileNet": {"alpha": 0.25, "input_shape": (128, 128, 3)}}
REAL_ORIGIN = "https://storage.googleapis.com"


class Server:
    """Serves `payload` (a path, or None for 404) at every path, and logs the real URL of each
    request (the path under the origin it replaces)."""

    def __init__(self):
        self.payload: Path | None = None
        self.requested: list[str] = []
        self.redirected: dict[str, dict[str, str]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requested.append(REAL_ORIGIN + self.path)
                if server.payload is None:
                    self.send_error(404)
                    return
                body = server.payload.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.http.server_address[1]}"

    def redirect(self, module) -> dict[str, str]:
        """Point the module's download URL constants at this server; returns the originals."""
        if module.__name__ not in self.redirected:
            urls = {name: value for name, value in vars(module).items()
                    if isinstance(value, str) and value.startswith(REAL_ORIGIN + "/")}
            for name, value in urls.items():
                setattr(module, name, self.origin + urlsplit(value).path)
            self.redirected[module.__name__] = urls
        return self.redirected[module.__name__]

    def requests_during(self, call):
        """What `call()` returned or raised, and the URLs it requested."""
        start = len(self.requested)
        try:
            result, error = call(), None
        except Exception as exc:  # the experiment's outcome, reported
            result, error = None, f"{type(exc).__name__}: {exc}"
        return result, error, self.requested[start:]


def module_of(function):
    return sys.modules[function.__module__]


def write_legacy_weights(model, path: Path) -> None:
    """The HDF5 layout of the published weights files (Keras 2's save_weights to '.h5'); Keras
    3 saves weights only as '.weights.h5', so its legacy writer is called directly."""
    if detect().major >= 3:
        import h5py

        legacy = importlib.import_module("keras.src.legacy.saving.legacy_h5_format")
        with h5py.File(path, "w") as f:
            legacy.save_weights_to_hdf5_group(f, model)
    else:
        model.save_weights(str(path))


def max_difference(arrays, others) -> float:
    return max(float(np.abs(a - b).max()) for a, b in zip(arrays, others, strict=True))


def load_imagenet(apps, server, folder: Path, name: str) -> dict:
    build = getattr(apps, name)
    kwargs = SMALL.get(name, {})
    module = module_of(build)
    made = build(weights=None, **kwargs)
    rng = np.random.default_rng(0)
    pattern = [rng.normal(size=w.shape).astype(w.dtype) for w in made.get_weights()]
    made.set_weights(pattern)
    path = folder / "made.h5"
    write_legacy_weights(made, path)
    server.payload = path
    urls = server.redirect(module)

    def attempt() -> dict:
        model, error, requested = server.requests_during(
            lambda: build(weights="imagenet", **kwargs))
        outcome = {"requested": requested, "error": error}
        if model is not None:
            outcome["max_difference"] = max_difference(model.get_weights(), pattern)
        return outcome

    report = {"url_constants": urls, "shipped_hashes": attempt()}
    hashes = getattr(module, "WEIGHTS_HASHES", None)
    if report["shipped_hashes"]["error"] and hashes:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        module.WEIGHTS_HASHES = {key: (digest, digest) for key in hashes}
        report["made_file_hashes"] = attempt()
    else:
        report["again"] = attempt()  # from the cache
    report["cached"] = sorted(p.name for p in (Path(os.environ["KERAS_HOME"]) / "models").iterdir())
    return report


def default_weights(apps, server, name: str) -> dict:
    build = getattr(apps, name)
    server.payload = None
    urls = server.redirect(module_of(build))
    _, error, requested = server.requests_during(lambda: build(include_top=False))
    return {"url_constants": urls, "requested": requested, "error": error}


def class_index(apps, server, folder: Path) -> dict:
    decode = importlib.import_module(f"{apps.__name__}.vgg16").decode_predictions
    imagenet_utils = importlib.import_module(f"{apps.__name__}.imagenet_utils")
    index = {str(i): [f"n{i:08d}", f"class {i}"] for i in range(1000)}
    path = folder / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    server.payload = path
    urls = server.redirect(module_of(imagenet_utils.decode_predictions))
    preds = np.random.default_rng(0).uniform(size=(1, 1000)).astype("float32")
    _, error, requested = server.requests_during(lambda: decode(preds, top=3))
    return {"url_constants": urls, "requested": requested, "error": error}


def run(experiment: str, apps, server, folder: Path) -> dict:
    if experiment == "class-index":
        return class_index(apps, server, folder)
    if experiment.startswith("default:"):
        return default_weights(apps, server, experiment.removeprefix("default:"))
    return load_imagenet(apps, server, folder, experiment)


def main(experiments: list[str]) -> dict:
    # the backend first: without KERAS_BACKEND, Keras 3 would read it from the new KERAS_HOME
    os.environ.setdefault("KERAS_BACKEND", detect().backend)
    with tempfile.TemporaryDirectory() as home:
        os.environ.update(HOME=home, KERAS_HOME=str(Path(home) / ".keras"))
        apps = importlib.import_module(f"{load_keras().__name__}.applications")
        server = Server()
        reports = {}
        for experiment in experiments:
            with tempfile.TemporaryDirectory() as made:
                reports[experiment] = run(experiment, apps, server, Path(made))
        return reports


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
