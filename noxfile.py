"""The audit matrix: every Keras version x backend the claims are checked in.

    nox -s "audit(keras-3.15.1-tensorflow)" report    # the default environment, then the report
    nox -t audit && nox -s report                      # the whole matrix
    nox -t keras2 / -t jax / ...                       # one axis
    nox -s selftest                                    # the engine's own tests, with coverage
    nox -s bench / stability                           # benchmark claims / verdicts stable?

All pins live in ENVIRONMENTS below and nowhere else.
"""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["audit", "report"]  # plain `nox`: the whole matrix, then the report

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))
from claims.machine import ONE_THREAD  # noqa: E402  (standard library only)
from claims.reportio import SUPPLEMENTS  # noqa: E402  (standard library only)
from claims.vocabulary import DEFAULT_ENV  # noqa: E402

REPORTS = ROOT / "reports"
# pydot (with the system Graphviz) for plot_model and model_to_dot; jsonschema validates the
# catalog (the project goes in with --no-deps)
AUDIT_TOOLS = ["pytest>=8", "hypothesis>=6.100", "packaging>=23", "numpy", "pydot==4.0.1",
               "pytest-xdist>=3.5", "jsonschema>=4.18"]
# Two workers, each file's tests on one of them, so a module fixture that trains in a child
# process runs once, not once per worker (faster than plain `-n 2`, the same verdicts).
# The files go out longest first by the last run's times (claims.plugin), not by test count.
AUDIT_WORKERS = ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]
TORCH = "torch==2.13.0+cpu"
LITERT = "ai-edge-litert==2.3.0"
KERAS_HUB_DEPS = ["absl-py", "regex", "rich", "kagglehub", "kagglesdk==0.1.28", "sentencepiece",
                  "tokenizers"]

# id -> what to install, the backend, and the tags that select it (`nox -t TAG`).
# Ids are what the plugin derives from the installed packages, so reports match sessions.
ENVIRONMENTS: dict[str, dict] = {
    # ai-edge-litert: LiteRT's interpreter, which TensorFlow 2.21's tf.lite.Interpreter points to
    "keras-3.15.1-tensorflow": dict(
        pins=["keras==3.15.1", "tensorflow-cpu==2.21.0", LITERT], tags=["keras3", "newest"],
    ),
    # KerasHub (Llama) without its tensorflow-text dependency, which pulls the full tensorflow
    "keras-3.15.1-jax": dict(
        pins=["keras==3.15.1", "jax[cpu]==0.10.2", "tensorflow-cpu==2.21.0", LITERT,
              *KERAS_HUB_DEPS],
        no_deps=["keras-hub==0.32.0"], tags=["keras3", "newest"],
    ),
    "keras-3.15.1-torch": dict(
        pins=["keras==3.15.1", TORCH, "tensorflow-cpu==2.21.0", LITERT],
        tags=["keras3", "newest"],
    ),
    "keras-3.15.1-numpy": dict(
        pins=["keras==3.15.1", "jax[cpu]==0.10.2", "scipy"], tags=["keras3", "newest"],
    ),
    "keras-3.15.1-openvino": dict(
        pins=["keras==3.15.1", "openvino==2026.4.1", "scipy"], tags=["keras3", "newest"],
    ),
    # format='grain' for the dataset utilities (q20) came with 3.14.0
    "keras-3.14.0-tensorflow": dict(pins=["keras==3.14.0", "tensorflow-cpu==2.21.0"],
                                    tags=["keras3"]),
    # fixes the 2025 security advisories, not those of 2026 (tests/test_a_security.py)
    "keras-3.13.1-tensorflow": dict(pins=["keras==3.13.1", "tensorflow-cpu==2.21.0"],
                                    tags=["keras3"]),
    "keras-3.10.0-tensorflow": dict(pins=["keras==3.10.0", "tensorflow-cpu==2.19.1"],
                                    tags=["keras3"]),
    "keras-3.8.0-tensorflow": dict(pins=["keras==3.8.0", "tensorflow-cpu==2.18.1"],
                                   tags=["keras3"]),
    "keras-3.5.0-tensorflow": dict(pins=["keras==3.5.0", "tensorflow-cpu==2.17.1"],
                                   tags=["keras3"]),
    "keras-3.0.5-tensorflow": dict(
        pins=["keras==3.0.5", "tensorflow-cpu==2.16.2", "numpy<2"], tags=["keras3", "oldest3"],
    ),
    "keras-3.0.5-jax": dict(
        pins=["keras==3.0.5", "jax[cpu]==0.4.25", "tensorflow-cpu==2.16.2", "numpy<2"],
        tags=["keras3", "oldest3"],
    ),
    # The security rows only (`tests`): the torch advisories (CVE-2025-49655, GHSA-v2w2) need a
    # release they affect beside PyTorch to show their boundary
    "keras-3.11.2-torch": dict(
        pins=["keras==3.11.2", TORCH, "tensorflow-cpu==2.20.0"], tags=["keras3"],
        tests=["tests/test_a_security.py", "tests/test_a_archives.py"],
    ),
    # scipy: ImageDataGenerator's rotation, shift and zoom need it
    "keras-2.15.0-tensorflow": dict(pins=["tensorflow-cpu==2.15.1", "scipy"], tags=["keras2"]),
    "keras-2.12.0-tensorflow": dict(pins=["tensorflow-cpu==2.12.1"], tags=["keras2"]),
    "tf_keras-2.21.0-tensorflow": dict(
        pins=["tensorflow-cpu==2.21.0", "scipy"], no_deps=["tf-keras==2.21.0"],
        tags=["keras2", "tf_keras"],
        env={"TF_USE_LEGACY_KERAS": "1"},
    ),
}
for _id, _spec in ENVIRONMENTS.items():
    _spec["backend"] = _id.rsplit("-", 1)[1]
    _spec["tags"] = [*_spec["tags"], _spec["backend"], "audit"] + (
        ["default"] if _id == DEFAULT_ENV else []
    )


