"""Bisection: gaps between neighbouring environments, the binary search, the registry listing,
and writing the boundary into the catalog."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from claims import bisect, catalog
from selftests.conftest import MINI_CATALOG, make_run, write_catalog

RUNS = [
    make_run("keras-2.15.0-tensorflow", {"q19-a": "holds", "q25-b": "holds"}),
    make_run("keras-3.0.5-tensorflow", {"q19-a": "refuted", "q25-b": "holds"}),
    make_run("keras-3.15.1-tensorflow", {"q19-a": "refuted", "q25-b": "error"}),
    make_run("keras-3.15.1-jax", {"q19-a": "holds", "q25-b": "holds"}),
    make_run("tf_keras-2.21.0-tensorflow", {"q19-a": "holds", "q25-b": "refuted"}),
]


def test_gaps_are_neighbours_of_one_backend_with_different_verdicts():
    [gap] = bisect.gaps(RUNS, "q19-a")
    assert (gap.lower.id, gap.upper.id) == ("keras-2.15.0-tensorflow", "keras-3.0.5-tensorflow")
    assert (gap.lower_verdict, gap.upper_verdict) == ("holds", "refuted")


def test_errors_and_tf_keras_make_no_gap():
    assert bisect.gaps(RUNS, "q25-b") == []
    assert bisect.changing_claims(RUNS) == ["q19-a"]


CANDIDATES = [Version(v) for v in ("3.0.0", "3.0.1", "3.0.2", "3.0.3", "3.0.4")]


@pytest.mark.parametrize("changed_at", ["3.0.0", "3.0.2", "3.0.4", "3.0.5"])
def test_binary_search_finds_the_first_release_with_the_new_verdict(changed_at):
    [gap] = bisect.gaps(RUNS, "q19-a")
    audited = []

    def verdict_of(v):
        audited.append(v)
        return "refuted" if v >= Version(changed_at) else "holds"

    change, notes = bisect.first_change(CANDIDATES, gap, verdict_of)
    assert change.first == Version(changed_at) and notes == [] and change.untested == ()
    # the last release seen with the old verdict is the one just before, where it was audited
    assert change.last_lower < change.first
    assert len(audited) <= 3  # log2 of five releases, rounded up


def test_a_release_that_does_not_install_is_skipped_and_named():
    [gap] = bisect.gaps(RUNS, "q19-a")
    change, notes = bisect.first_change(
        CANDIDATES, gap, lambda v: None if v == Version("3.0.2") else
        ("refuted" if v >= Version("3.0.1") else "holds"))
    assert change == bisect.Change(Version("3.0.1"), Version("3.0.0"))
    assert notes == ["skipped 3.0.2 (does not install here)"]


def test_releases_that_do_not_install_between_the_two_verdicts_are_named_in_the_boundary():
    [gap] = bisect.gaps(RUNS, "q19-a")
    change, _ = bisect.first_change(CANDIDATES, gap, lambda v: None)
    assert change == bisect.Change(Version("3.0.5"), Version("2.15.0"), tuple(CANDIDATES))
    assert bisect.boundary_text(gap, change) == (
        "refuted from Keras 3.0.5 (tensorflow; holds in 2.15.0; 3.0.0, 3.0.1, 3.0.2, 3.0.3, "
        "3.0.4 not installable here)")


def test_releases_come_from_the_simple_api_without_prereleases_or_yanked():
    files = [{"filename": "keras-3.0.0-py3-none-any.whl"}, {"filename": "keras-3.0.0.tar.gz"},
             {"filename": "keras-3.1.0rc0-py3-none-any.whl"},
             {"filename": "keras-3.0.1-py3-none-any.whl", "yanked": "broken"},
             {"filename": "keras-2.15.0-py3-none-any.whl"}, {"filename": "keras-x.tar.gz"}]
    found = bisect.releases(fetch=lambda url: json.dumps({"files": files}).encode())
    assert found == [Version("2.15.0"), Version("3.0.0")]


def test_between_lists_releases_strictly_inside_the_gap():
    [gap] = bisect.gaps(RUNS, "q19-a")
    available = [Version(v) for v in ("2.15.0", "3.0.0", "3.0.4", "3.0.5", "3.1.0")]
    assert bisect.between(gap, available) == [Version("3.0.0"), Version("3.0.4")]


def test_the_boundary_is_written_into_the_claims_entry(tmp_path):
    folder = write_catalog(tmp_path / "catalog", MINI_CATALOG)
    [gap] = bisect.gaps(RUNS, "q19-a")
    text = bisect.boundary_text(gap, bisect.Change(Version("3.0.0"), Version("2.15.0")))
    assert text == "refuted from Keras 3.0.0 (tensorflow; holds in 2.15.0)"
    bisect.record("q19-refuted", text, folder)
    bisect.record("q19-refuted", text, folder)  # a second run replaces, never duplicates
    claims = catalog.load(folder)
    assert claims["q19-refuted"].boundary == text
    assert claims["q19-holds"].boundary is None
    assert (folder / "H.toml").read_text().count("boundary =") == 1
    with pytest.raises(KeyError):
        bisect.record("q19-nothing", text, folder)
