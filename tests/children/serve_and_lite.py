"""Plays TF-Serving (TensorFlow, no Keras: run with block_keras), then the TFLite runtime, on a
SavedModel that model.export wrote: `serve_and_lite.py <exported> <x.npy> <out>` writes
out/serving.npy, then out/tflite.npy, each as soon as it has it, since a converter crash can
abort the process; a step that raises writes out/<step>.error, the exception, instead."""

import os
import sys

import numpy as np
import tensorflow as tf


def serve(exported: str, x: np.ndarray) -> np.ndarray:
    signature = tf.saved_model.load(exported).signatures["serving_default"]
    (name,) = signature.structured_input_signature[1]
    (y,) = signature(**{name: tf.constant(x)}).values()
    return y.numpy()


def lite(exported: str, x: np.ndarray) -> np.ndarray:
    interpreter = tf.lite.Interpreter(
        model_content=tf.lite.TFLiteConverter.from_saved_model(exported).convert())
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def main(exported: str, x_file: str, out: str) -> None:
    x = np.load(x_file)
    for name, step in (("serving", serve), ("tflite", lite)):
        try:
            np.save(os.path.join(out, f"{name}.npy"), step(exported, x))
        except Exception as exc:  # the runtime refusing the model: judged by the test
            with open(os.path.join(out, f"{name}.error"), "w") as error:
                error.write(" ".join(f"{type(exc).__name__}: {exc}".split())[:400])


if __name__ == "__main__":
    main(*sys.argv[1:4])