def torch_source() -> list[str]:
    """Where uv finds the CPU build of torch: a local wheel folder when one exists, else the
    PyTorch CPU index. Never an unpinned torch, which would pull a multi-GB CUDA build."""
    wheels = glob.glob("/opt/wheels/torch-2.13.0*cpu*.whl") + glob.glob(
        os.path.expanduser("~/wheels/torch-2.13.0*cpu*.whl")
    )
    if wheels:
        return ["--find-links", str(Path(wheels[0]).parent)]
    return ["--extra-index-url", "https://download.pytorch.org/whl/cpu", "--index-strategy",
            "unsafe-best-match"]


def install_environment(session: nox.Session, env_id: str) -> dict[str, str]:
    """Install one matrix environment into the session's venv; return its variables."""
    spec = ENVIRONMENTS[env_id]
    extra = torch_source() if any(p.startswith("torch") for p in spec["pins"]) else []
    session.install(*spec["pins"], *AUDIT_TOOLS, *extra, env={"UV_COMPILE_BYTECODE": "1"})
    if spec.get("no_deps"):
        session.install("--no-deps", *spec["no_deps"])
    session.install("--no-deps", "-e", str(ROOT))
    return environment_variables(env_id)


def environment_variables(env_id: str) -> dict[str, str]:
    """What a process of environment `env_id` runs with (a sweep's release too: its backend
    is the id's last part)."""
    spec = ENVIRONMENTS.get(env_id) or {"backend": env_id.rsplit("-", 1)[1]}
    return {
        "KERAS_BACKEND": spec["backend"],
        # keep bytecode in the venv: it halves the start-up of TensorFlow
        "PYTHONDONTWRITEBYTECODE": "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
        # JAX compiles each weight initializer once per shape (EfficientNetB0: 81 compiles);
        # kept on disk, a later run of the environment builds it again in a fraction of the time
        "JAX_COMPILATION_CACHE_DIR": str(ROOT / ".nox" / "jax-cache" / env_id),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        **spec.get("env", {}),
    }


