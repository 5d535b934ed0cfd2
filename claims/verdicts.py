"""The verdict rules: from the outcomes of a claim's tests to the claim's verdict.

Rules: a test whose own assertion fails refutes its claim; a skip makes it not-applicable; any
other exception (an import error, a missing system package, a broken fixture) is an error, never
a refutation. Where the observed verdict differs from the one the catalog records for the
environment the claim is marked drift.

Pure functions of plain data: no pytest here (the plugin, claims.plugin, feeds them), so the
rules are tested by calling them (selftests/test_verdicts.py).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from claims.reportio import one_line
from claims.vocabulary import SEVERITY

if TYPE_CHECKING:  # pragma: no cover
    from claims.catalog import Claim, Environment

# How Hypothesis introduces the minimal counterexample, across its versions.
EXAMPLE_NOTES = ("Falsifying example", "Failing test case", "Falsifying explicit example")


class MissingTool(RuntimeError):
    """A system program a claim's check needs is not installed here. The claim is not checked
    (an error, never a refutation), and the message gives the command that installs it; outside
    strict mode such errors alone do not fail the run."""

    def __init__(self, tool: str, install: str):
        super().__init__(f"needs {tool}, which is not installed here: {install}")


@dataclass
class TestRecord:
    """One test of a claim, over its setup, call and teardown phases."""

    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    claim_id: str
    correction: bool
    outcome: str | None = None  # passed | failed | skipped | error; None: never ran
    message: str = ""
    duration_s: float = 0.0
    evidence: list[str] = field(default_factory=list)
    measurements: list[dict] = field(default_factory=list)
    missing_tool: bool = False  # its error is a MissingTool
    # the switch setting it ran under, as recorded ({"TF_ENABLE_ONEDNN_OPTS": "0",
    # "onednn": "off"}); {} where the test takes no switch
    setting: dict[str, str] = field(default_factory=dict)

    def add_phase(self, outcome: str | None, message: str, duration_s: float,
                  evidence: list[str], measurements: list[dict],
                  missing_tool: bool = False, setting: dict[str, str] | None = None) -> None:
        """Fold one phase in: its time adds up, the first failure, error or skip stands."""
        self.duration_s += duration_s
        self.evidence = evidence
        self.measurements = measurements
        self.setting = setting or self.setting
        if self.outcome in ("failed", "error", "skipped") or outcome is None:
            return
        self.outcome, self.message, self.missing_tool = outcome, message, missing_tool

    def as_dict(self) -> dict:
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "role": "correction" if self.correction else "claim",
        }


def is_refutation(exc: BaseException) -> bool:
    """Only the claim's own assertion refutes it."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_refutation(e) for e in exc.exceptions)
    return isinstance(exc, AssertionError)


def describe(exc: BaseException) -> str:
    """Exception type and message, plus Hypothesis' falsifying example where there is one."""
    first = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {first[0] if first else ''}".rstrip(": ")
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith(EXAMPLE_NOTES)]
    if notes:
        # Fixture arguments (the keras module) say nothing about the counterexample.
        text += " | " + re.sub(r"\s*\w+=<module [^>]*>,?", "", " ".join(notes))
    return one_line(text)


def judge(when: str, exc: BaseException | None, skip_reason: str | None = None
          ) -> tuple[str | None, str]:
    """One phase's outcome and message. `when` is setup, call or teardown; `exc` what the phase
    raised (None: nothing); `skip_reason` is given where that exception was a skip."""
    if exc is None:
        return ("passed" if when == "call" else None), ""
    if skip_reason is not None:
        return "skipped", one_line(skip_reason)
    if when == "call" and is_refutation(exc):
        return "failed", describe(exc)
    return "error", f"{when}: {describe(exc)}"


def aggregate(records: list[TestRecord]) -> tuple[str, str]:
    """A claim's verdict and its one line of evidence, from its claim-role tests."""
    own = [r for r in records if not r.correction]
    for outcome, verdict in (("error", "error"), ("failed", "refuted")):
        hits = [r for r in own if r.outcome == outcome]
        if hits:
            return verdict, hits[0].message
    if own and all(r.outcome == "skipped" for r in own):
        return "not-applicable", own[0].message
    measured = [e for r in own for e in r.evidence]
    passed = sum(r.outcome == "passed" for r in own)
    return "holds", "; ".join(measured) or f"{passed} test(s) passed"


def correction_note(records: list[TestRecord]) -> str:
    """Whether the tests of the claim's correction confirmed it; "" where it has none."""
    checks = [r for r in records if r.correction]
    if not checks:
        return ""
    bad = [r for r in checks if r.outcome in ("failed", "error")]
    if bad:
        return f"correction NOT verified: {bad[0].message}"
    if all(r.outcome == "skipped" for r in checks):
        return "correction not checked here"
    return "correction verified"


def correction_failure(records: list[TestRecord]) -> str | None:
    """The message of a failed correction test: the recorded correction no longer holds."""
    failed = [r for r in records if r.correction and r.outcome == "failed"]
    return failed[0].message if failed else None


def is_drift(verdict: str, expected: str | None) -> bool:
    """The observed verdict contradicts the recorded one (an error contradicts nothing)."""
    return expected is not None and verdict not in (expected, "error")


def setting_label(setting: dict[str, str]) -> str:
    """`TF_ENABLE_ONEDNN_OPTS=0, onednn=off`: a setting as the report names it."""
    return ", ".join(f"{k}={v}" for k, v in setting.items())


