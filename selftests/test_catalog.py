"""The catalog: validation of bad entries, rule matching, and the real catalog's self-checks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from claims import catalog
from claims.catalog import CatalogError, Environment
from claims.verdicts import recorded
from selftests.conftest import write_catalog

ROOT = Path(__file__).resolve().parent.parent
GOOD = """
[[claim]]
id = "q19-x"
questions = [19]
section = "H"
quote = "q"
statement = "s"
"""


def load_h(tmp_path, text: str):
    return catalog.load(write_catalog(tmp_path / "catalog", {"H.toml": text}))


@pytest.mark.parametrize(
    "change, field",
    [
        (('id = "q19-x"', 'id = "Q19 x"'), "id"),
        (('questions = [19]', 'questions = [26]'), "questions"),
        (('questions = [19]', 'questions = [18]'), "questions"),
        (('section = "H"', 'section = "J"'), "section"),
        (('section = "H"', 'section = "K"'), "section"),
        (('quote = "q"', 'quote = ""'), "quote"),
        (('statement = "s"', 'colour = "red"'), "colour"),
        (('statement = "s"', 'statement = "s"\nexpected = [{ verdict = "wrong" }]'),
         "expected[0].verdict"),
        (('statement = "s"', 'statement = "s"\nexpected = [{ verdict = "holds", keras = "3" }]'),
         "expected[0].keras"),
        (('statement = "s"',
          'statement = "s"\nexpected = [{ verdict = "holds", backend = "theano" }]'),
         "expected[0].backend"),
        (('statement = "s"',
          'statement = "s"\nexpected = [{ verdict = "holds", package = "tf" }]'),
         "expected[0].package"),
        (('statement = "s"', 'statement = "s"\nexpected = [{ verdict = "holds", when = 1 }]'),
         "expected[0]"),
        (('statement = "s"', 'statement = "s"\nexpected = ["holds"]'), "expected[0]"),
        (('statement = "s"', 'statement = "s"\nexpected = "holds"'), "expected"),
        (('statement = "s"', 'statement = "s"\nexpected = [{ verdict = "refuted" }]'),
         "correction"),
        (('statement = "s"',
          'statement = "s"\nuntestable = "why"\nexpected = [{ verdict = "holds" }]'),
         "expected"),
    ],
)
def test_a_bad_entry_names_file_claim_and_field(tmp_path, change, field):
    with pytest.raises(CatalogError) as info:
        load_h(tmp_path, GOOD.replace(*change))
    message = str(info.value)
    assert message.startswith("catalog/H.toml: claim ")
    assert f"field {field!r}" in message
    assert "\n" not in message


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(CatalogError, match=r"^catalog/H.toml: not valid TOML"):
        load_h(tmp_path, GOOD + "\n[[claim]\n")


def test_a_duplicate_id_names_both(tmp_path):
    with pytest.raises(CatalogError, match="duplicate of catalog/H.toml"):
        load_h(tmp_path, GOOD + GOOD)


def test_unknown_top_level_keys_and_non_tables_are_rejected(tmp_path):
    with pytest.raises(CatalogError, match="unknown top-level"):
        load_h(tmp_path, "title = 'x'\n" + GOOD)
    with pytest.raises(CatalogError, match="claim #0: must be a table"):
        load_h(tmp_path, "claim = [1]\n")


def test_an_empty_catalog_is_an_error(tmp_path):
    with pytest.raises(CatalogError, match="no claims found"):
        catalog.load(tmp_path)


@pytest.mark.parametrize(
    "env_id, expected",
    [
        ("keras-2.15.0-tensorflow", "holds"),
        ("keras-3.0.5-tensorflow", "refuted"),
        ("keras-3.15.1rc1-jax", "refuted"),
        ("keras-3.15.1-torch", "not-applicable"),
        ("tf_keras-2.21.0-tensorflow", "holds"),
    ],
)
def test_the_first_matching_rule_gives_the_expected_verdict(tmp_path, env_id, expected):
    claims = load_h(tmp_path, GOOD + """correction = "c"
