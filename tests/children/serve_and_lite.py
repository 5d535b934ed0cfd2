"""Plays TF-Serving (TensorFlow, no Keras: run with block_keras), then the TFLite runtime, on a
SavedModel that model.export wrote: `serve_and_lite.py <exported> <x.npy> <out>` writes
out/serving.npy, then out/tflite.npy, each as soon as it has it, since a converter crash can
abort the process."""

import os
import sys

import numpy as np
import tensorflow as tf


def main(exported: str, x_file: str, out: str) -> None:
    x = np.load(x_file)
    serve = tf.saved_model.load(exported).signatures["serving_default"]
    (name,) = serve.structured_input_signature[1]
    (y,) = serve(**{name: tf.constant(x)}).values()
    np.save(os.path.join(out, "serving.npy"), y.numpy())
    lite = tf.lite.TFLiteConverter.from_saved_model(exported).convert()
    interpreter = tf.lite.Interpreter(model_content=lite)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    np.save(os.path.join(out, "tflite.npy"),
            interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


if __name__ == "__main__":
    main(*sys.argv[1:4])