def run_audit(session: nox.Session, env: dict[str, str], reports: Path, *args: str,
              tests: list[str] | None = None) -> None:
    # the caller's arguments come last, so `-- --claims-reports DIR` overrides the default
    session.run("pytest", "--claims-reports", str(reports), *args,
                *(session.posargs or tests or ["tests"]), env=env)


@nox.session(python="3.11")
@nox.parametrize(
    "env_id", [nox.param(i, id=i, tags=s["tags"]) for i, s in ENVIRONMENTS.items()]
)
def audit(session: nox.Session, env_id: str) -> None:
    """Audit every claim in one environment (or the files its `tests` names); writes
    reports/<env-id>.json and .xml."""
    env = install_environment(session, env_id)
    run_audit(session, env, REPORTS, *AUDIT_WORKERS, tests=ENVIRONMENTS[env_id].get("tests"))


# The slow group (the whole pretrained-model table, minutes on jax) runs in
# the matrix apart from the audits, so the default audit stays fast: in the newest and oldest
# Keras 3 and in Keras 2.15. The other environments check three of its rows.
TABLE_ENVIRONMENTS = ("keras-3.15.1-tensorflow", "keras-3.0.5-tensorflow",
                      "keras-2.15.0-tensorflow")


@nox.session(python="3.11")
@nox.parametrize("env_id", [nox.param(i, id=i, tags=["table", "audit"])
                            for i in TABLE_ENVIRONMENTS])
def table(session: nox.Session, env_id: str) -> None:
    """Every row of the pretrained-model table (the slow group and the three rows every audit
    checks) in one environment; writes reports/table/<env-id>.json."""
    env = install_environment(session, env_id)
    run_audit(session, env, REPORTS / "table", "-m", "table", "--slow", *AUDIT_WORKERS)


# The TF.js route per Keras version: environment -> the tf-keras of its TensorFlow, which the
# converter imports. tensorflowjs goes in with --no-deps: it declares TF Decision Forests, which
# pins the full `tensorflow` and conflicts with tensorflow-cpu 2.21 ("tensorflow-decision-forests
# >=1.5.0 ... tensorflow-cpu==2.21.0 and tensorflowjs>=4.22.0 are incompatible"). No tf-keras
# exists for TensorFlow 2.12, so Keras 2.12 has no TF.js run.
TENSORFLOWJS = "tensorflowjs==4.22.0"
TFJS_ENVIRONMENTS = {
    "keras-3.15.1-tensorflow": "tf-keras==2.21.0",
    "keras-3.15.1-jax": "tf-keras==2.21.0",
    "keras-3.0.5-tensorflow": "tf-keras==2.16.0",
    "keras-2.15.0-tensorflow": "tf-keras==2.15.1",
    "tf_keras-2.21.0-tensorflow": "tf-keras==2.21.0",
}


@nox.session(python="3.11")
@nox.parametrize("env_id", [nox.param(i, id=i, tags=["tfjs", "audit"])
                            for i in TFJS_ENVIRONMENTS])
