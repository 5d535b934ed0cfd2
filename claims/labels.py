"""What the renderings say, in English and Vietnamese: the labels, and the few texts that the
Markdown and the HTML build the same way from the model. Text only: no data is looked up here.
"""

from __future__ import annotations

import re
import unicodedata

LABELS = {
    "en": {
        "title": "Keras claims audit", "counts": "Verdicts per environment",
        "depends": "Claims whose verdict depends on version or backend", "drift": "Drift",
        "no_drift": "No drift: every verdict is the one recorded in the catalog.",
        "correction_drift": "the recorded correction no longer holds",
        "claims": "Every claim", "claim": "claim", "quote": "Quote", "statement": "Claim",
        "evidence": "Evidence", "correction": "What is true instead", "verdicts": "Verdicts",
        "recorded": "recorded", "observed": "observed", "filter": "Show verdict",
        "all": "all", "environment": "environment", "up_to": "up to", "from": "from",
        "holds": "holds", "refuted": "refuted", "not-applicable": "not applicable",
        "untestable": "untestable", "error": "error", "none_depends": "None.",
        "timing": "Audit time and memory", "slowest": "slowest tests",
        "environments": "Environments: versions and the machine facts a verdict may depend on",
        "python": "Python", "libraries": "libraries", "onednn": "oneDNN (as TensorFlow reports)",
        "cpu": "CPU", "threads": "cores / math threads", "blas": "NumPy's BLAS",
        "decided_by": "recorded for",
        "proof": "Could have come out otherwise",
        "proof_share": "claims that hold or are refuted in {} changed under a planted fault of "
                       "claims/faults (a Keras broken so that the claim would be false, or "
                       "made to behave as the seed says)",
        "no_fault": "no planted fault has changed it yet",
        "by_file": "test s per file (summed over workers)",
        "stability": "Stability", "stable": "every verdict equal across runs",
        "unstable": "VERDICTS DIFFER across runs",
        "scorecard": "Scorecard: how each answer holds up", "question": "question",
        "everywhere": "everywhere", "measured": "The seed's numbers against measured ones",
        "q": "Q", "q_ref": "Q{}", "n_claims": "claims", "drift_mark": "DRIFT", "in": "in",
        "wall_s": "wall s", "tests": "tests", "peak_rss": "peak RSS MB", "seeds": "seeds",
        "differences": "differences", "bisected": "bisected", "unchecked": "not checked here",
        "open_hint": "Click a question to see its claims, their verdict in each environment "
                     "and what is true instead.",
        "seed_title": "The seminar's answers, sentence by sentence",
        "seed_hint": "The answers in their order. With each sentence a claim quotes: the "
                     "claim's verdict in each environment, what is true instead where it is "
                     "refuted, and a link to its evidence in audit.html. The other sentences "
                     "are marked as opinion, context or not yet audited.",
        "opinion": "opinion", "context": "context", "uncovered": "not yet audited",
        "n_envs": "{} environments",
        "form_heading": "a heading", "form_code": "a code example",
        "form_question": "the question asked",
        "timeline": "Verdict by release",
        "timeline_hint": "Every Keras release the sweep audited on {}, oldest first; "
                         "a row for each claim whose verdict is not the same in every release.",
        "timeline_same": "Every claim has the same verdict in every release audited.",
        "timeline_drift": "Releases where a verdict is not the one recorded",
        "not_run": "not checked",
    },
    "vi": {
        "title": "Kiểm chứng các nhận định về Keras", "counts": "Kết luận theo môi trường",
        "depends": "Nhận định có kết luận phụ thuộc phiên bản hoặc backend",
        "drift": "Sai lệch so với kết luận đã ghi",
        "no_drift": "Không có sai lệch: mọi kết luận đúng như đã ghi trong danh mục.",
        "correction_drift": "điều đúng đã ghi không còn đúng nữa",
        "claims": "Tất cả nhận định", "claim": "nhận định", "quote": "Trích dẫn",
        "statement": "Nhận định", "evidence": "Bằng chứng", "correction": "Điều đúng là",
        "verdicts": "Kết luận", "recorded": "đã ghi", "observed": "quan sát",
        "filter": "Lọc theo kết luận", "all": "tất cả", "environment": "môi trường",
        "up_to": "đến", "from": "từ", "holds": "đúng", "refuted": "sai",
        "not-applicable": "không áp dụng", "untestable": "không kiểm chứng được",
        "error": "lỗi môi trường", "none_depends": "Không có.",
        "timing": "Thời gian và bộ nhớ", "slowest": "test chậm nhất",
        "environments": "Các môi trường: phiên bản và các đặc điểm của máy mà kết luận có thể "
                        "phụ thuộc vào",
        "python": "Python", "libraries": "thư viện", "onednn": "oneDNN (theo TensorFlow báo)",
        "cpu": "CPU", "threads": "số nhân / số luồng tính toán", "blas": "BLAS của NumPy",
        "decided_by": "kết luận ghi nhận cho máy có",
        "proof": "Kết luận có thể đã khác",
        "proof_share": "nhận định đúng hoặc bị bác bỏ ở {} đã đổi kết luận dưới một lỗi cài sẵn "
                       "của claims/faults (một Keras bị làm hỏng để nhận định thành sai, "
                       "hoặc bị làm cho chạy như bài trả lời nói)",
        "no_fault": "chưa có lỗi cài sẵn nào làm thay đổi kết luận này",
        "by_file": "giây test theo tệp (cộng mọi worker)",
        "stability": "Độ ổn định", "stable": "mọi kết luận như nhau giữa các lần chạy",
        "unstable": "KẾT LUẬN KHÁC NHAU giữa các lần chạy",
        "scorecard": "Bảng điểm: mỗi câu trả lời đúng đến đâu", "question": "câu hỏi",
        "everywhere": "mọi môi trường", "measured": "Số liệu của bài trả lời so với số đo",
        "q": "Câu", "q_ref": "câu {}", "n_claims": "số nhận định", "drift_mark": "LỆCH",
        "in": "ở", "wall_s": "thời gian chạy (s)", "tests": "số test",
        "peak_rss": "RAM tối đa (MB)", "seeds": "seed ngẫu nhiên", "differences": "khác biệt",
        "bisected": "tìm kiếm nhị phân", "unchecked": "nhận định chưa kiểm chứng được ở đây",
        "open_hint": "Bấm vào một câu hỏi để xem các nhận định của câu đó, kết luận ở từng "
                     "môi trường và điều đúng là gì.",
        "seed_title": "Bài trả lời seminar, từng câu một",
        "seed_hint": "Các câu trả lời theo đúng thứ tự. Kèm mỗi câu có nhận định trích dẫn: "
                     "kết luận của nhận định ở từng môi trường, điều đúng là gì nếu nhận định "
                     "sai, và liên kết tới bằng chứng trong audit.html. Các câu còn lại được "
                     "đánh dấu là ý kiến, ngữ cảnh hoặc chưa kiểm chứng.",
        "opinion": "ý kiến", "context": "ngữ cảnh", "uncovered": "chưa kiểm chứng",
        "n_envs": "{} môi trường",
        "form_heading": "tiêu đề", "form_code": "đoạn mã ví dụ",
        "form_question": "câu hỏi được đặt ra",
        "timeline": "Kết luận theo từng bản phát hành",
        "timeline_hint": "Mọi bản phát hành Keras đã được kiểm chứng trên {}, từ cũ "
                         "đến mới; mỗi nhận định có kết luận không giống nhau ở mọi bản là "
                         "một hàng.",
        "timeline_same": "Mọi nhận định có cùng kết luận ở mọi bản phát hành đã kiểm chứng.",
        "timeline_drift": "Các bản có kết luận khác với kết luận đã ghi",
        "not_run": "chưa kiểm chứng",
    },
}


