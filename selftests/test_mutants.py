"""The deliberate faults: each one patches what it says, on a stand-in for Keras, and the score
counts the claims that noticed it."""

from __future__ import annotations

import json
import types

import pytest

from claims import catalog, mutants
from claims.cli import main
from selftests.conftest import make_run


class Layer:
    trainable = property(lambda self: self.__dict__.get("_t", True),
                         lambda self, v: self.__dict__.__setitem__("_t", v))

    def count_params(self):
        return 10


class Model(Layer):
    weights = [0]

    def get_weights(self):
        return [0.0]

    def set_weights(self, weights):
        self.set_to = weights


def fake_keras():
    class Conv2D:
        def __init__(self, filters, padding="valid", strides=(1, 1)):
            self.padding, self.strides = padding, strides

    class RandomCrop:
        height = width = 2

        def call(self, inputs, training=True):
            return "cropped at random"

    class DataParallel:
        pass

    class Flatten:
        def call(self, inputs):
            return inputs

    class RandomFlip:
        def call(self, data, training=True):
            return training

    class CenterCrop:
        def __init__(self, height, width):
            self.size = (height, width)

        def __call__(self, inputs):
            return f"centre {self.size}"

    def load_model(path):
        return Model()

    modules = dict(
        saving=types.SimpleNamespace(load_model=load_model),
        models=types.SimpleNamespace(),
        applications=types.SimpleNamespace(EfficientNetB4=object),
        distribution=types.SimpleNamespace(DataParallel=DataParallel),
        callbacks=types.SimpleNamespace(EarlyStopping=type("EarlyStopping", (), {})),
        layers=types.SimpleNamespace(Layer=Layer, Conv2D=Conv2D, Flatten=Flatten,
                                     RandomFlip=RandomFlip, RandomCrop=RandomCrop,
                                     CenterCrop=CenterCrop),
        ops=types.SimpleNamespace(flip=lambda x, axis: x[::-1]),
        Sequential=type("Sequential", (), {"layers": [lambda x: x + 1, lambda x: x * 10]}),
        Model=Model,
    )
    return types.SimpleNamespace(**modules)


def test_every_section_has_a_fault_and_there_are_at_least_twelve():
    assert len(mutants.FAULTS) >= 12
    assert {f.section for f in mutants.FAULTS.values()} == set("ABCDEFGHIK")


def test_each_fault_patches_what_it_says():
    k = fake_keras()
    for name in ("load-model-perturbs-weight", "application-export-dropped",
                 "early-stopping-never-stops",
                 "sequential-skips-last-layer", "data-parallel-dropped",
                 "frozen-model-still-trains", "same-padding-is-valid",
                 "augmentation-at-inference", "flatten-reorders", "count-params-off-by-one"):
        mutants.apply(name, k)
    assert k.models.load_model("x").set_to == [0.01]
    assert not hasattr(k.applications, "EfficientNetB4")
    assert not hasattr(k.distribution, "DataParallel")
    assert k.callbacks.EarlyStopping().on_epoch_end(3) is None
    assert k.Sequential().call(1) == 2
    model = k.Model()
    model.trainable = False
    assert model.trainable is True
    assert k.layers.Conv2D(1, padding="same").padding == "valid"
    assert k.layers.RandomFlip().call("x", training=False) is True
    assert k.layers.Flatten().call([1, 2, 3]) == [3, 2, 1]
    assert k.layers.Layer().count_params() == 11


def test_the_faults_of_one_case_patch_only_that_case():
    k = fake_keras()
    for name in ("data-parallel-raises", "same-padding-is-valid-at-stride-3",
                 "random-crop-crops-at-inference"):
        mutants.apply(name, k)
    with pytest.raises(NotImplementedError):
        k.distribution.DataParallel()
    assert k.layers.Conv2D(1, padding="same", strides=(3, 3)).padding == "valid"
    assert k.layers.Conv2D(1, padding="same", strides=(2, 2)).padding == "same"
    assert k.layers.RandomCrop().call("x", training=False) == "centre (2, 2)"
    assert k.layers.RandomCrop().call("x", training=True) == "cropped at random"


def test_an_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="is not a fault"):
        mutants.apply("nothing", fake_keras())


def test_caught_by_names_drift_errors_and_broken_corrections():
    run = make_run("keras-3.15.1-tensorflow", {"q1-a": "holds", "q2-b": "error",
                                                "q3-c": "refuted", "q4-d": "holds"},
                   drift={"q1-a"})
    run["claims"][2]["evidence"] += " [correction NOT verified: x]"
    assert mutants.caught_by(run) == ["q1-a", "q2-b (error)", "q3-c"]


def test_the_score_fails_while_a_fault_goes_uncaught(tmp_path, capsys):
    for name in mutants.FAULTS:
        folder = tmp_path / name
        folder.mkdir()
        caught = name != "flatten-reorders"
        run = make_run("keras-3.15.1-tensorflow", {"q25-x": "holds"},
                       drift={"q25-x"} if caught else set())
        (folder / "keras-3.15.1-tensorflow.json").write_text(json.dumps(run))
    assert main(["mutants", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "flatten-reorders" in out and "NOT CAUGHT" in out
    assert f"mutation score: {len(mutants.FAULTS) - 1}/{len(mutants.FAULTS)}" in out


def test_mutants_list_names_each_fault_and_the_claims_it_targets(capsys):
    assert main(["mutants", "--list"]) == 0
    assert "flatten-reorders q25-flatten-keeps-batch" in capsys.readouterr().out.splitlines()


def test_every_fault_targets_claims_of_the_catalog():
    known = set(catalog.load())
    for f in mutants.FAULTS.values():
        assert f.claims and set(f.claims) <= known, f.name


def test_speed_lines_give_each_faults_ratio_to_the_clean_audit_and_flag_the_slow(tmp_path,
                                                                                 capsys):
    measured = {"cores": 2, "import_keras_s": 3.8,
                "audit_s": {"clean": 60.0, "flatten-reorders": 84.0, "lambda-never-runs": 96.0}}
    lines, within = mutants.speed_lines(measured)
    assert not within
    assert lines[0].startswith("default audit on 2 cores, import keras 3.8 s")
    assert lines[2].split()[-1] == "1.40x" and "OVER" not in lines[2]
    assert lines[3].endswith("1.60x  OVER BUDGET")
    path = tmp_path / "faultspeed.json"
    path.write_text(json.dumps(measured))
    assert main(["mutants", "--speed", str(path)]) == 1
    assert "OVER BUDGET" in capsys.readouterr().out


def test_the_score_writes_the_proof_the_report_reads(tmp_path):
    folder = tmp_path / "mutants"
    for name in mutants.FAULTS:
        (folder / name).mkdir(parents=True)
        run = make_run("keras-3.15.1-tensorflow", {"q25-x": "holds", "q19-y": "refuted"},
                       drift={"q25-x"} if name == "flatten-reorders" else set())
        (folder / name / "keras-3.15.1-tensorflow.json").write_text(json.dumps(run))
    main(["mutants", str(folder)])
    proof = json.loads((tmp_path / "proof.json").read_text())
    caught = {f["name"]: f["caught"] for f in proof["faults"]}
    assert caught["flatten-reorders"] == ["q25-x"]
    assert set(caught) == set(mutants.FAULTS)