def tfjs(session: nox.Session, env_id: str) -> None:
    """The TF.js claim in one environment: converted by tensorflowjs, run by @tensorflow/tfjs
    under Node.js (tests/tfjs, `npm ci`). Writes reports/tfjs/<env-id>.json."""
    env = install_environment(session, env_id)
    session.install("--no-deps", TENSORFLOWJS, TFJS_ENVIRONMENTS[env_id])
    node = ROOT / "tests" / "tfjs"
    if not (node / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", str(node), external=True)
    run_audit(session, env, REPORTS / "tfjs", "-m", "tfjs", "--tfjs")


def audit_python(env_id: str) -> Path:
    """The Python of the venv that nox made for `audit(<env_id>)`."""
    return ROOT / ".nox" / ("audit-" + re.sub(r"[^\w]+", "-", env_id)) / "bin" / "python"


@nox.session(python=False)
def portability(session: nox.Session) -> None:
    """Regenerate fixtures/portability/: every environment of the matrix saves the same fixed
    model (.keras and .h5); every audit then loads every file (q1-portable-files)."""
    savers = [e for e, spec in ENVIRONMENTS.items() if "tests" not in spec]  # whole audits
    missing = [e for e in savers if not audit_python(e).exists()]
    if missing:
        session.error(f"no audit venv for {missing}: run `nox -t audit` first")
    for env_id in savers:
        session.run(str(audit_python(env_id)), str(ROOT / "fixtures" / "portability" / "make.py"),
                    env=environment_variables(env_id))


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The benchmark claims (measured numbers, never timed asserts), in the default env."""
    env = install_environment(session, DEFAULT_ENV)
    # A benchmark's verdict is a measured number on a noisy machine: it is reported (drift
    # included) beside the audit, and never fails the session.
    session.run("pytest", "--claims-reports", str(REPORTS / "bench"), "-m", "bench", "--bench",
                *(session.posargs or ["tests"]), env=env, success_codes=[0, 1])


# Each run varies what differs from one user's machine to another: Hypothesis' seed, the
# experiments' seeds (CLAIMS_EXPERIMENT_SEED, tests/experiments.py) and the math threads (one,
# or what the machine gives); a verdict that moves is named with the run's setting.
STABILITY_RUNS = ((1, 0, None), (2, 1000, 1), (3, 2000, None))


@nox.session(python="3.11")
def stability(session: nox.Session) -> None:
    """The default audit three times, each with another Hypothesis seed, other seeds for the
    experiments, one math thread or all: fails if a verdict differs. Writes
    reports/stability.json, which the report shows."""
    env = install_environment(session, DEFAULT_ENV)
    env["HYPOTHESIS_PROFILE"] = "dev"  # randomised: each seed explores other examples
    dirs, settings = [], []
    for seed, experiments, threads in STABILITY_RUNS:
        settings.append(f"hypothesis seed {seed}, experiment seed {experiments}, "
                        f"math threads {threads or 'all'}")
        dirs.append(REPORTS / "stability" / f"seed-{seed}")
        run_audit(session, {**env, "CLAIMS_EXPERIMENT_SEED": str(experiments),
                            **(ONE_THREAD if threads == 1 else {})},
                  dirs[-1], f"--hypothesis-seed={seed}", *AUDIT_WORKERS)
    session.run("python", "-m", "claims", "compare", *map(str, dirs), "--out",
                str(REPORTS / "stability.json"),
                "--seeds", *(str(seed) for seed, _, _ in STABILITY_RUNS), "--settings", *settings)


@nox.session(python="3.11")
def mutants(session: nox.Session) -> None:
    """The audit against deliberately broken Keras (claims/mutants.py): every fault must change
    a verdict or fail with drift. Prints fault x caught-by-claim and the score."""
    env = install_environment(session, DEFAULT_ENV)
    session.run("python", "-m", "claims", "mutants", "--run", str(REPORTS / "mutants"), env=env)


@nox.session(python="3.11")
def faultspeed(session: nox.Session) -> None:
    """The default audit timed clean and under each fault of claims/mutants.py, one after the
    other in one run, each as a ratio to the clean audit's time (a Keras that breaks claims
    should be audited about as fast as one that does not). Writes reports/faultspeed.json."""
    env = install_environment(session, DEFAULT_ENV)
    faults = session.run("python", "-m", "claims", "mutants", "--list", silent=True)
    import_s = float(session.run(
        "python", "-c", "import time; t = time.perf_counter(); import keras; "
        "print(time.perf_counter() - t)", env=env, silent=True).split()[-1])
    times = {}
    for name in ["clean", *(line.split()[0] for line in faults.strip().splitlines())]:
        started = time.perf_counter()
        # a fault fails the run it is caught in: only the time counts here
        session.run("pytest", "tests", "-q", "--claims-reports",
                    str(REPORTS / "faultspeed" / name), *AUDIT_WORKERS,
                    env={**env, "CLAIMS_MUTANT": "" if name == "clean" else name},
                    success_codes=[0, 1], silent=True)
        times[name] = round(time.perf_counter() - started, 1)
        session.log(f"{name}: {times[name]:.0f} s")
    path = REPORTS / "faultspeed.json"
    path.write_text(json.dumps({"cores": os.cpu_count(), "import_keras_s": round(import_s, 2),
                                "audit_s": times}, indent=1) + "\n")
    session.run("python", "-m", "claims", "mutants", "--speed", str(path))


@nox.session(python="3.11")
def envfaults(session: nox.Session) -> None:
    """Broken environments (no Graphviz, a missing backend, no writable temp folder) must give
    error or not-applicable, never refuted (claims/envfaults.py)."""
    env = install_environment(session, DEFAULT_ENV)
    listing = session.run("python", "-m", "claims", "envfaults", "--list", silent=True)
    for line in listing.strip().splitlines():
        fault = json.loads(line)
        broken = {k: v.replace("{venv}", session.bin) for k, v in fault["env"].items()}
        # the broken run fails its tests: that is expected, the verdicts are judged below
        session.run(str(Path(session.bin) / "python"), "-m", "pytest", *fault["args"], "-q",
                    "--claims-reports", str(REPORTS / "envfaults" / fault["name"]),
                    env={**env, **broken},
                    success_codes=[0, 1])
    session.run("python", "-m", "claims", "envfaults", str(REPORTS / "envfaults"))


def bisect_pins(env_id: str, version) -> list[str]:
    """What to install for Keras `version` beside the environment `env_id` of a gap.

    Keras 2 releases ship inside TensorFlow of the same minor version; a Keras 3 release gets
    the backend pins of a neighbouring environment, whichever the resolver accepts."""
    if version.major < 3:
        return [f"tensorflow-cpu=={version.major}.{version.minor}.*"]
    spec = ENVIRONMENTS[env_id]
    return [p for p in spec["pins"] if not p.startswith("keras==")] + [f"keras=={version}"]


# uv as a module of the Python running nox: `claims audit` runs nox from a venv whose bin/ is
# not on PATH.
UV = [sys.executable, "-m", "uv"]


def make_venv(python: Path, pins: list[str]) -> bool:
    """A venv at `python`'s prefix with `pins`, the audit's tools and the project; False if the
    pins do not resolve. A venv made before (by a bisection or a sweep) is reused."""
    marker = python.parent.parent / ".claims-installed"
    if marker.exists():
        return True
    subprocess.run([*UV, "venv", "-q", "--clear", "-p", "3.11", str(python.parent.parent)],
                   check=True)
    extra = torch_source() if any(p.startswith("torch") for p in pins) else []
    if subprocess.run([*UV, "pip", "install", "-q", "--python", str(python), *pins, *AUDIT_TOOLS,
                       *extra], capture_output=True,
                      env={**os.environ, "UV_COMPILE_BYTECODE": "1"}).returncode:
        return False
    subprocess.run([*UV, "pip", "install", "-q", "--python", str(python), "--no-deps", "-e",
                    str(ROOT)], check=True)
    marker.write_text(" ".join(pins))
    return True


def install_release(python: Path, version, gap) -> bool:
    """A venv with Keras `version` and its backend; False if no neighbour's pins resolve."""
    return any(make_venv(python, bisect_pins(env_id, version))
               for env_id in dict.fromkeys((gap.lower.id, gap.upper.id)))


