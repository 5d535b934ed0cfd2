"""Trains test_f's tiny KerasHub Llama (tests.checks.tiny_llama) under
keras.distribution.DataParallel over every device (JAX, its host CPU split by XLA_FLAGS), and
prints as JSON the losses of its five epochs and how many devices hold the token embedding."""

import json

import numpy as np

from claims.target import load_keras


def main() -> None:
    keras = load_keras()
    import keras_hub

    from tests.checks import tiny_llama

    keras.distribution.set_distribution(keras.distribution.DataParallel())
    model = tiny_llama(keras, keras_hub)
    tokens = np.random.default_rng(0).integers(0, 64, (8, 9))
    inputs = {"token_ids": tokens[:, :-1], "padding_mask": np.ones_like(tokens[:, :-1])}
    losses = model.fit(inputs, tokens[:, 1:], batch_size=8, epochs=5,
                       verbose=0).history["loss"]
    embedding = model.backbone.token_embedding.embeddings.value
    print(json.dumps({"losses": losses, "devices": len(embedding.sharding.device_set)}))


if __name__ == "__main__":
    main()
