"""Switches a user has that can change a verdict, each audited in both settings.

A setting is observed, never assumed: each runs in a Python of its own (children/keras_server.py)
started with the setting's environment variables, which reports the machine facts as it sees
them (TensorFlow's oneDNN state as TensorFlow reports it). A test asks for a switch by fixture
(`onednn`) and calls its helpers there: `onednn.call(valid_output, g, image, ...)` runs
`valid_output(keras, g, image, ...)` in that process. The plugin records the test's verdict per
setting (`claims_setting`), and a catalog rule names the fact (`onednn = "off"`).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import dataclass

from tests.checks import CHILDREN, ROOT

# name (the machine fact it moves, claims.machine) -> setting -> the environment variables that
# choose it. TensorFlow turns oneDNN on by default on some CPUs (those with AVX-512 VNNI, BF16 or
# AMX) and off on others: both are what a user may have, so both are audited wherever the audit
# runs.
SWITCHES: dict[str, dict[str, dict[str, str]]] = {
    "onednn": {"on": {"TF_ENABLE_ONEDNN_OPTS": "1"}, "off": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
}


class ChildRaised(RuntimeError):
    """A helper raised in the child for another reason than the claim's assertion: an error of
    the check, never a refutation."""


@dataclass
class KerasProcess:
    """A Python of this environment with one switch set, serving calls until closed."""

    switch: str
    requested: str
    proc: subprocess.Popen
    facts: dict[str, str]

    @classmethod
    def start(cls, switch: str, requested: str) -> KerasProcess:
        env = {**os.environ, **SWITCHES[switch][requested]}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
        proc = subprocess.Popen([sys.executable, str(CHILDREN / "keras_server.py")], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            facts = pickle.load(proc.stdout)
        except EOFError:
            raise ChildRaised(f"the Python with {switch}={requested} exited "
                              f"{proc.wait()} before serving (its stderr is in the log)") from None
        return cls(switch, requested, proc, facts)

    @property
    def claims_setting(self) -> dict[str, str]:
        """What the plugin records for a test run here: the variables set and the fact
        observed (`{"TF_ENABLE_ONEDNN_OPTS": "0", "onednn": "off"}`)."""
        return {**SWITCHES[self.switch][self.requested], self.switch: self.facts[self.switch]}

    def call(self, function, *args, **kwargs):
        """`function(keras, *args, **kwargs)` in the child; `function` must be a module-level
        function of the tests (pickled by name). The child's AssertionError is raised here as
        one, so the claim's own assertion still refutes it; anything else is ChildRaised."""
        pickle.dump((function, args, kwargs), self.proc.stdin)
        self.proc.stdin.flush()
        try:
            reply = pickle.load(self.proc.stdout)
        except EOFError:
            raise ChildRaised(f"the Python with {self.switch}={self.requested} died "
                              f"(exit {self.proc.wait()})") from None
        if reply[0] == "returned":
            return reply[1]
        _, name, message, is_assertion = reply
        if is_assertion:
            raise AssertionError(f"{self.label}: {message}")
        raise ChildRaised(f"{self.label}: {message}")

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.claims_setting.items())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
