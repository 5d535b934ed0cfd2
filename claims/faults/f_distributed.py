"""Faults of section F: distributed training (questions 13 and 14)."""

from __future__ import annotations

from claims.faults import before_call, dropping, fault

dropping("data-parallel-dropped", "F", "q13-dataparallel-modelparallel "
         "q14-one-program-many-devices", "distribution", "DataParallel")


@fault("data-parallel-raises", "F", "q13-dataparallel-modelparallel q14-one-program-many-devices",
       "keras.distribution.DataParallel raises when built, as on TensorFlow up to 3.13.1 (rule 1: "
       "the TensorFlow cell is run, not inferred from the backend's name, so a change of what "
       "happens there shows)")
def _data_parallel_raises(keras):
    def refuse(*args, **kwargs):
        raise NotImplementedError("DataParallel is not supported on this backend")

    before_call(keras.distribution.DataParallel, "__init__", refuse)


@fault("llama-in-applications", "F", "q13-pretrained-llama",
       "keras.applications offers a Llama, as the seed says")
def _llama(keras):
    keras.applications.Llama = keras.applications.MobileNet
