"""The pytest plugin that turns test outcomes into claim verdicts: its hooks, options and
fixtures. The rules live in claims.verdicts, the files a run writes in claims.runfile.

Every test the audit collects ties to a claim (`@pytest.mark.claim`): one without the marker
stops the run, since its failure would show in pytest and nowhere in the report. Where the
catalog records a claim as refuted here, its failing tests show as XFAIL and keep the run green;
where the observed verdict differs from the recorded one the claim is marked drift and the run
fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from claims import catalog, labels, machine, runfile, target, verdicts
from claims.labels import LABELS
from claims.verdicts import MissingTool, TestRecord, describe, judge  # tests import these here

EVIDENCE_KEY = "claims_evidence"
PHASE_KEY = "claims_phase"
MEASURE_KEY = "claims_measure"
REFUSED_KEY = "claims_refused"  # what an xdist worker refused, for the controller
MACHINE_KEY = "claims_machine"  # the machine facts an xdist worker read, for the controller

# Groups of tests a run leaves out unless asked for by the option of the same name.
OPT_IN_GROUPS = {
    "slow": "the whole pretrained-model table; the nox table sessions pass it",
    "tfjs": "the TF.js claim, which needs the converter and Node.js; the nox tfjs sessions",
    "bench": "the benchmark claims, measured numbers that include training on a 4 GiB file;"
             " the nox bench session passes it",
}


def claim_of(item: pytest.Item) -> tuple[str, bool] | None:
    """The claim id the item tests and whether it checks the correction; None: no marker."""
    marker = item.get_closest_marker("claim")
    if marker is None:
        return None
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.claim takes one claim id")
    return marker.args[0], bool(marker.kwargs.get("correction", False))


def setting_of(item: pytest.Item) -> dict[str, str]:
    """The switch setting the item runs under: what a fixture value that carries one
    (`claims_setting`, tests/switches.py) records; {} where it takes none."""
    found: dict[str, str] = {}
    for value in getattr(item, "funcargs", {}).values():
        found.update(getattr(value, "claims_setting", None) or {})
    return found


def audited(config: pytest.Config, item: pytest.Item) -> bool:
    """Whether the item is a claim test: under the `testpaths` of the ini file (tests/), or
    anywhere where none are set. The engine's self-tests are not claim tests."""
    roots = [config.rootpath / p for p in config.getini("testpaths")]
    return not roots or any(item.path.is_relative_to(r) for r in roots)


