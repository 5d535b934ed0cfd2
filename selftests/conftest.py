"""Fixtures for the engine's self-tests: fake catalogs, fake environments, fake runs."""

from __future__ import annotations

import json
import os
import textwrap
import tomllib
from pathlib import Path

import pytest

from claims import catalog, seedmap

pytest_plugins = ["pytester"]

MINI_CATALOG = {
    "H.toml": """
        [[claim]]
        id = "q19-holds"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim that holds."
        expected = [{ verdict = "holds" }]

        [[claim]]
        id = "q19-refuted"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim refuted from Keras 3."
        correction = "What is true instead."
        correction_vi = "Điều đúng là."
        expected = [{ verdict = "refuted", keras = ">=3" }, { verdict = "holds" }]

        [[claim]]
        id = "q19-na"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim not applicable on numpy."
        expected = [{ verdict = "not-applicable", backend = "numpy" }, { verdict = "holds" }]

        [[claim]]
        id = "q19-open"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim with no recorded verdict."

        [[claim]]
        id = "q19-onednn"
        questions = [19]
        section = "H"
        quote = "q"
        statement = "A claim refuted where TensorFlow runs oneDNN."
        correction = "It holds with oneDNN off."
        expected = [{ verdict = "refuted", onednn = "on" }, { verdict = "holds" }]
    """,
    "K.toml": """
        [[claim]]
        id = "q24-untestable"
        questions = [24]
        section = "K"
        quote = "q"
        statement = "A claim no code here can check."
        untestable = "needs R"
    """,
}


FAKE_MACHINE = {"onednn": "off", "cpu_vendor": "AuthenticAMD", "cpu_model": "AMD EPYC",
                "cpu_flags": "sse4_2 avx avx2 fma", "cpus": "2", "threads": "2",
                "blas": "openblas 0.3"}


def write_catalog(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture
def mini_catalog(tmp_path) -> Path:
    return write_catalog(tmp_path / "catalog", MINI_CATALOG)


@pytest.fixture
def audit(pytester, mini_catalog, monkeypatch):
    """Run a claim test file under the plugin in a fake environment; returns (result, json)."""

    def run(source: str, env_id: str = "keras-3.1.0-tensorflow", *args: str):
        monkeypatch.setenv("CLAIMS_CATALOG", str(mini_catalog))
        monkeypatch.setenv("CLAIMS_ENV_ID", env_id)
        if "CLAIMS_MACHINE" not in os.environ:  # a fake machine, the same on every machine
            monkeypatch.setenv("CLAIMS_MACHINE", json.dumps(FAKE_MACHINE))
        monkeypatch.delenv("CLAIMS_REPORTS", raising=False)
        pytester.makepyfile(test_claims=textwrap.dedent(source))
        reports = pytester.path / "reports"
        result = pytester.runpytest_inprocess(
            "-p", "claims.plugin", "--claims-reports", str(reports), "-p", "no:cacheprovider",
            *args,
        )
        path = reports / f"{env_id}.json"
        data = json.loads(path.read_text()) if path.exists() else None
        return result, data

    return run


def verdicts(data: dict) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in data["claims"]}


def make_run(env_id: str, verdicts: dict[str, str], drift=()) -> dict:
    """A per-run JSON document as the plugin writes it."""
    package, keras, backend = env_id.rsplit("-", 2)
    return {
        "schema": 1,
        "environment": {"id": env_id, "keras": keras, "backend": backend, "python": "3.11.7",
                        "packages": {}},
        "claims": [
            {"id": cid, "questions": [int(cid[1:].split("-")[0])], "section": "H",
             "statement": f"{cid}.", "quote": "q",
             "verdict": v, "expected": v, "drift": cid in drift,
             "evidence": f"evidence of {cid} in {env_id}", "correction": "fix",
             "tests": []}
            for cid, v in verdicts.items()
        ],
    }


@pytest.fixture
def run_files(tmp_path):
    """Write per-run documents to files; returns their paths."""

    def write(*runs: dict) -> list[Path]:
        paths = []
        for run in runs:
            path = tmp_path / "in" / f"{run['environment']['id']}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(run))
            paths.append(path)
        return paths

    return write


