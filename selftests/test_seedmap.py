"""The seed sentence by sentence (claims/seedmap.py): how it is cut, how each sentence gets its
status, and the real seed's map kept true to the seed and the catalog."""

from __future__ import annotations

import json
import textwrap

import pytest

from claims import catalog, seedmap
from claims.catalog import Claim
from claims.cli import main

SEED = textwrap.dedent("""\
    # TITLE

    Nhóm: X

    ## DANH SÁCH

    1. First question?
    2. Second question

    ## A. Answers

    ### 1. First question?

    Keras saves models. It **also** loads them. Read [more](#).

    ```
    model.save('m.keras')
    ```

    Model\tSize (MB)
    Xception\t88

    #### 1. A sub-heading of the answer

    **I. A bold heading**

    8. Asked one
    9. Asked two

    Joint answer.

    ### Câu 18:

    - A list item. Second sentence.
    """)


def claim(cid: str, quote: str) -> Claim:
    return Claim(id=cid, questions=(int(cid[1:].split("-")[0]),), section="A", quote=quote,
                 statement="S.", source="A.toml")


def units() -> list[seedmap.Sentence]:
    return seedmap.sentences(SEED)


def test_the_seed_is_cut_into_headings_questions_prose_code_and_table_rows():
    assert [(u.question, u.form, u.text) for u in units()] == [
        (None, "heading", "TITLE"), (None, "prose", "Nhóm: X"),
        (None, "heading", "DANH SÁCH"),
        (1, "question", "1. First question?"), (2, "question", "2. Second question"),
        (None, "heading", "A. Answers"),
        (1, "heading", "1. First question?"),
        (1, "prose", "Keras saves models."), (1, "prose", "It also loads them."),
        (1, "prose", "Read [more](#)."),
        (1, "code", "model.save('m.keras')"),
        (1, "table", "Model | Size (MB)"), (1, "table", "Xception | 88"),
        (1, "heading", "1. A sub-heading of the answer"),
        (1, "heading", "I. A bold heading"),
        (8, "question", "8. Asked one"), (9, "question", "9. Asked two"),
        (8, "prose", "Joint answer."),
        (18, "heading", "Câu 18:"),
        (18, "prose", "A list item."), (18, "prose", "Second sentence."),
    ]


def test_a_quote_ties_every_sentence_it_overlaps_even_across_two():
    cov = seedmap.coverage(units(), {"q1-a": claim("q1-a", "models. It also")}, [])
    tied = [e.sentence for e in cov.entries if e.status == "claim"]
    assert tied == ["Keras saves models.", "It also loads them."]
    assert cov.untied == []


def test_forms_are_context_the_map_classifies_the_rest_and_the_others_are_uncovered():
    entries = [seedmap.MapEntry("context", "a link", (), text="Read [more](#).",
                                reason_vi="một liên kết"),
               seedmap.MapEntry("claim", "", ("q1-a",), pattern=seedmap.re.compile(r"\| 88$"))]
    cov = seedmap.coverage(units(), {"q1-a": claim("q1-a", "Keras saves")}, entries)
    status = {e.sentence: (e.status, e.claims, e.reason) for e in cov.entries}
    assert status["Read [more](#)."] == ("context", [], "a link")
    assert status["Xception | 88"] == ("claim", ["q1-a"], "")
    assert status["model.save('m.keras')"] == ("context", [], "a code example")
    assert status["Joint answer."] == ("uncovered", [], "")
    assert cov.counts()["uncovered"] == 6
    assert cov.summary().startswith("21 sentences: 2 claim, 0 opinion, 13 context, 6 uncovered")


def test_an_opinion_on_a_quoted_sentence_is_a_conflict_and_an_unused_entry_is_stale():
    entries = [seedmap.MapEntry("opinion", "a judgement", (), text="Keras saves models."),
               seedmap.MapEntry("context", "gone", (), text="Not in the seed.")]
    cov = seedmap.coverage(units(), {"q1-a": claim("q1-a", "Keras saves")}, entries)
    assert cov.conflicts == ["Q1: opinion but quoted by q1-a: Keras saves models."]
    assert cov.stale == ["Not in the seed."]


def test_a_claim_whose_quote_is_nowhere_is_untied():
    assert seedmap.coverage(units(), {"q1-z": claim("q1-z", "absent")}, []).untied == ["q1-z"]


@pytest.mark.parametrize("body, message", [
    ('text = "x"\nstatus = "maybe"\nreason = "r"', "status must be"),
    ('status = "context"\nreason = "r"', "exactly one of text and pattern"),
    ('text = "x"\nstatus = "claim"', "names its claims"),
    ('text = "x"\nstatus = "opinion"', "gives its reason"),
    ('text = "x"\nstatus = "context"\nreason = "r"', "in Vietnamese too"),
])
def test_a_malformed_map_entry_is_one_line_naming_it(tmp_path, body, message):
    path = tmp_path / "seedmap.toml"
    path.write_text(f"[[sentence]]\n{body}\n", encoding="utf-8")
    with pytest.raises(seedmap.SeedMapError, match=message) as info:
        seedmap.load_map(path)
    assert str(info.value).startswith("seedmap.toml: sentence[0]")


# --- the real seed ------------------------------------------------------------------------------
REAL = seedmap.seed_coverage()


def test_every_sentence_of_the_seed_is_accounted_for():
    assert [e.sentence for e in REAL.entries if e.status == "uncovered"] == []


def test_every_claim_of_the_catalog_is_tied_to_a_sentence_of_the_seed():
    assert REAL.untied == []


def test_no_opinion_or_context_sentence_holds_a_claims_quote():
    assert REAL.conflicts == []


def test_every_entry_of_the_map_speaks_of_a_sentence_of_the_seed():
    assert REAL.stale == []


def test_the_map_names_only_claims_of_the_catalog():
    known = set(catalog.load())
    assert sorted({c for e in REAL.entries for c in e.claims} - known) == []


def test_coverage_prints_each_sentence_and_a_summary_and_json_the_same(capsys):
    assert main(["coverage"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(REAL.entries) + 1 and out[-1] == REAL.summary()
    assert main(["coverage", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [e.as_dict() for e in REAL.entries]
    assert set(listed[0]) == {"question", "sentence", "status", "claims", "reason"}