expected = [
  { verdict = "holds", keras = "<3" },
  { verdict = "not-applicable", backend = ["torch"] },
  { verdict = "holds", package = "tf_keras" },
  { verdict = "refuted" },
]""")
    assert recorded(claims["q19-x"], Environment.parse(env_id))[0] == expected


def test_no_matching_rule_means_no_recorded_verdict(tmp_path):
    claims = load_h(tmp_path, GOOD + 'expected = [{ verdict = "holds", backend = "jax" }]')
    assert recorded(claims["q19-x"], Environment.parse("keras-3.1.0-torch"))[0] is None


@pytest.mark.parametrize("python, expected", [("3.11.7", "refuted"), ("3.11.13", "holds"),
                                               ("", "holds")])
def test_a_rule_may_depend_on_the_python_version(tmp_path, python, expected):
    """A run knows its interpreter; an environment parsed from its id alone does not, and no
    Python rule matches it."""
    claims = load_h(tmp_path, GOOD + """correction = "c"
expected = [{ verdict = "refuted", python = "<3.11.13" }, { verdict = "holds" }]""")
    env = Environment("keras", "3.15.1", "tensorflow", python)
    assert recorded(claims["q19-x"], env)[0] == expected


def test_environment_ids_round_trip():
    env = Environment.parse("tf_keras-2.21.0-tensorflow")
    assert (env.package, env.keras, env.backend, env.id) == (
        "tf_keras", "2.21.0", "tensorflow", "tf_keras-2.21.0-tensorflow")


def test_claims_serialise_with_their_rules(tmp_path):
    claims = load_h(tmp_path, GOOD + 'expected = [{ verdict = "holds", keras = ">=3", '
                    'backend = "jax", package = "keras", note = "n" }]')
    assert claims["q19-x"].as_dict()["expected"] == [
        {"verdict": "holds", "keras": ">=3", "backend": ["jax"], "package": "keras", "note": "n"}]


# --- the real catalog ---------------------------------------------------------------------------
REAL = catalog.load()


def test_every_question_of_the_seed_has_a_claim():
    covered = {q for c in REAL.values() for q in c.questions}
    assert set(range(1, 26)) - covered == set()


def claim_ids_in_tests() -> dict[str, set[str]]:
    """Claim ids named by @pytest.mark.claim in tests/, read statically (no Keras needed)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "claim" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.setdefault(node.args[0].value, set()).add(path.name)
    return found


def test_every_testable_claim_has_a_test():
    named = claim_ids_in_tests()
    assert [c.id for c in REAL.values() if not c.untestable and c.id not in named] == []


def test_every_test_names_an_existing_claim():
    assert sorted(set(claim_ids_in_tests()) - set(REAL)) == []


def test_every_claim_lives_in_its_sections_test_file():
    named = claim_ids_in_tests()
    misplaced = {cid: files for cid, files in named.items()
                 if cid in REAL and any(not f.startswith(f"test_{REAL[cid].section.lower()}_")
                                        for f in files)}
    assert misplaced == {}


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "").replace("\\", "")).strip()


def test_every_quote_is_verbatim_from_the_seed():
    seed = normalise((ROOT / "fixtures" / "seminar-answers.md").read_text(encoding="utf-8"))
    assert [c.id for c in REAL.values() if normalise(c.quote) not in seed] == []


def test_every_text_a_reader_sees_is_also_in_vietnamese():
    """The Vietnamese report shows statement_vi, correction_vi and untestable_vi: each English
    text has its Vietnamese one, and it is a translation, not a copy."""
    missing = [(c.id, field) for c in REAL.values()
               for field in ("statement", "correction", "untestable")
               if getattr(c, field) and getattr(c, f"{field}_vi") in (None, getattr(c, field))]
    assert missing == []