def deselect(config: pytest.Config, items: list[pytest.Item], keep) -> None:
    """Leave out of the run, as pytest's -k and -m do, the items `keep` rejects."""
    left_out = [i for i in items if not keep(i)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [i for i in items if keep(i)]


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
        self.refused = ""  # an xdist worker's usage error
        self.machine: dict[str, str] = {}  # the facts an xdist worker read
        self.started = time.perf_counter()

    def judged_env(self) -> catalog.Environment | None:
        """The environment with its machine facts, read once, when first needed (a worker
        reads them; the xdist controller takes a worker's)."""
        if self.env is not None and not self.env.machine:
            self.env = dataclasses.replace(self.env, machine=self.machine or machine.facts())
        return self.env

    def expected(self, claim: catalog.Claim, setting: dict[str, str]) -> str | None:
        env = self.judged_env()
        return verdicts.recorded(claim, env and verdicts.under(env, setting))[0]

    def reports_dir(self) -> Path:
        return Path(self.config.getoption("claims_reports") or self.config.rootpath / "reports")

    # --- collection ---------------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session,
                                      items: list[pytest.Item]) -> None:
        try:
            self.select(items)
        except pytest.UsageError as exc:
            if not hasattr(self.config, "workerinput"):
                raise
            # A pytest-xdist worker's UsageError ends in an INTERNALERROR without its message:
            # the worker stops the run instead, and the controller ends it as a usage error.
            self.config.workeroutput[REFUSED_KEY] = str(exc)
            session.shouldstop = str(exc)
            items[:] = []

    def select(self, items: list[pytest.Item]) -> None:
        """Refuse what cannot give a verdict; leave out what this run did not ask for."""
        unmarked = [i.nodeid for i in items if audited(self.config, i) and claim_of(i) is None]
        if unmarked:
            raise pytest.UsageError(
                f"test(s) with no @pytest.mark.claim: {', '.join(unmarked)}")
        only = set(self.config.getoption("claims_only") or ())
        unknown = only - set(self.claims)
        if unknown:
            raise pytest.UsageError(f"--claim names unknown claim(s) {sorted(unknown)}")
        if only:
            deselect(self.config, items, lambda i: (claim_of(i) or ("",))[0] in only)
        for marker in OPT_IN_GROUPS:
            if not self.config.getoption(f"claims_{marker}"):
                deselect(self.config, items, lambda i, m=marker: i.get_closest_marker(m) is None)
        self.longest_files_first(items)
        for item in items:
            claim_id = (claim_of(item) or (None,))[0]
            if claim_id is None:
                continue
            if claim_id not in self.claims:
                raise pytest.UsageError(f"{item.nodeid}: names unknown claim {claim_id!r}")
            if self.claims[claim_id].untestable:
                raise pytest.UsageError(f"{item.nodeid}: claim {claim_id!r} is untestable")

    def longest_files_first(self, items: list[pytest.Item]) -> None:
        """Order the files by the test time this environment's last run measured, longest
        first, keeping each file's own order: pytest-xdist (--dist loadfile
        --no-loadscope-reorder) then hands the long files out first and the workers end
        together. The order changes no verdict: every test starts from the same seed."""
        if self.env is None:
            return
        try:
            files = runfile.file_times(self.reports_dir(), self.env.id)
        except ValueError:
            return
        items.sort(key=lambda i: -files.get(i.path.name, 0.0))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """An xdist worker went down (the controller): did it refuse the tests? What machine
        facts did it read?"""
        output = getattr(node, "workeroutput", {})
        self.refused = self.refused or output.get(REFUSED_KEY, "")
        self.machine = self.machine or json.loads(output.get(MACHINE_KEY, "{}"))

    # --- outcomes -----------------------------------------------------------------------------
    # Where the test runs (this process, or a pytest-xdist worker) each phase's outcome is
    # judged from the exception and attached to the report; the process that writes the
    # verdicts (this one, or the xdist controller) reads it back from the reports.
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        tied = claim_of(item)
        if tied is not None:
            self.attach_phase(report, call, *tied, setting_of(item))
        return report

    def attach_phase(self, report: pytest.TestReport, call: pytest.CallInfo, claim_id: str,
                     correction: bool, setting: dict[str, str]) -> None:
        exc = call.excinfo.value if call.excinfo else None
        skipped = call.excinfo is not None and call.excinfo.errisinstance(pytest.skip.Exception)
        judged, message = judge(call.when, exc, str(exc.msg) if skipped else None)
        if (judged == "failed" and not correction
                and self.expected(self.claims[claim_id], setting) == "refuted"):
            # Recorded finding: show XFAIL, keep the run green.
            report.outcome = "skipped"
            report.wasxfail = f"refuted as recorded: {message}"
        phase = {"claim": claim_id, "correction": correction, "outcome": judged,
                 "message": message, "missing_tool": isinstance(exc, MissingTool),
                 "setting": setting}
        # a new list: pytest shares the item's list with every phase's report
        report.user_properties = [*report.user_properties, (PHASE_KEY, json.dumps(phase))]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = report.user_properties
        phases = [json.loads(v) for k, v in properties if k == PHASE_KEY]
        if not phases:
            return
        phase = phases[-1]
        record = self.records.setdefault(
            report.nodeid, TestRecord(report.nodeid, phase["claim"], phase["correction"]))
        record.add_phase(phase["outcome"], phase["message"], report.duration,
                         evidence=[v for k, v in properties if k == EVIDENCE_KEY],
                         measurements=[json.loads(v) for k, v in properties if k == MEASURE_KEY],
                         missing_tool=phase["missing_tool"], setting=phase["setting"])

    # --- the run's files ----------------------------------------------------------------------
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.perf_counter()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            # a pytest-xdist worker: the controller writes the verdicts, with the facts read
            # in a process that ran the tests
            if self.records and self.env is not None:
                self.config.workeroutput[MACHINE_KEY] = json.dumps(self.judged_env().machine)
            return
        if self.refused:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        ran = any(r.outcome is not None for r in self.records.values())
        self.results = verdicts.verdicts(self.claims.values(), self.records.values(),
                                         self.judged_env() if ran else self.env)
        if not self.results or self.env is None:
            return
        drift = any(r["drift"] for r in self.results)
        if drift and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        # A claim this machine cannot check for want of a program is reported, not a failure,
        # unless the run is strict (CI): the first run on a bare machine ends green.
        if (not drift and not self.config.getoption("claims_strict")
                and session.exitstatus == pytest.ExitCode.TESTS_FAILED
                and verdicts.only_missing_tools(self.records.values(), session.testsfailed)):
            session.exitstatus = pytest.ExitCode.OK
        runfile.write_run(self.reports_dir(), self.env, self.results)
        wall_s = time.perf_counter() - self.started
        runfile.write_timing(self.reports_dir(), self.env.id, runfile.timing_entry(
            self.records.values(), wall_s, runfile.peak_rss_mb()))

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
        for line, markup in summary_lines(self.results, shutil.get_terminal_size((120, 20))):
            tr.write_line(line, **markup)
        for line in verdicts.unchecked(self.results):
            tr.write_line(line, red=True)
        tr.write_line(f"report: {runfile.run_path(self.reports_dir(), self.env)}")


def summary_lines(results: list[dict], terminal: os.terminal_size):
    """The verdict table, one (line, markup) per claim, then a line per drift."""
    width = max(len(r["id"]) for r in results)
    room = max(terminal.columns - width - 28, 30)
    for r in results:
        flag = "DRIFT" if r["drift"] else ""
        line = f"{r['id']:<{width}}  {r['verdict']:<14} {flag:<5} {r['evidence']}"
        markup = {"holds": {"green": True}, "refuted": {"yellow": True}}.get(
            r["verdict"], {"red": r["verdict"] == "error" or r["drift"]}
        )
        yield line[: width + 24 + room], markup
    for r in results:
        if r["drift"]:
            what = labels.drift({**r, "correction_drift": r.get("correction_drift")},
                                LABELS["en"])
            yield f"DRIFT {r['id']}: {what}", {"red": True}


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
    group.addoption(
        "--claims-strict", dest="claims_strict", action="store_true",
        default=bool(os.environ.get("CLAIMS_STRICT")),
        help="fail the run on a claim not checked for want of a system program, as on any "
             "other error (default from CLAIMS_STRICT; `claims audit --strict` sets it)",
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