def audit_release(claim_id: str, version, gap) -> str | None:
    """Audit one claim on one Keras release; None if it won't install or the run broke."""
    python = ROOT / ".nox" / "bisect" / f"keras-{version}-{gap.upper.backend}" / "bin" / "python"
    if not install_release(python, version, gap):
        return None
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([str(python), "-m", "pytest", "tests", "-q", "--claim", claim_id,
                        "--claims-reports", out, "-p", "no:cacheprovider"],
                       cwd=ROOT, capture_output=True,
                       env={**os.environ, **environment_variables(
                           f"keras-{version}-{gap.upper.backend}")})
        from claims import runfile

        runs = runfile.read_runs(Path(out))
    verdicts = [c["verdict"] for r in runs for c in r["claims"] if c["id"] == claim_id]
    return verdicts[0] if verdicts and verdicts[0] in ("holds", "refuted") else None


@nox.session(python=False)
def bisect(session: nox.Session) -> None:
    """`nox -s bisect -- <claim-id>...` or `-- --all`: the first Keras release where a claim's
    verdict changes between neighbouring environments of reports/; written to the catalog."""
    from claims import bisect as search
    from claims import runfile

    runs = runfile.read_runs(REPORTS)
    if not runs:
        session.error("no reports/*.json: run the matrix first (nox -t audit)")
    claims = search.changing_claims(runs) if "--all" in session.posargs else session.posargs
    if not claims:
        session.error("name a claim id, or --all")
    available = search.releases()
    for claim_id in claims:
        texts = []
        for gap in search.gaps(runs, claim_id):
            candidates = search.between(gap, available)
            change, notes = search.first_change(
                candidates, gap, lambda v, g=gap, c=claim_id: audit_release(c, v, g))
            texts.append(search.boundary_text(gap, change))
            session.log(f"{claim_id}: {texts[-1]} ({len(candidates)} releases between; "
                        + ("; ".join(notes) or "none skipped") + ")")
        if texts:
            search.record(claim_id, "; ".join(texts))


