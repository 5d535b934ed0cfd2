"""Runs another child program in a process where importing Keras fails, as in a serving process
that has TensorFlow and no Keras: `_no_keras.py <program.py> [args...]`
(`checks.run_child(..., block_keras=True)`)."""

import importlib.abc
import importlib.machinery
import runpy
import sys


class _Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"{spec.name} imported in a process that must run without Keras")

    def exec_module(self, module):
        pass


class _NoKeras(importlib.abc.MetaPathFinder):
    # TensorFlow may look Keras up (find_spec) while importing, but a serving process has no
    # Keras: finding it is allowed, importing it raises.
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in ("keras", "tf_keras"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None:
            spec.loader = _Refuse()
        return spec


if __name__ == "__main__":
    sys.meta_path.insert(0, _NoKeras())
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
