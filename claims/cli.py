"""`python -m claims` / `claims`: list and show the catalog, merge reports, run the audit.

    claims audit [--all | --env ID ...] [--trust] [--strict] [--claim ID ...]
                                          run the audit (nox) then merge the report; --trust
                                          adds the bench, stability and mutants sessions;
                                          --strict fails on a claim left unchecked for want
                                          of a program (Graphviz, Node.js), as CI does;
                                          --claim: one claim's tests, into reports/claims/
    claims selftest                       the engine's own tests
    claims list [--json]                  the catalog (never imports Keras)
    claims show ID                        one claim and its latest verdicts in reports/
    claims coverage [--json]              every sentence of the seed: claim (with its ids),
                                          opinion, context (with a reason) or uncovered
    claims report FILE... [--out DIR] [--lang en|vi] [--bench FILE...] [--timing F]
                  [--stability F] [--sweep FILE...]
    claims compare DIR...                 whether runs in DIRs gave the same verdicts
    nox -l --json | claims ci-matrix      the CI job matrix (one job per audit session)
    claims sweep-matrix                   the sweep's job matrix (one job per Keras release)
    claims mutants [DIR] [--list] [--run] the mutation score of a `nox -s mutants` run (--run:
                                          run each fault first, on its claims' tests)
    claims mutants --speed FILE           the audit's time per fault, as ratios to a clean run
    claims envfaults [DIR] [--list]       whether broken environments stayed out of verdicts

On a machine with only Python, `audit` and `selftest` first make `.nox/.bootstrap`, a venv
holding nox, uv and this project, and run from there.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

from claims.reportio import SUPPLEMENTS
from claims.vocabulary import DEFAULT_ENV

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = ROOT / ".nox" / ".bootstrap"


def _bootstrap_python() -> Path:
    """A venv with nox, uv and this project; made once, brought up to date when the project's
    dependencies change."""
    python = BOOTSTRAP / "bin" / "python"
    stamp = BOOTSTRAP / ".claims-pyproject"
    wanted = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    if not python.exists() or not stamp.exists() or stamp.read_text(encoding="utf-8") != wanted:
        print(f"claims: preparing {BOOTSTRAP} (nox, uv) ...", file=sys.stderr, flush=True)
        if not python.exists():
            venv.create(BOOTSTRAP, with_pip=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "nox>=2024.4", "uv>=0.4",
                        "-e", str(ROOT)], check=True)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(wanted, encoding="utf-8")
    return python


def _ensure_dependencies(argv: list[str]) -> None:
    """Re-run inside the bootstrap venv when this Python lacks what the command needs."""
    command = argv[0] if argv else ""
    # the catalog is validated by its JSON Schema, so every command but selftest needs jsonschema
    needed = ["packaging", "jsonschema"] + {
        "audit": ["nox", "jinja2"], "selftest": ["nox"], "report": ["jinja2"],
    }.get(command, [])
    if all(importlib.util.find_spec(m) for m in needed):
        return
    if Path(sys.prefix).resolve() == BOOTSTRAP.resolve():
        raise SystemExit(f"claims: {BOOTSTRAP} lacks {needed}: delete it and run again")
    python = _bootstrap_python()
    os.execv(python, [str(python), "-m", "claims", *argv])


def _nox(*args: str) -> int:
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args],
                          cwd=ROOT).returncode


def cmd_audit(args: argparse.Namespace) -> int:
    if args.strict:
        os.environ["CLAIMS_STRICT"] = "1"  # read by the plugin in every session nox starts
    sessions = ["-t", "audit"] if args.all else ["-s", *(f"audit({e})" for e in args.env)]
    if args.claim:
        return _audit_claims(sessions, args.claim)
    status = _nox(*sessions)  # nox goes on after a failed session and fails at the end
    if args.trust:
        status = _nox("-s", "bench", "stability", "mutants", "envfaults") or status
    # The report is written even when a claim drifted, so the drift can be read.
    report_status = _nox("-s", "report")
    _print_unchecked(ROOT / "reports", None if args.all else args.env)
    return status or report_status


def _print_unchecked(folder: Path, env_ids: list[str] | None) -> None:
    """The last lines of an audit: per environment (`env_ids`, None: all), the claims it could
    not check and why."""
    from claims import runfile
    from claims.verdicts import unchecked

    paths = (runfile.run_paths(folder) if env_ids is None
             else [folder / f"{e}.json" for e in env_ids])
    for path in paths:
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
            lines = unchecked(run["claims"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no run file, or not one: the report step has said so
        for line in lines:
            print(f"{run['environment']['id']}: {line}")


def _audit_claims(sessions: list[str], ids: list[str]) -> int:
    """Only the tests of `ids`, with their run files and report in reports/claims/, so the
    whole audit's files in reports/ stay as they were."""
    out = ROOT / "reports" / "claims"
    chosen = [a for i in ids for a in ("--claim", i)]
    status = _nox(*sessions, "--", "tests", *chosen, "--claims-reports", str(out))
    from claims import runfile

    runs = runfile.run_paths(out)
    if runs:
        from claims.report import ReportError, write_report

        try:
            write_report(runs, out)
        except ReportError as exc:
            print(f"claims report: {exc}", file=sys.stderr)
            return 2
        print(f"claims audit: {', '.join(ids)} -> {out}/audit.md, audit.html, audit.json")
    return status