def short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sentence(text: str) -> tuple[str, str]:
    """The text's first sentence and the rest ("" where it is one sentence): a sentence ends at
    `.`, `?` or `!` before a space and a character that is not lowercase (`e.g. x` goes on)."""
    for end in re.finditer(r"[.?!]\s+(\S)", text):
        if not end.group(1).islower():
            return text[: end.start() + 1], text[end.start(1):]
    return text, ""


def language(text: str) -> str:
    """The language a seed question is asked in: Vietnamese where a letter has a tone mark or
    is one of ă â đ ê ô ơ ư, English otherwise."""
    return "vi" if re.search("[\u0300-\u036fđĐ]", unicodedata.normalize("NFD", text)) else "en"


def fraction(tally: dict | None) -> str:
    """A scorecard cell: how many of the claims checked there hold; `-` where none ran."""
    return "-" if tally is None else f"{tally['holds']}/{tally['of']}"


def _localised(claim: dict, key: str, lang: str) -> str | None:
    """The claim's text `key` in `lang`: in Vietnamese where the catalog has it (`key`_vi),
    in English otherwise."""
    return (claim[f"{key}_vi"] or claim[key]) if lang == "vi" else claim[key]


def statement(claim: dict, lang: str) -> str:
    return _localised(claim, "statement", lang)


def correction(claim: dict, lang: str) -> str | None:
    """What is true instead."""
    return _localised(claim, "correction", lang)


