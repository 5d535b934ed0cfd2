"""Which Keras a run audits: derived from installed metadata, never from a typed table."""

from __future__ import annotations

import json
import types

import pytest

from claims import target


@pytest.fixture
def versions(monkeypatch):
    table = {"keras": "3.15.1", "tf-keras": "2.21.0"}

    def version(name):
        if name not in table:
            raise target.metadata.PackageNotFoundError(name)
        return table[name]

    monkeypatch.setattr(target.metadata, "version", version)
    for var in ("CLAIMS_ENV_ID", "KERAS_BACKEND", "TF_USE_LEGACY_KERAS"):
        monkeypatch.delenv(var, raising=False)
    return table


def test_keras3_backend_comes_from_keras_backend(versions, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert target.detect().id == "keras-3.15.1-jax"


def test_keras3_backend_falls_back_to_keras_json(versions, monkeypatch, tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert target.detect().id == "keras-3.15.1-torch"


def test_keras3_backend_defaults_to_tensorflow(versions, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert target.detect().id == "keras-3.15.1-tensorflow"


def test_keras2_is_always_tensorflow(versions, monkeypatch):
    versions["keras"] = "2.15.0"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert target.detect().id == "keras-2.15.0-tensorflow"


def test_legacy_keras_audits_tf_keras(versions, monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    assert target.detect().id == "tf_keras-2.21.0-tensorflow"


def test_env_id_override(monkeypatch):
    monkeypatch.setenv("CLAIMS_ENV_ID", "keras-3.0.5-jax")
    assert target.detect().id == "keras-3.0.5-jax"


def test_installed_packages_lists_only_what_is_installed(versions):
    assert target.installed_packages() == {"keras": "3.15.1", "tf-keras": "2.21.0"}


def fake_keras(backend):
    return types.SimpleNamespace(backend=types.SimpleNamespace(backend=lambda: backend))


def test_load_keras_imports_the_package_under_audit(versions, monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    imported = []
    monkeypatch.setattr(target.importlib, "import_module",
                        lambda name: imported.append(name) or fake_keras("tensorflow"))
    target.load_keras()
    assert imported == ["tf_keras"]
    assert target.detect().major == 2


def test_load_keras_refuses_a_backend_other_than_the_environments(versions, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setattr(target.importlib, "import_module", lambda name: fake_keras("torch"))
    with pytest.raises(RuntimeError, match="runs on 'torch' but the environment says 'jax'"):
        target.load_keras()
