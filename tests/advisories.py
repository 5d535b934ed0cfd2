"""The security table's cells (test_a_security, test_a_archives): each published advisory
reproduced in each environment is one row, judged here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

SECURITY_TABLE = "Security: advisory (row) x environment (column)"


def judge_advisory(measure, advisory: str, exploited: bool, evidence: str,
                   control: Callable[[], tuple[bool, str]]) -> None:
    """One cell of the security table; an exploited advisory refutes the claim. A refusal is
    shown safe only next to its positive control: `control()` runs the same payload in this
    environment with the defence switched off and returns (fired, what it did). A control that
    does not fire means the payload, not the defence, may have failed: the cell is an error."""
    if not exploited:
        fired, what = control()
        evidence = f"{evidence}; control: {what}"
        if not fired:
            measure(table=SECURITY_TABLE, row=advisory, cell="error", verdict="error",
                    detail=evidence)
            raise RuntimeError(f"{advisory}: the payload does not fire even with the defence "
                               f"off, so its refusal shows nothing: {evidence}")
    cell, verdict = ("vulnerable", "refuted") if exploited else ("safe", "holds")
    measure(table=SECURITY_TABLE, row=advisory, cell=cell, verdict=verdict, detail=evidence)
    assert not exploited, f"{advisory}: {evidence}"


def fires(marker: Path, load: Callable[[], str | None], what: str) -> tuple[bool, str]:
    """A positive control: `load()` (the unsafe load, returning its refusal or None) and whether
    it made the payload's marker."""
    marker.unlink(missing_ok=True)
    refusal = load()
    if marker.exists():
        return True, f"{what} fired"
    return False, f"{what} did not fire ({refusal or 'loaded'})"


def advisory_needs(measure, advisory: str, present: bool, why: str) -> None:
    """Skip (not applicable) where this version lacks the mechanism the advisory abuses."""
    if not present:
        measure(table=SECURITY_TABLE, row=advisory, cell="n/a", verdict="not-applicable",
                detail=why)
        pytest.skip(why)