def cmd_selftest(args: argparse.Namespace) -> int:
    return _nox("-s", "selftest")


def cmd_list(args: argparse.Namespace) -> int:
    from claims import catalog

    claims = catalog.load()
    if args.json:
        json.dump([c.as_dict() for c in claims.values()], sys.stdout, indent=1,
                  ensure_ascii=False)
        print()
        return 0
    width = max(map(len, claims))
    for c in claims.values():
        tag = " (untestable)" if c.untestable else ""
        print(f"{c.id:<{width}}  {c.section}  {c.statement}{tag}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from claims import catalog

    claim = catalog.load().get(args.id)
    if claim is None:
        print(f"claims: no claim {args.id!r} (see `claims list`)", file=sys.stderr)
        return 2
    print(f"{claim.id}  (questions {', '.join(map(str, claim.questions))}, section "
          f"{claim.section})\nquote:      {claim.quote}\nstatement:  {claim.statement}")
    if claim.correction:
        print(f"correction: {claim.correction}")
    if claim.untestable:
        print(f"untestable: {claim.untestable}")
    found = False
    for path in sorted(Path(args.reports).glob("*.json")):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
            entry = next(c for c in run.get("claims", []) if c.get("id") == claim.id)
            env_id = run["environment"]["id"]
        except (ValueError, StopIteration, KeyError, TypeError, AttributeError):
            continue
        found = True
        drift = " DRIFT" if entry.get("drift") else ""
        print(f"  {env_id}: {entry['verdict']}{drift}: {entry.get('evidence', '')}")
    if not found:
        print(f"  no verdicts yet in {args.reports}/ (run `claims audit`)")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from claims.seedmap import SeedMapError, seed_coverage

    try:
        cov = seed_coverage()
    except SeedMapError as exc:
        print(f"claims coverage: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump([e.as_dict() for e in cov.entries], sys.stdout, indent=1, ensure_ascii=False)
        print()
        return 0
    for e in cov.entries:
        what = ", ".join(e.claims) or e.reason
        tail = f"  [{what}]" if what else ""
        print(f"Q{e.question or '-':<3} {e.status:<9} {e.sentence}{tail}")
    for problem in cov.conflicts + [f"stale map entry: {s}" for s in cov.stale]:
        print(f"claims coverage: {problem}", file=sys.stderr)
    print(cov.summary())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from claims.report import ReportError, write_report

    try:
        supplements = {name: getattr(args, name) for name in SUPPLEMENTS}
        merged = write_report(args.files, Path(args.out), args.lang, supplements, args.timing,
                              args.stability, args.sweep, proof=args.proof)
    except ReportError as exc:
        print(f"claims report: {exc}", file=sys.stderr)
        return 2
    print(f"claims report: {len(merged['claims'])} claims x {len(merged['environments'])} "
          f"environments -> {args.out}/audit.md, audit.html, audit.json")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from claims.inputs import ReportError  # no jinja2: this runs in the audit venvs
    from claims.reportio import write_atomic
    from claims.stability import compare

    try:
        result = compare(args.dirs)
    except ReportError as exc:
        print(f"claims compare: {exc}", file=sys.stderr)
        return 2
    result["seeds"] = args.seeds
    if args.settings:  # what each run varied, in the order of its folder
        result["settings"] = dict(zip(map(str, args.dirs), args.settings, strict=True))
    write_atomic(args.out, json.dumps(result, indent=1) + "\n")
    named = result.get("settings", {})
    for d in result["differences"]:
        runs = {named.get(run, run): verdict for run, verdict in d["verdicts"].items()}
        print(f"DIFFERS {d['environment']} {d['claim']}: {runs}")
    print(f"claims compare: {result['runs']} runs, {result['claims']} claims: "
          + ("stable" if result["stable"] else "NOT stable"))
    return 0 if result["stable"] else 1


def cmd_ci_matrix(args: argparse.Namespace) -> int:
    from claims.ci import job_matrix

    try:
        matrix = job_matrix(sys.stdin.read(), args.tag)
    except ValueError as exc:
        print(f"claims ci-matrix: {exc}", file=sys.stderr)
        return 2
    print(f"matrix={json.dumps(matrix, separators=(',', ':'))}")
    return 0


def cmd_sweep_matrix(args: argparse.Namespace) -> int:
    from claims.bisect import releases
    from claims.sweep import release_matrix

    try:
        matrix = release_matrix(releases())
    except OSError as exc:  # the registry unreachable
        print(f"claims sweep-matrix: the Keras releases: {exc}", file=sys.stderr)
        return 2
    print(f"matrix={json.dumps(matrix, separators=(',', ':'))}")
    return 0


def cmd_mutants(args: argparse.Namespace) -> int:
    from claims.mutants import FAULTS, proof, score, speed_lines
    from claims.reportio import write_atomic

    if args.speed:
        lines, within = speed_lines(json.loads(args.speed.read_text(encoding="utf-8")))
        print("\n".join(lines))
        return 0 if within else 1
    if args.list:
        for f in FAULTS.values():
            print(f"{f.name} {' '.join(f.claims)}")
        return 0
    if args.run:
        from claims.mutants import run

        print("\n".join(run(args.folder)), flush=True)
    rows, caught = score(args.folder)
    write_atomic(args.folder.parent / "proof.json", json.dumps(proof(rows), indent=1) + "\n")
    width = max(len(f.name) for f, _ in rows)
    print(f"{'fault':<{width}}  section  caught by")
    for f, claims in rows:
        print(f"{f.name:<{width}}  {f.section:<7}  {', '.join(claims) or 'NOT CAUGHT'}")
    print(f"mutation score: {caught}/{len(rows)} faults caught")
    return 0 if caught == len(rows) else 1


def cmd_envfaults(args: argparse.Namespace) -> int:
    from claims.envfaults import FAULTS, check

    if args.list:
        for f in FAULTS:
            print(json.dumps({"name": f.name, "env": f.env, "args": list(f.args)}))
        return 0
    lines = check(args.folder)
    print("\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="claims", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="run the audit with nox, then merge the report")
    a.add_argument("--all", action="store_true", help="every environment of the matrix")
    a.add_argument("--trust", action="store_true",
                   help="then the bench, stability, mutants and envfaults sessions")
    a.add_argument("--env", action="append", default=[], metavar="ID",
                   help=f"an environment id (default {DEFAULT_ENV}); repeatable")
    a.add_argument("--claim", action="append", default=[], metavar="ID",
                   help="only this claim's tests (repeatable); reports in reports/claims/")
    a.add_argument("--strict", action="store_true",
                   help="fail on a claim not checked for want of a system program (CI)")
    a.set_defaults(func=cmd_audit)
    sub.add_parser("selftest", help="the engine's own tests").set_defaults(func=cmd_selftest)
    lst = sub.add_parser("list", help="the catalog")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_list)
    s = sub.add_parser("show", help="one claim and its latest verdicts")
    s.add_argument("id")
    s.add_argument("--reports", default=str(ROOT / "reports"))
    s.set_defaults(func=cmd_show)
    cv = sub.add_parser("coverage", help="the seed sentence by sentence: claim, opinion, "
                                         "context or uncovered")
    cv.add_argument("--json", action="store_true",
                    help="a list of {question, sentence, status, claims, reason}")
    cv.set_defaults(func=cmd_coverage)
    r = sub.add_parser("report", help="merge per-run JSON files into the report")
    r.add_argument("files", nargs="*", type=Path)
    r.add_argument("--out", default="reports")
    r.add_argument("--lang", default="en", choices=["en", "vi"])
    for name, what in SUPPLEMENTS.items():
        r.add_argument(f"--{name}", nargs="*", default=[], type=Path, metavar="FILE",
                       help=f"per-run files of {what}, merged beside the audit")
    r.add_argument("--timing", type=Path, help="timing.json written by the audit runs")
    r.add_argument("--stability", type=Path, help="stability.json of the stability session")
    r.add_argument("--proof", type=Path,
                   help="proof.json of the mutants session: the faults each claim caught")
    r.add_argument("--sweep", nargs="*", default=[], type=Path, metavar="FILE",
                   help="the sweep session's run files (reports/sweep/): the release timeline")
    r.set_defaults(func=cmd_report)
    c = sub.add_parser("compare", help="whether repeated runs gave the same verdicts")
    c.add_argument("dirs", nargs="+", type=Path)
    c.add_argument("--out", type=Path, default=ROOT / "reports" / "stability.json")
    c.add_argument("--seeds", nargs="*", type=int, default=[])
    c.add_argument("--settings", nargs="*", default=[],
                   help="what each run varied (seeds, threads), one per DIR")
    c.set_defaults(func=cmd_compare)
    mu = sub.add_parser("mutants", help="which claims caught each deliberate fault")
    mu.add_argument("folder", nargs="?", type=Path, default=ROOT / "reports" / "mutants")
    mu.add_argument("--list", action="store_true", help="the faults and the claims each targets")
    mu.add_argument("--run", action="store_true",
                    help="first run each fault on the tests of its claims (two at a time)")
    mu.add_argument("--speed", type=Path, metavar="FILE",
                    help="the audit's time under each fault (faultspeed.json of `nox -s "
                         "faultspeed`) as ratios to the clean audit's")
    mu.set_defaults(func=cmd_mutants)
    ef = sub.add_parser("envfaults", help="broken environments gave no verdict")
    ef.add_argument("folder", nargs="?", type=Path, default=ROOT / "reports" / "envfaults")
    ef.add_argument("--list", action="store_true", help="the faults, one JSON line each")
    ef.set_defaults(func=cmd_envfaults)
    m = sub.add_parser("ci-matrix", help="GitHub job matrix from `nox -l --json` on stdin")
    m.add_argument("--tag", default="audit")
    m.set_defaults(func=cmd_ci_matrix)
    sm = sub.add_parser("sweep-matrix", help="GitHub job matrix of the sweep: one job per "
                                             "Keras release")
    sm.set_defaults(func=cmd_sweep_matrix)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _ensure_dependencies(argv)
    args = parser().parse_args(argv)
    if args.command == "audit" and not args.env:
        args.env = [DEFAULT_ENV]
    from claims.catalog import CatalogError

    try:
        return args.func(args)
    except CatalogError as exc:
        print(f"claims: catalog: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `claims list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