def under(env: Environment, setting: dict[str, str]) -> Environment:
    """The environment as a test under `setting` saw it: the setting's facts replace the
    run's."""
    return dataclasses.replace(env, machine={**env.machine, **setting})


def recorded(claim: Claim, env: Environment | None) -> tuple[str | None, str]:
    """The verdict the catalog records for `env` (None: none, or no environment known) and the
    machine facts that decided it ("" where the rule names none)."""
    if claim.untestable:
        return "untestable", ""
    rule = claim.rule_for(env) if env is not None else None
    return (rule.verdict, rule.deciding_facts()) if rule else (None, "")


def by_setting(records: list[TestRecord]) -> list[dict]:
    """Per switch setting the claim's tests ran under, its verdict and evidence from those
    tests alone (a test that takes no switch counts in every setting); [] where none took one."""
    settings = {setting_label(r.setting): r.setting for r in records if r.setting}
    out = []
    for label, setting in settings.items():
        mine = [r for r in records if not r.setting or setting_label(r.setting) == label]
        verdict, evidence = aggregate(mine)
        out.append({"setting": setting, "verdict": verdict, "evidence": evidence})
    return out


def settle(entry: dict, claim: Claim, env: Environment | None) -> dict:
    """Set what the catalog records against what an entry observed: the recorded verdict
    (per setting, where there are settings: the most severe of theirs stands for the claim),
    the facts that decided it, and drift. The plugin calls it on a new entry, the sweep on a
    kept one."""
    decided = []
    for s in entry.get("settings", []):
        s["expected"], facts = recorded(claim, under(env, s["setting"]) if env else None)
        s["drift"] = is_drift(s["verdict"], s["expected"])
        decided += [facts] if facts and facts not in decided else []
    if entry.get("settings"):
        found = [s["expected"] for s in entry["settings"] if s["expected"]]
        expected = min(found, key=SEVERITY.index) if found else None
    else:
        expected, facts = recorded(claim, env)
        decided += [facts] if facts else []
    entry["expected"] = expected
    entry["drift"] = (is_drift(entry["verdict"], expected) or "correction_drift" in entry
                      or any(s["drift"] for s in entry.get("settings", [])))
    if decided:
        entry["decided_by"] = "; ".join(decided)
    else:
        entry.pop("decided_by", None)
    return entry


def claim_entry(claim: Claim, records: list[TestRecord], env: Environment | None
                ) -> dict | None:
    """The claim's entry in the run file, judged against the catalog for `env`; None where
    none of its own tests ran."""
    if claim.untestable:
        verdict, evidence = "untestable", claim.untestable
    elif not [r for r in records if not r.correction]:
        return None  # not selected in this run
    else:
        verdict, evidence = aggregate(records)
    note = correction_note(records) if verdict == "refuted" else ""
    # a correction is a recorded finding too: when it stops holding, that is drift
    broken = correction_failure(records) if verdict == "refuted" else None
    entry = {
        "id": claim.id,
        "questions": list(claim.questions),
        "section": claim.section,
        "statement": claim.statement,
        "quote": claim.quote,
        "verdict": verdict,
        "expected": None,
        "drift": False,
        "evidence": evidence + (f" [{note}]" if note else ""),
        "correction": claim.correction,
        "tests": [r.as_dict() for r in records],
    }
    if broken is not None:
        entry["correction_drift"] = broken
    settings = by_setting([r for r in records if not r.correction])
    if settings:  # the evidence names each setting's verdict: the claim's rests on them
        entry["settings"] = settings
        entry["evidence"] = "; ".join(
            f"[{setting_label(s['setting'])}] {s['verdict']}: {s['evidence']}" for s in settings
        ) + (f" [{note}]" if note else "")
    # a correction's cells of a row x environment table belong in that table too
    rows = [m for r in records for m in r.measurements if not r.correction or "table" in m]
    if rows:
        entry["measurements"] = rows
    return settle(entry, claim, env)


def verdicts(claims: Iterable[Claim], records: Iterable[TestRecord],
             env: Environment | None) -> list[dict]:
    """Every claim's entry, in catalog order, judged against the catalog for `env` (None:
    unknown, nothing recorded); [] where no claim test ran (nothing audited)."""
    ran = [r for r in records if r.outcome is not None]  # not: -x, --collect-only, interrupted
    if not ran:
        return []
    by_claim: dict[str, list[TestRecord]] = {}
    for record in ran:
        by_claim.setdefault(record.claim_id, []).append(record)
    entries = (claim_entry(c, by_claim.get(c.id, []), env) for c in claims)
    return [e for e in entries if e is not None]


def only_missing_tools(records: Iterable[TestRecord], failures: int) -> bool:
    """Whether the run's `failures` (pytest's count of failed reports) are all errors of
    tests whose system program is missing."""
    missing = [r for r in records if r.outcome == "error" and r.missing_tool]
    return bool(missing) and failures == len(missing)


def unchecked(results: Iterable[dict]) -> list[str]:
    """The claims a run could not check (verdict error), one line per reason, for the end of a
    run: "2 claims not checked here (q9-a, q23-b): <reason>"."""
    by_reason: dict[str, list[str]] = {}
    for r in results:
        if r["verdict"] == "error":
            reason = re.sub(r"^\w+: MissingTool: ", "", r["evidence"])
            by_reason.setdefault(reason, []).append(r["id"])
    return [f"{len(ids)} claim{'s' if len(ids) > 1 else ''} not checked here "
            f"({', '.join(ids)}): {reason}" for reason, ids in by_reason.items()]