# A catalog whose every claim has its Vietnamese texts: one claim refuted from Keras 3 with a
# correction of two sentences and a bisected boundary, one that drifted, two that errored (one
# of them everywhere), one untestable.
BILINGUAL_CATALOG = {
    "H.toml": """
        [[claim]]
        id = "q19-valid"
        questions = [19]
        section = "H"
        quote = "Valid: Không có padding"
        statement = "Valid padding shrinks every output."
        statement_vi = "Padding 'valid' luôn làm đầu ra nhỏ đi."
        correction = "Only a kernel wider than the stride shrinks it. 1x1 kernels keep the size."
        correction_vi = "Chỉ kernel lớn hơn bước trượt làm nhỏ đầu ra. Kernel 1x1 giữ nguyên cỡ."
        boundary = "refuted from Keras 3.0.0 (tensorflow; holds in 2.15.0)"
        expected = [{ verdict = "refuted", keras = ">=3" }, { verdict = "holds" }]

        [[claim]]
        id = "q19-same"
        questions = [19]
        section = "H"
        quote = "Same: đầu ra cùng kích thước"
        statement = "Same padding keeps the size at stride 1."
        statement_vi = "Padding 'same' giữ nguyên kích thước khi bước trượt bằng 1."
        expected = [{ verdict = "holds" }]
    """,
    "K.toml": """
        [[claim]]
        id = "q23-plot"
        questions = [23]
        section = "K"
        quote = "plot_model lưu một file hình ảnh"
        statement = "plot_model saves a PNG file."
        statement_vi = "plot_model lưu mô hình thành một tệp PNG."
        expected = [{ verdict = "holds" }]

        [[claim]]
        id = "q23-dot"
        questions = [23]
        section = "K"
        quote = "model_to_dot thì không"
        statement = "model_to_dot saves no file."
        statement_vi = "model_to_dot không lưu tệp nào."
        expected = [{ verdict = "holds" }]

        [[claim]]
        id = "q24-r"
        questions = [24]
        section = "K"
        quote = "There are Keras interfaces for other programming languages - namely R"
        statement = "Keras has an interface for R."
        statement_vi = "Keras có giao diện cho ngôn ngữ R."
        untestable = "Needs an R installation; this audit runs Python only."
        untestable_vi = "Cần cài R; bài kiểm chứng này chỉ chạy Python."
    """,
}
NO_DOT = "FileNotFoundError: dot"  # the error cells' evidence


def bilingual(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """BILINGUAL_CATALOG, made the catalog that reports load, and its runs on Keras 2.15 and
    3.15.1, written under `folder`; returns the run files. Each run states the claims as the
    plugin does, in English."""
    known = {}
    for text in BILINGUAL_CATALOG.values():
        known.update({c["id"]: c for c in tomllib.loads(textwrap.dedent(text))["claim"]})
    newest = {"q19-valid": "refuted", "q19-same": "holds", "q23-plot": "error",
              "q23-dot": "error", "q24-r": "untestable"}
    runs = [make_run("keras-2.15.0-tensorflow", {**newest, "q19-valid": "holds",
                                                 "q23-dot": "holds"}),
            make_run("keras-3.15.1-tensorflow", newest, drift={"q19-same"})]
    paths = []
    for run in runs:
        for c in run["claims"]:
            entry = known[c["id"]]
            c.update(statement=entry["statement"], quote=entry["quote"],
                     correction=entry.get("correction"),
                     evidence=entry.get("untestable") or (
                         NO_DOT if c["verdict"] == "error" else "ValueError: (1, 2) != (1, 1)"))
        paths.append(folder / "runs" / f"{run['environment']['id']}.json")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        paths[-1].write_text(json.dumps(run), encoding="utf-8")
    written, real = write_catalog(folder / "catalog", BILINGUAL_CATALOG), catalog.load
    monkeypatch.setattr(catalog, "load", lambda: real(written))
    return paths


@pytest.fixture
def bilingual_runs(tmp_path, monkeypatch) -> list[Path]:
    return bilingual(tmp_path, monkeypatch)


# A seed for BILINGUAL_CATALOG: each of its claims quoted (two in one sentence), with headings,
# an opinion and a link (context) that the map names, a code example, a sentence the map ties
# to a claim no run checked, and one that nothing reaches.
BILINGUAL_SEED = textwrap.dedent("""\
    # TRẢ LỜI CÂU HỎI

    ## H. Tiền xử lý dữ liệu

    ### Câu 19:

    Valid: Không có padding, ảnh đầu ra nhỏ hơn ảnh đầu vào. Same: đầu ra cùng kích thước.
    Reflect: lặp lại các điểm ảnh ở biên. Keras là thư viện dễ dùng nhất. Xem thêm [ở đây](#).

    ## K. Các câu hỏi khác

    ### 23. Keras có hỗ trợ visualize model hay không?

    Có: plot_model lưu một file hình ảnh, còn model_to_dot thì không.

    ```
    plot_model(model, to_file='model.png')
    ```

    ### 24. Can Keras integrate with other programming languages?

    There are Keras interfaces for other programming languages - namely R.

    Keras chạy trên <b>Python 3</b>.
    """)
BILINGUAL_SEED_MAP = [
    seedmap.MapEntry("opinion", "a judgement no run can settle", (),
                     text="Keras là thư viện dễ dùng nhất.",
                     reason_vi="một nhận xét không lần chạy nào phân định được"),
    seedmap.MapEntry("context", "a link to further reading", (), text="Xem thêm [ở đây](#).",
                     reason_vi="một liên kết để đọc thêm"),
    seedmap.MapEntry("claim", "", ("q19-reflect",), text="Reflect: lặp lại các điểm ảnh ở biên."),
]


def bilingual_seed() -> seedmap.Coverage:
    """BILINGUAL_SEED's coverage by the catalog that reports load, after `bilingual`."""
    return seedmap.coverage(seedmap.sentences(BILINGUAL_SEED), catalog.load(),
                            BILINGUAL_SEED_MAP)


@pytest.fixture
def bilingual_seed_coverage(bilingual_runs) -> seedmap.Coverage:
    return bilingual_seed()
