"""What a verdict may depend on beyond the Keras release, the backend and the Python version:
facts of the machine and of the process that ran the tests, recorded in every run file.

Each fact is one short string, so that a catalog rule can name it (`onednn = "off"`,
`cpu_flag = "avx512f"`) and the report can show it. Reading them imports TensorFlow where it
is installed (its oneDNN state is what TensorFlow reports, not the variable alone) and nothing
else heavy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
from pathlib import Path

# The facts a catalog rule may name, with what each means; `cpu_flag` matches one flag of
# `cpu_flags`.
FACTS = {
    "onednn": "whether TensorFlow runs its oneDNN kernels, as TensorFlow reports it "
              "(on, off; absent: no TensorFlow)",
    "cpu_vendor": "the CPU's vendor (GenuineIntel, AuthenticAMD, ...)",
    "cpu_model": "the CPU's model name",
    "cpu_flags": "the instruction-set extensions TensorFlow and XLA use that the CPU has",
    "cpus": "the cores this process may run on",
    "threads": "the math threads of the backend's ops (TensorFlow's intra-op pool, PyTorch's "
               "threads, else OMP_NUM_THREADS or the cores)",
    "blas": "the BLAS NumPy is built with, and its version",
}
RULE_FACTS = ("onednn", "cpu_vendor", "cpu_model", "cpu_flag", "cpus", "threads", "blas")

# One math thread, in variables read before NumPy, TensorFlow, PyTorch or JAX start their
# thread pools: the setting the stability session audits beside the machine's default.
ONE_THREAD = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}

# The extensions TensorFlow's CPU feature guard and XLA's CPU compiler test for.
ISA_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16", "neon", "asimd")


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo; {} where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu() -> dict[str, str]:
    info = _cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return {
        "cpu_vendor": info.get("vendor_id") or info.get("CPU implementer") or platform.machine(),
        "cpu_model": info.get("model name") or platform.processor() or platform.machine(),
        "cpu_flags": " ".join(f for f in ISA_FLAGS if f in flags) or "none known",
    }


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def onednn() -> str:
    """TensorFlow's own answer; importing it here costs nothing where the tests already did."""
    if importlib.util.find_spec("tensorflow") is None:
        return "absent"
    from tensorflow.python.util import _pywrap_util_port

    return "on" if _pywrap_util_port.IsMklEnabled() else "off"


def threads() -> str:
    """The math threads of whichever backend the process loaded, by the backend's own count."""
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        # 0: not set by the program, then TensorFlow reads its variable, else uses every core
        intra = (tf.config.threading.get_intra_op_parallelism_threads()
                 or int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0))
        return str(intra or cpus())
    if "torch" in sys.modules:
        return str(sys.modules["torch"].get_num_threads())
    return os.environ.get("OMP_NUM_THREADS") or str(cpus())


def blas() -> str:
    if importlib.util.find_spec("numpy") is None:
        return "absent"
    import numpy as np

    try:
        found = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{found['name']} {found.get('version', '')}".strip()
    except (TypeError, KeyError):  # NumPy before 1.26 prints its configuration only
        return "unknown (NumPy < 1.26)"


def facts() -> dict[str, str]:
    """Every fact of FACTS, as strings. `CLAIMS_MACHINE` (a JSON object) replaces them: the
    engine's self-tests audit fake machines, as `CLAIMS_ENV_ID` fakes environments."""
    if os.environ.get("CLAIMS_MACHINE"):
        return json.loads(os.environ["CLAIMS_MACHINE"])
    return {"onednn": onednn(), **cpu(), "cpus": str(cpus()), "threads": threads(),
            "blas": blas()}


def matches(name: str, wanted: str, known: dict[str, str]) -> bool:
    """Whether a rule's condition `name = wanted` holds for the facts `known`; a fact not
    recorded matches nothing."""
    if name == "cpu_flag":
        return wanted in known.get("cpu_flags", "").split()
    return name in known and known[name] == wanted