SWEEP = REPORTS / "sweep"


def sweep_jobs() -> int:
    """Releases audited at once: one per two cores and per 6 GiB of memory (an audit's two
    workers peak near 3 GiB each)."""
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return max(1, min((os.cpu_count() or 1) // 2, int(memory_gib // 6)))


def sweep_release(version, workers: int, again: bool) -> tuple[str, float | None, bool]:
    """Audit one release into reports/sweep/; (what happened, seconds or None where an earlier
    run file was kept, whether it is clean: installed, ran, no drift)."""
    from claims import catalog
    from claims import sweep as plan

    env_id = plan.env_id(version)
    out = SWEEP / f"{env_id}.json"
    if out.exists() and not again:
        run = plan.rejudge(json.loads(out.read_text()), catalog.load())
        out.write_text(json.dumps(run, indent=1) + "\n")
        return plan.describe(run), None, not plan.summary(run)["drift"]
    started = time.perf_counter()
    python = ROOT / ".nox" / "sweep" / env_id / "bin" / "python"
    if not make_venv(python, plan.pins(version)):
        return f"does not install ({' '.join(plan.pins(version))})", None, False
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [str(python), "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
         "--claims-reports", str(SWEEP), "-n", str(workers), "--dist", "loadfile"],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **environment_variables(env_id)})
    seconds = time.perf_counter() - started
    if not out.exists():
        tail = " ".join(proc.stdout.splitlines()[-3:])[-300:]
        return f"no run file (pytest exit {proc.returncode}): {tail}", seconds, False
    run = json.loads(out.read_text())
    return plan.describe(run), seconds, not plan.summary(run)["drift"]


