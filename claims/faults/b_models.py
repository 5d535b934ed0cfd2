"""Faults of section B: the model families and the pretrained-model table (questions 3 and 4)."""

from __future__ import annotations

from claims.faults import fault, module, wrap


@fault("application-export-dropped", "B", "q4-table-models-exist",
       "keras.applications no longer exports EfficientNetB4")
def _applications(keras):
    delattr(keras.applications, "EfficientNetB4")


@fault("optimizer-steps-by-zero", "B",
       "q3-cnn-learns q3-transformer-learns q17-keras-few-lines q5-tf-distribute-strategy "
       "q20-recurrent-layers-learn q21-normalisation-helps",
       "the optimizer counts its steps but applies none (its learning rate read as 0)")
def _optimizer(keras):
    def make(original):
        def apply(self, grads, trainable_variables=None):
            return original(self, [g * 0 for g in grads], trainable_variables)
        return apply

    wrap(module("optimizers.base_optimizer").BaseOptimizer, "apply", make)


@fault("rnn-reads-first-step", "B",
       "q3-rnn-learns q20-recurrent-layers-learn q20-recurrent-layers-exist",
       "a recurrent layer reads only the first step of its sequence")
def _rnn(keras):
    def make(original):
        def call(self, sequences, *args, **kwargs):
            return original(self, sequences[:, :1], *args, **kwargs)
        return call

    wrap(keras.layers.RNN, "call", make)


@fault("mobilenet-alpha-0.75", "B", "q4-table-parameters",
       "MobileNet's alpha defaults to 0.75 instead of 1.0")
def _alpha(keras):
    def make(original):
        def constructor(*args, alpha=0.75, **kwargs):
            return original(*args, alpha=alpha, **kwargs)
        return constructor

    keras.applications.MobileNet = make(keras.applications.MobileNet)


@fault("batch-norm-hides-weights", "B", "q4-table-depth",
       "BatchNormalization lists no weights (its variables left untracked)")
def _batch_norm(keras):
    keras.layers.BatchNormalization.weights = property(lambda self: [])
