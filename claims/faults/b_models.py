"""Faults of section B: the model families and the pretrained-model table (questions 3 and 4)."""

from __future__ import annotations

from claims.faults import before_call, dropping, fault, module, with_arguments, wrap

dropping("application-export-dropped", "B", "q4-table-models-exist", "applications",
         "EfficientNetB4")


@fault("optimizer-steps-by-zero", "B",
       "q3-cnn-learns q3-transformer-learns q17-keras-few-lines q5-tf-distribute-strategy "
       "q20-recurrent-layers-learn q21-normalisation-helps",
       "the optimizer counts its steps but applies none (its learning rate read as 0)")
def _optimizer(keras):
    before_call(module("optimizers.base_optimizer").BaseOptimizer, "apply",
                lambda self, grads, trainable_variables=None: (
                    (self, [g * 0 for g in grads], trainable_variables), {}))


@fault("rnn-reads-first-step", "B",
       "q3-rnn-learns q20-recurrent-layers-learn q20-recurrent-layers-exist",
       "a recurrent layer reads only the first step of its sequence")
def _rnn(keras):
    before_call(keras.layers.RNN, "call", lambda self, sequences, *args, **kwargs: (
        (self, sequences[:, :1], *args), kwargs))


@fault("mobilenet-alpha-0.75", "B", "q4-table-parameters",
       "MobileNet's alpha defaults to 0.75 instead of 1.0")
def _alpha(keras):
    with_arguments(keras.applications, "MobileNet", alpha=0.75)


@fault("batch-norm-hides-weights", "B", "q4-table-depth",
       "BatchNormalization lists no weights (its variables left untracked)")
def _batch_norm(keras):
    keras.layers.BatchNormalization.weights = property(lambda self: [])


@fault("attention-returns-query", "B", "q3-transformer-learns",
       "MultiHeadAttention returns its query unchanged (it attends to nothing)")
def _attention(keras):
    wrap(keras.layers.MultiHeadAttention, "call",  # wrapped: Keras reads call's signature
         lambda original: lambda self, query, value, *args, **kwargs: query)