def evidence(claim: dict, v: dict, lang: str) -> str:
    """A cell's evidence. An untestable claim's is the catalog's reason, which the catalog also
    has in Vietnamese; every other evidence is what the run wrote, with the machine facts that
    decided the recorded verdict where a rule names some."""
    if lang == "vi" and v["verdict"] == "untestable" and claim["untestable_vi"]:
        return claim["untestable_vi"]
    decided = v.get("decided_by")
    return v["evidence"] + (f" ({LABELS[lang]['decided_by']} {decided})" if decided else "")


# The libraries that run a backend's ops, in the environment table.
BACKEND_LIBRARIES = ("tensorflow", "tensorflow-cpu", "tf-keras", "jax", "torch", "openvino",
                     "numpy")


def environment_headers(t: dict) -> list[str]:
    return [t["environment"], t["python"], t["libraries"], t["onednn"], t["cpu"],
            t["threads"], t["blas"]]


def environment_rows(environments: list[dict]) -> list[list[str]]:
    """Per environment: its versions and the machine facts its run recorded ("-": a run
    written before they were)."""
    rows = []
    for e in environments:
        m = e.get("machine", {})
        libraries = ", ".join(f"{name} {e['packages'][name]}" for name in BACKEND_LIBRARIES
                              if name in e["packages"])
        cpu = (f"{m['cpu_vendor']} {m['cpu_model']} ({m['cpu_flags']})" if m else "-")
        rows.append([e["id"], e["python"], libraries, m.get("onednn", "-"), cpu,
                     f"{m['cpus']} / {m['threads']}" if m else "-", m.get("blas", "-")])
    return rows


def questions(claim: dict, t: dict) -> str:
    """The seed questions a claim answers: `Q19, Q20`."""
    return ", ".join(t["q_ref"].format(n) for n in claim["questions"])


def drift(d: dict, t: dict) -> str:
    """What drifted in one cell: the recorded verdict against the observed one, or the
    recorded correction that stopped holding."""
    if d["correction_drift"]:
        return f"{t['correction_drift']}: {d['correction_drift']}"
    return f"{t['recorded']} {t[d['expected']]}, {t['observed']} {t[d['verdict']]}"


def cell(v: dict | None, t: dict) -> str:
    """One verdict cell of the claim matrix."""
    if v is None:
        return "-"
    return t[v["verdict"]] + (f" ({t['drift_mark']})" if v["drift"] else "")


def verdict_groups(claim: dict, envs: list[str]) -> list[tuple[dict, list[str]]]:
    """A claim's verdicts at a glance: one per distinct matrix cell (verdict and drift), each
    with the environments it covers, in the order of `envs` (the newest Keras first)."""
    groups: dict[tuple, tuple[dict, list[str]]] = {}
    for env_id in envs:
        v = claim["verdicts"].get(env_id)
        if v:
            groups.setdefault((v["verdict"], v["drift"]), (v, []))[1].append(env_id)
    return list(groups.values())


LISTED = 3  # the environments seed.html names beside a verdict; more show on hover


def covered(group: list[str], envs: list[str], t: dict, limit: int | None = None) -> str:
    """The environments a verdict covers: `everywhere` where that is all of the report's, else
    their list, or their number where they are more than `limit`."""
    if len(group) == len(envs):
        return t["everywhere"]
    if limit is not None and len(group) > limit:
        return t["n_envs"].format(len(group))
    return ", ".join(group)


def badges(claim: dict, envs: list[str], t: dict) -> str:
    """A claim's verdicts in one line, as seed.md gives them under the sentence it quotes:
    `refuted: keras-3.15.1-tensorflow | holds: keras-2.15.0-tensorflow`."""
    return " | ".join(f"{cell(v, t)}: {covered(group, envs, t)}"
                      for v, group in verdict_groups(claim, envs))


def refuted_correction(claim: dict, lang: str) -> str | None:
    """What is true instead, where the claim is refuted in some environment."""
    refuted = any(v["verdict"] == "refuted" for v in claim["verdicts"].values())
    return correction(claim, lang) if refuted else None


SHOWN = 3  # the corrections a scorecard row shows before "(+n)"


def unchecked(row: dict, t: dict) -> str:
    """How many of a scorecard row's claims errored somewhere: not checked there."""
    return f"{len({u['claim'] for u in row['unchecked']})} {t['unchecked']}"


