"""The pytest plugin that turns test outcomes into claim verdicts.

Rules: a test whose own assertion fails refutes its claim; a skip makes it not-applicable; any
other exception (an import error, a missing system package, a broken fixture) is an error, never
a refutation. Where the catalog records a claim as refuted here, its failing tests show as XFAIL
and keep the run green; where the observed verdict differs from the recorded one the claim is
marked drift and the run fails.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from claims import catalog, target
from claims.reportio import one_line, write_atomic

SCHEMA_VERSION = 1
EVIDENCE_KEY = "claims_evidence"
PHASE_KEY = "claims_phase"
MEASURE_KEY = "claims_measure"
# How Hypothesis introduces the minimal counterexample, across its versions.
EXAMPLE_NOTES = ("Falsifying example", "Failing test case", "Falsifying explicit example")


@dataclass
class TestRecord:
    nodeid: str
    claim_id: str
    correction: bool
    outcome: str | None = None  # passed | failed | skipped | error; None: never ran
    message: str = ""
    duration_s: float = 0.0
    evidence: list[str] = field(default_factory=list)
    measurements: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
            "role": "correction" if self.correction else "claim",
        }


# Groups of tests a run leaves out unless asked for by the option of the same name.
OPT_IN_GROUPS = {
    "slow": "the whole pretrained-model table; the nox table sessions pass it",
    "tfjs": "the TF.js claim, which needs the converter and Node.js; the nox tfjs sessions",
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
    checks = [r for r in records if r.correction]
    if not checks:
        return ""
    bad = [r for r in checks if r.outcome in ("failed", "error")]
    if bad:
        return f"correction NOT verified: {bad[0].message}"
    if all(r.outcome == "skipped" for r in checks):
        return "correction not checked here"
    return "correction verified"


class ClaimsPlugin:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.claims = catalog.load(Path(os.environ.get("CLAIMS_CATALOG", catalog.CATALOG_DIR)))
        try:
            self.env: catalog.Environment | None = target.detect()
            self.env_problem = ""
        except Exception as exc:  # no Keras installed: claim tests will error, not refute
            self.env, self.env_problem = None, describe(exc)
        self.records: dict[str, TestRecord] = {}
        self.results: list[dict] = []

    # --- collection ---------------------------------------------------------------------------
    def claim_of(self, item: pytest.Item) -> tuple[str, bool] | None:
        marker = item.get_closest_marker("claim")
        if marker is None:
            return None
        if len(marker.args) != 1 or not isinstance(marker.args[0], str):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.claim takes one claim id")
        return marker.args[0], bool(marker.kwargs.get("correction", False))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        only = set(self.config.getoption("claims_only") or ())
        unknown = only - set(self.claims)
        if unknown:
            raise pytest.UsageError(f"--claim names unknown claim(s) {sorted(unknown)}")
        if only:
            keep = [i for i in items if (self.claim_of(i) or ("",))[0] in only]
            self.config.hook.pytest_deselected(items=[i for i in items if i not in keep])
            items[:] = keep
        for marker in OPT_IN_GROUPS:
            if not self.config.getoption(f"claims_{marker}"):
                left_out = [i for i in items if i.get_closest_marker(marker)]
                if left_out:
                    self.config.hook.pytest_deselected(items=left_out)
                    items[:] = [i for i in items if not i.get_closest_marker(marker)]
        for item in items:
            tied = self.claim_of(item)
            if tied is None:
                continue
            claim_id, _ = tied
            claim = self.claims.get(claim_id)
            if claim is None:
                raise pytest.UsageError(f"{item.nodeid}: names unknown claim {claim_id!r}")
            if claim.untestable:
                raise pytest.UsageError(f"{item.nodeid}: claim {claim_id!r} is untestable")

    # --- outcomes -----------------------------------------------------------------------------
    # Where the test runs (this process, or a pytest-xdist worker) each phase's outcome is
    # judged from the exception and attached to the report; the process that writes the
    # verdicts (this one, or the xdist controller) reads it back from the reports.
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        tied = self.claim_of(item)
        if tied is None:
            return
        report = outcome.get_result()
        claim_id, correction = tied
        judged, message = None, ""
        if call.excinfo is None:
            judged = "passed" if call.when == "call" else None
        elif call.excinfo.errisinstance(pytest.skip.Exception):
            judged, message = "skipped", one_line(str(call.excinfo.value.msg))
        elif call.when == "call" and is_refutation(call.excinfo.value):
            judged, message = "failed", describe(call.excinfo.value)
            if self.expected(self.claims[claim_id]) == "refuted" and not correction:
                # Recorded finding: show XFAIL, keep the run green.
                report.outcome = "skipped"
                report.wasxfail = f"refuted as recorded: {message}"
        else:
            judged, message = "error", f"{call.when}: {describe(call.excinfo.value)}"
        phase = {"claim": claim_id, "correction": correction, "outcome": judged,
                 "message": message}
        # a new list: pytest shares the item's list with every phase's report
        report.user_properties = [*report.user_properties, (PHASE_KEY, json.dumps(phase))]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        phases = [json.loads(v) for k, v in report.user_properties if k == PHASE_KEY]
        if not phases:
            return
        phase = phases[-1]
        record = self.records.setdefault(
            report.nodeid, TestRecord(report.nodeid, phase["claim"], phase["correction"]))
        record.duration_s += report.duration
        record.evidence = [v for k, v in report.user_properties if k == EVIDENCE_KEY]
        record.measurements = [json.loads(v) for k, v in report.user_properties
                               if k == MEASURE_KEY]
        if record.outcome in ("failed", "error", "skipped") or phase["outcome"] is None:
            return
        record.outcome, record.message = phase["outcome"], phase["message"]

    # --- verdicts -----------------------------------------------------------------------------
    def expected(self, claim: catalog.Claim) -> str | None:
        return claim.expected_verdict(self.env) if self.env else None

    def verdicts(self) -> list[dict]:
        if not any(r.outcome for r in self.records.values()):
            return []  # no claim test ran: nothing was audited
        by_claim: dict[str, list[TestRecord]] = {}
        for record in self.records.values():
            if record.outcome is None:
                continue  # never ran (-x, --collect-only, an interrupted run)
            by_claim.setdefault(record.claim_id, []).append(record)
        out = []
        for claim in self.claims.values():
            records = by_claim.get(claim.id, [])
            if claim.untestable:
                verdict, evidence = "untestable", claim.untestable
            elif not [r for r in records if not r.correction]:
                continue  # not selected in this run
            else:
                verdict, evidence = aggregate(records)
            expected = self.expected(claim)
            drift = expected is not None and verdict not in (expected, "error")
            note = correction_note(records) if verdict == "refuted" else ""
            out.append({
                "id": claim.id,
                "questions": list(claim.questions),
                "section": claim.section,
                "statement": claim.statement,
                "quote": claim.quote,
                "verdict": verdict,
                "expected": expected,
                "drift": drift,
                "evidence": evidence + (f" [{note}]" if note else ""),
                "correction": claim.correction,
                "tests": [r.as_dict() for r in records],
            })
            # a correction's cells of a row x environment table belong in that table too
            rows = [m for r in records for m in r.measurements
                    if not r.correction or "table" in m]
            if rows:
                out[-1]["measurements"] = rows
        return out

    def reports_dir(self) -> Path:
        return Path(self.config.getoption("claims_reports") or self.config.rootpath / "reports")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return  # a pytest-xdist worker: the controller writes the verdicts
        self.results = self.verdicts()
        if not self.results or self.env is None:
            return
        if any(r["drift"] for r in self.results) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        payload = {
            "schema": SCHEMA_VERSION,
            "environment": {
                "id": self.env.id,
                "keras": self.env.keras,
                "backend": self.env.backend,
                "python": platform.python_version(),
                "packages": target.installed_packages(),
            },
            "claims": self.results,
        }
        path = self.reports_dir() / f"{self.env.id}.json"
        write_atomic(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
        self.write_timing()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.perf_counter()

    def write_timing(self) -> None:
        """Wall time, slowest tests and peak RSS of this run, in <reports>/timing.json."""
        path = self.reports_dir() / "timing.json"
        try:
            timing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            timing = {}
        slowest = sorted(self.records.values(), key=lambda r: -r.duration_s)[:5]
        by_file: dict[str, float] = {}
        for r in self.records.values():
            name = r.nodeid.split("::")[0].rsplit("/", 1)[-1]
            by_file[name] = by_file.get(name, 0.0) + r.duration_s
        timing[self.env.id] = {
            "wall_s": round(time.perf_counter() - self.started, 1),
            "tests": len(self.records),
            # xdist workers are child processes: the peak is the larger of theirs and ours
            "peak_rss_mb": round(max(resource.getrusage(who).ru_maxrss for who in (
                resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024),
            "slowest": [[r.nodeid, round(r.duration_s, 2)] for r in slowest],
            # test time per section file, summed over xdist workers
            "files_s": {name: round(s, 1) for name, s in sorted(by_file.items())},
        }
        write_atomic(path, json.dumps(timing, indent=1, sort_keys=True) + "\n")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.results:
            return
        tr = terminalreporter
        if self.env is None:
            tr.write_line(
                f"no report written: the Keras under audit is unknown: {self.env_problem}"
            )
            return
        tr.section(f"claim verdicts: {self.env.id}")
        width = max(len(r["id"]) for r in self.results)
        room = max(shutil.get_terminal_size((120, 20)).columns - width - 28, 30)
        for r in self.results:
            flag = "DRIFT" if r["drift"] else ""
            line = f"{r['id']:<{width}}  {r['verdict']:<14} {flag:<5} {r['evidence']}"
            markup = {"holds": {"green": True}, "refuted": {"yellow": True}}.get(
                r["verdict"], {"red": r["verdict"] == "error" or r["drift"]}
            )
            tr.write_line(line[: width + 24 + room], **markup)
        drift = [r for r in self.results if r["drift"]]
        for r in drift:
            tr.write_line(
                f"DRIFT {r['id']}: recorded {r['expected']}, observed {r['verdict']}", red=True
            )
        tr.write_line(f"report: {self.reports_dir() / (self.env.id + '.json')}")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims")
    group.addoption(
        "--claims-reports", default=os.environ.get("CLAIMS_REPORTS"),
        help="folder for <env-id>.json and .xml (default: <rootdir>/reports)",
    )
    group.addoption(
        "--claim", dest="claims_only", action="append", metavar="ID",
        help="run only the tests of this claim (repeatable)",
    )
    for marker, what in OPT_IN_GROUPS.items():
        group.addoption(f"--{marker}", dest=f"claims_{marker}", action="store_true",
                        help=f"also run the tests marked {marker}: {what}")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "claim(id, correction=False): ties a test to a catalog claim; "
        "correction=True checks the claim's correction")
    for marker, what in OPT_IN_GROUPS.items():
        config.addinivalue_line("markers", f"{marker}: runs only with --{marker} ({what})")
    try:
        plugin = ClaimsPlugin(config)
    except catalog.CatalogError as exc:
        raise pytest.UsageError(f"claim catalog: {exc}") from None
    config.pluginmanager.register(plugin, "claims-audit")
    if plugin.env and hasattr(config.option, "xmlpath") and config.option.xmlpath is None:
        config.option.xmlpath = str(plugin.reports_dir() / f"{plugin.env.id}.xml")


@pytest.fixture(scope="session")
def keras():
    """The Keras under audit (never `import keras` in a test: see claims.target)."""
    return target.load_keras()


@pytest.fixture(scope="session")
def environment() -> catalog.Environment:
    return target.detect()


@pytest.fixture
def measure(request: pytest.FixtureRequest):
    """Record one row comparing a number of the seed with the measured one, for the report's
    table: `measure(model="VGG16", column="Parameters", seed="138.4M", measured=138357544)`;
    or one cell of a row x environment table: `measure(table=T, row=R, cell=C, verdict=V,
    detail=D)` (the portability, TF.js and security tables)."""

    def add(**row) -> None:
        request.node.user_properties.append((MEASURE_KEY, json.dumps(row)))

    return add


@pytest.fixture
def evidence(request: pytest.FixtureRequest):
    """Record a measured value as the claim's evidence: `evidence("18,496 parameters")`."""

    def add(text: str) -> None:
        request.node.user_properties.append((EVIDENCE_KEY, text))

    return add
