"""Faults of section D: debugging: summary, plots, callbacks (questions 9 and 10)."""

from __future__ import annotations

import types

from claims.faults import before_call, fault, with_arguments


@fault("model-to-dot-hides-shapes", "D", "q9-plot-model-params-and-shapes",
       "model_to_dot ignores show_shapes (rule 2: what plot_model draws, not its signature; "
       "rule 7: the correction's per-version rule drifts)")
def _model_to_dot(keras):
    with_arguments(keras.utils, "model_to_dot", force=True, show_shapes=False)


@fault("stop-training-ignored", "D", "q9-callback-acts-on-a-condition",
       "fit ignores model.stop_training set by a callback (rule 5: the callback's substance is "
       "its own claim)")
def _stop_training(keras):
    keras.Model.stop_training = property(lambda self: False, lambda self, value: None)


@fault("early-stopping-never-stops", "D", "q9-early-stopping-at-loss-level",
       "EarlyStopping never stops training")
def _early_stopping(keras):
    keras.callbacks.EarlyStopping.on_epoch_end = lambda self, epoch, logs=None: None


@fault("plot-summary-added", "D", "q9-plot-summary-function",
       "keras.utils.plot.summary(model) exists, as the seed says")
def _plot_summary(keras):
    keras.utils.plot = types.SimpleNamespace(summary=lambda model, **kwargs: model.summary())


@fault("fit-takes-run-eagerly", "D", "q9-run-eagerly-in-fit",
       "fit accepts run_eagerly=True, as the seed says")
def _run_eagerly(keras):
    def set_run_eagerly(self, *args, run_eagerly=None, **kwargs):
        if run_eagerly is not None:
            self.run_eagerly = run_eagerly
        return (self, *args), kwargs

    before_call(keras.Model, "fit", set_run_eagerly)


@fault("plain-function-callbacks", "D", "q9-callback-is-a-function",
       "fit takes a plain function as a callback, calling it at each epoch's end")
def _function_callbacks(keras):
    def as_callbacks(*args, callbacks=None, **kwargs):
        return args, {**kwargs, "callbacks": [
            c if isinstance(c, keras.callbacks.Callback)
            else keras.callbacks.LambdaCallback(on_epoch_end=c) for c in callbacks or []]}

    before_call(keras.Model, "fit", as_callbacks)


@fault("early-stopping-wants-big-steps", "D", "q9-early-stopping-at-loss-level",
       "EarlyStopping's min_delta defaults to 0.1: a loss falling by less counts as no "
       "improvement, so it stops once the loss falls slowly, as the seed describes")
def _min_delta(keras):
    with_arguments(keras.callbacks.EarlyStopping, "__init__", min_delta=0.1)


@fault("fit-names-both-shapes", "D", "q9-clear-error-messages",
       "fit checks a batch against the model's input shape and names both in its error, as the "
       "seed says")
def _both_shapes(keras):
    def check(self, x=None, *args, **kwargs):
        expected = tuple(self.inputs[0].shape)
        if getattr(x, "shape", None) is not None and tuple(x.shape[1:]) != expected[1:]:
            raise ValueError(f"expected shape {expected}, received shape {tuple(x.shape)}")
        return (self, x, *args), kwargs

    before_call(keras.Model, "fit", check)
