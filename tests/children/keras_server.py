"""Serves calls of the tests' own helpers in a Python of its own, whose settings (environment
variables read when TensorFlow or Keras start, such as TF_ENABLE_ONEDNN_OPTS) the test chose.

Started by `tests.switches.KerasProcess`. Protocol, pickled frames: it first writes the machine
facts as this process sees them (claims.machine.facts()); then for each request
`(function, args, kwargs)` read from stdin it writes `("returned", value)` for
`function(keras, *args, **kwargs)`, or `("raised", type name, message, is_assertion)`.
Anything Keras or TensorFlow print goes to stderr, so stdout carries frames only.
"""

import os
import pickle
import sys


def main() -> None:
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    from claims import machine
    from claims.target import load_keras
    from claims.verdicts import describe

    keras = load_keras()
    pickle.dump(machine.facts(), replies)
    replies.flush()
    while True:
        try:
            function, args, kwargs = pickle.load(sys.stdin.buffer)
        except EOFError:
            # Nothing is left to write; a normal exit would wait for TensorFlow to tear down
            # what predict left (tf.data iterator threads): 19 s at the end of the audit.
            replies.flush()
            os._exit(0)
        try:
            reply = ("returned", function(keras, *args, **kwargs))
        except Exception as exc:  # reported to the test, which decides what it means
            reply = ("raised", type(exc).__name__, describe(exc), isinstance(exc, AssertionError))
        pickle.dump(reply, replies)
        replies.flush()


if __name__ == "__main__":
    main()
