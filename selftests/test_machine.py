"""The machine facts a verdict may depend on (claims.machine), read without Keras."""

from __future__ import annotations

import json

from claims import machine


def test_every_fact_is_a_string_and_the_known_ones_are_all_there(monkeypatch):
    monkeypatch.delenv("CLAIMS_MACHINE", raising=False)
    facts = machine.facts()
    assert set(facts) == set(machine.FACTS)
    assert all(isinstance(v, str) and v for v in facts.values())


def test_a_fake_machine_replaces_the_facts(monkeypatch):
    monkeypatch.setenv("CLAIMS_MACHINE", json.dumps({"onednn": "off"}))
    assert machine.facts() == {"onednn": "off"}


def test_a_cpu_flag_matches_one_of_the_recorded_flags_and_a_missing_fact_nothing():
    known = {"cpu_flags": "avx avx2 avx512f", "onednn": "on"}
    assert machine.matches("cpu_flag", "avx512f", known)
    assert not machine.matches("cpu_flag", "avx512", known)
    assert machine.matches("onednn", "on", known)
    assert not machine.matches("threads", "1", known)


def test_the_cpu_is_read_from_its_first_processor(monkeypatch):
    monkeypatch.setattr(machine, "_cpuinfo", lambda: {
        "vendor_id": "AuthenticAMD", "model name": "AMD EPYC 7B13",
        "flags": "fpu sse4_2 avx avx2 fma sha_ni"})
    assert machine.cpu() == {"cpu_vendor": "AuthenticAMD", "cpu_model": "AMD EPYC 7B13",
                             "cpu_flags": "sse4_2 avx avx2 fma"}
