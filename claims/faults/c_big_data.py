"""Faults of section C: big data, generators and replication (questions 5 and 6)."""

from __future__ import annotations

from claims.faults import fault, module, wrap


@fault("pydataset-drops-last-batch", "C", "q5-generators-feed-batches",
       "fit takes one batch fewer than a PyDataset's len() each epoch")
def _pydataset(keras):
    adapters = module("trainers.data_adapters.py_dataset_adapter")
    counted = adapters.PyDatasetAdapter.num_batches.fget

    def num_batches(self):
        n = counted(self)
        return n - 1 if n and n > 1 else n

    adapters.PyDatasetAdapter.num_batches = property(num_batches)


@fault("fit-generator-restored", "C", "q5-fit-generator",
       "Model.fit_generator is back and trains, as in Keras 2")
def _fit_generator(keras):
    keras.Model.fit_generator = lambda self, generator, *args, **kwargs: self.fit(
        generator, *args, **kwargs)


@fault("multi-gpu-model-restored", "C", "q5-multi-gpu-model",
       "keras.utils.multi_gpu_model is back, as in Keras 2.3")
def _multi_gpu(keras):
    keras.utils.multi_gpu_model = lambda model, gpus=None, **kwargs: model


@fault("fit-keeps-every-batch", "C", "q6-generators-bound-memory",
       "fit keeps a reference to every batch a generator yields")
def _keeps_batches(keras):
    adapter = module("trainers.data_adapters.generator_data_adapter").GeneratorDataAdapter
    kept = []

    def make(original):
        def __init__(self, generator):
            original(self, generator)
            source = self.generator

            def keeping():
                for batch in source():
                    kept.append(batch)
                    yield batch

            self.generator = keeping
        return __init__

    wrap(adapter, "__init__", make)
