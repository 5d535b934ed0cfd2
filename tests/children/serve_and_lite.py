"""Plays TF-Serving (TensorFlow, no Keras: run with block_keras), then the TFLite runtimes, on what
model.export wrote: `serve_and_lite.py <exported> <x.npy> <out> [<model.tflite>]`.

<exported> is the SavedModel directory ('-': none): out/serving.npy is what its serving_default
signature computes; the SavedModel converted by tf.lite.TFLiteConverter then runs in
tf.lite.Interpreter (out/tflite.npy) and in LiteRT's ai_edge_litert.interpreter.Interpreter
(out/tflite_litert.npy). <model.tflite>, written by model.export(format='litert'), runs in both
runtimes too (out/litert_tf.npy, out/litert_litert.npy). Each step writes its .npy as soon as it
has it, since a converter crash can abort the process; a step that raises writes
out/<step>.error, the exception, instead ("ImportError: ..." where a package is missing), and
out/<step>.note says the input shape the model declares."""

import os
import sys

import numpy as np


def serve(exported: str, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    signature = tf.saved_model.load(exported).signatures["serving_default"]
    (name,) = signature.structured_input_signature[1]
    (y,) = signature(**{name: tf.constant(x)}).values()
    return y.numpy()


def converted(exported: str) -> bytes:
    import tensorflow as tf

    return tf.lite.TFLiteConverter.from_saved_model(exported).convert()


def tf_interpreter(content: bytes):
    import tensorflow as tf

    return tf.lite.Interpreter(model_content=content)


def litert_interpreter(content: bytes):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=content)


def invoke(interpreter, x: np.ndarray, note: list) -> np.ndarray:
    """Runs x through the model: the whole batch where the batch size is free; where the model
    fixes it (LiteRT export under torch fixes it at 1), in chunks of that size, as a user must."""
    (inp,) = interpreter.get_input_details()
    declared = [int(d) for d in inp["shape_signature"]]
    note.append(f"input shape {declared}")
    batch = declared[0]
    if batch == -1:
        interpreter.resize_tensor_input(inp["index"], x.shape)
        chunks = [x]
    else:
        chunks = [x[i:i + batch] for i in range(0, len(x), batch)]
    interpreter.allocate_tensors()
    out = []
    for chunk in chunks:
        interpreter.set_tensor(inp["index"], chunk)
        interpreter.invoke()
        out.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    return np.concatenate(out)


def main(exported: str, x_file: str, out: str, tflite: str | None = None) -> None:
    x = np.load(x_file)

    def step(name, compute):
        note = []
        try:
            np.save(os.path.join(out, f"{name}.npy"), compute(note))
        except Exception as exc:  # the runtime refusing the model: judged by the test
            kind = "ImportError" if isinstance(exc, ImportError) else type(exc).__name__
            with open(os.path.join(out, f"{name}.error"), "w") as error:
                error.write(" ".join(f"{kind}: {exc}".split())[:400])
        if note:
            with open(os.path.join(out, f"{name}.note"), "w") as fh:
                fh.write("; ".join(note))

    if exported != "-":
        step("serving", lambda note: serve(exported, x))
        content = {}

        def lite(note, make):
            if "model" not in content:
                content["model"] = converted(exported)
            return invoke(make(content["model"]), x, note)

        step("tflite", lambda note: lite(note, tf_interpreter))
        step("tflite_litert", lambda note: lite(note, litert_interpreter))
    if tflite:
        with open(tflite, "rb") as fh:
            model = fh.read()
        step("litert_tf", lambda note: invoke(tf_interpreter(model), x, note))
        step("litert_litert", lambda note: invoke(litert_interpreter(model), x, note))


if __name__ == "__main__":
    main(*sys.argv[1:5])