def instead(row: dict, claims: dict[str, dict], lang: str) -> str:
    """A scorecard row's last column, short, for the Markdown: the first sentence of the first
    three refuted claims' corrections (the claim id where there is none), how many more are
    refuted, then how many claims were not checked and the first reason."""
    t = LABELS[lang]
    failing = row["failing"]
    texts = [short(sentence(correction(claims[cid], lang) or cid)[0].rstrip("."))
             for cid in failing[:SHOWN]]
    texts += [f"(+{len(failing) - SHOWN})"] if len(failing) > SHOWN else []
    if row["unchecked"]:
        texts.append(f"{unchecked(row, t)} ({short(row['unchecked'][0]['reason'], 60)})")
    return "; ".join(texts)


def _series(series: dict, t: dict) -> str:
    """One (package, backend) series: `tensorflow: holds up to Keras 2.15.0; refuted from 3.0.5`."""
    runs = series["runs"]
    if series["package"] == "keras":
        name, label = "Keras", series["backend"]
    else:
        name = label = series["package"]
    if len(runs) == 1:
        low, high = runs[0]["from"], runs[0]["to"]
        span = low if low == high else f"{low}-{high}"
        return f"{label}: {t[runs[0]['verdict']]} ({name} {span})"
    pieces = [f"{t[runs[0]['verdict']]} {t['up_to']} {name} {runs[0]['to']}"]
    pieces += [f"{t[r['verdict']]} {t['from']} {r['from']}" for r in runs[1:]]
    return f"{label}: " + "; ".join(pieces)


def depends_text(claim: dict, lang: str) -> str:
    """Where the claim's verdict changes, per series; the exact release where bisection found
    the change, when it has run."""
    t = LABELS[lang]
    text = " | ".join(_series(s, t) for s in claim["depends"])
    if claim["boundary"]:
        text += f" [{t['bisected']}: {boundary(claim['boundary'], t)}]"
    return text


# `refuted from Keras 3.0.0 (tensorflow; holds in 2.15.0)`: how `nox -s bisect` writes a boundary
BOUNDARY = re.compile(r"(holds|refuted) from Keras (\S+) \((\w+); (holds|refuted) in ([^)]+)\)")


def boundary(text: str, t: dict) -> str:
    """A bisected boundary in the labels' language; a text of another shape stays as it is."""
    return BOUNDARY.sub(lambda m: f"{t[m[1]]} {t['from']} Keras {m[2]} "
                                  f"({m[3]}; {t[m[4]]} {t['in']} {m[5]})", text)


def timing_rows(timing: dict) -> list[list[str]]:
    """Per environment: wall time, tests, peak memory, test time per section file and the three
    slowest tests (the test's name only)."""
    rows = []
    for env_id, m in sorted(timing.items()):
        slow = ", ".join(f"{n.split('::')[-1]} {d}s" for n, d in m["slowest"][:3])
        files = ", ".join(f"{re.sub(r'^test_|[.]py$', '', name)} {sec}"
                          for name, sec in m["files_s"].items())
        rows.append([env_id, str(m["wall_s"]), str(m["tests"]), str(m["peak_rss_mb"]), files,
                     slow])
    return rows


def timing_headers(t: dict) -> list[str]:
    return [t["environment"], t["wall_s"], t["tests"], t["peak_rss"], t["by_file"], t["slowest"]]


def release_ranges(row: dict, t: dict) -> str:
    """A timeline row as text: `holds 3.0.0 up to 3.7.0; refuted 3.8.0 up to 3.15.1` (a claim's
    verdicts, translated) or `vulnerable 3.0.0 up to 3.12.2; safe 3.12.3 up to 3.15.1` (a table
    row's cells, as measured)."""
    return "; ".join(
        f"{(t[r['shown']] if r['shown'] in t else r['shown']) or t['not_run']} {r['first']}"
        + (f" {t['up_to']} {r['last']}" if r["last"] != r["first"] else "")
        for r in row["ranges"])


def proof_share(proof: dict, t: dict) -> str:
    """The share of decided claims some planted fault changed, in one sentence."""
    return f"{proof['proven']} / {proof['of']} " + t["proof_share"].format(proof["environment"])


def claim_proof(claim_id: str, proof: dict, t: dict) -> str:
    """The planted faults that changed a claim's audit, or that none has yet."""
    faults = proof["claims"].get(claim_id)
    return ", ".join(faults) if faults else t["no_fault"]


def stability(st: dict, t: dict) -> str:
    """The stability session's outcome in one sentence (after the bold label)."""
    verdict = t["stable"] if st["stable"] else t["unstable"]
    varied = "; ".join(st["settings"].values()) if st.get("settings") else (
        f"{t['seeds']} {st['seeds']}")
    return (f"{verdict} ({st['environment']}, {varied}; "
            f"{len(st['differences'])} {t['differences']})")