@nox.session(python=False, tags=["sweep"])
def sweep(session: nox.Session) -> None:
    """`nox -s sweep`: the audit on every Keras release on TensorFlow (claims/sweep.py), into
    reports/sweep/<env-id>.json; fails where a release drifts from the catalog or does not
    install. `-- --release 3.4.1 ...` only those; `--jobs N` releases at once (default: by
    cores and memory); `--again` re-audits releases that already have a run file (without it
    the sweep resumes where it stopped). Venvs stay in .nox/sweep/ for the next sweep."""
    import argparse
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from packaging.version import Version

    from claims import bisect as search
    from claims import sweep as plan

    parser = argparse.ArgumentParser(prog="nox -s sweep --")
    parser.add_argument("--release", nargs="*", type=Version, default=[])
    parser.add_argument("--jobs", type=int, default=sweep_jobs())
    parser.add_argument("--again", action="store_true")
    args = parser.parse_args(session.posargs)
    releases = args.release or plan.sweep_releases(search.releases())
    SWEEP.mkdir(parents=True, exist_ok=True)
    workers = max(1, (os.cpu_count() or 1) // args.jobs)
    progress = plan.Progress(total=len(releases), jobs=args.jobs)
    session.log(f"sweep: {len(releases)} releases, {args.jobs} at a time, {workers} pytest "
                f"worker(s) each")
    failed = []
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(sweep_release, v, workers, args.again): v for v in releases}
        for future in as_completed(futures):
            env_id = plan.env_id(futures[future])
            outcome, seconds, clean = future.result()
            session.log(progress.line(env_id, outcome, seconds))
            if not clean:
                failed.append(env_id)
    if failed:
        session.error(f"sweep: {len(failed)} of {len(releases)} releases drift or did not run: "
                      f"{', '.join(sorted(failed))}")


@nox.session(python="3.11")
def latest(session: nox.Session) -> None:
    """The newest Keras release on TensorFlow (`-- --pre`: the newest pre-release) against
    the recorded verdicts: drift shows what a new release changed. Reports in reports/latest/."""
    pre = "--pre" in session.posargs
    session.install("--upgrade", "keras", "tensorflow-cpu", *AUDIT_TOOLS,
                    *(["--prerelease=allow"] if pre else []))
    session.install("--no-deps", "-e", str(ROOT))
    tests = [a for a in session.posargs if a != "--pre"] or ["tests"]
    session.run("pytest", *tests, "--claims-reports", str(REPORTS / "latest"),
                env=environment_variables("keras-latest-tensorflow"))


@nox.session(python="3.11")
def report(session: nox.Session) -> None:
    """Merge reports/*.json (and bench, timing, stability, the sweep where present) into
    reports/audit.md, audit.html, audit.json and the annotated seed.md, seed.html; the same in
    Vietnamese in reports/vi/."""
    session.install("-e", str(ROOT))
    from claims import runfile

    args = [str(p) for p in runfile.run_paths(REPORTS)]
    for extra in SUPPLEMENTS:
        runs = [str(p) for p in runfile.run_paths(REPORTS / extra)]
        if runs:
            args += [f"--{extra}", *runs]
    for name in ("timing", "stability", "proof"):
        if (REPORTS / f"{name}.json").exists():
            args += [f"--{name}", str(REPORTS / f"{name}.json")]
    sweep = [str(p) for p in runfile.run_paths(REPORTS / "sweep")]
    if sweep:
        args += ["--sweep", *sweep]
    session.run("python", "-m", "claims", "report", *args, *session.posargs)
    session.run("python", "-m", "claims", "report", *args, "--lang", "vi", "--out",
                str(REPORTS / "vi"), *session.posargs)


@nox.session(python="3.11")
def selftest(session: nox.Session) -> None:
    """The engine's own tests (no Keras needed), with coverage of claims/."""
    session.install("-e", f"{ROOT}[selftest]")
    session.run("ruff", "check", str(ROOT))
    session.run("coverage", "run", "-m", "pytest", "selftests", *session.posargs,
                env={"PYTHONDONTWRITEBYTECODE": ""})
    session.run("coverage", "report", "--fail-under=90")
