"""What the renderings say, in English and Vietnamese: the labels, and the few texts that the
Markdown and the HTML build the same way from the model. Text only: no data is looked up here.
"""

from __future__ import annotations

import re

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
        "by_file": "test s per file (summed over workers)",
        "stability": "Stability", "stable": "every verdict equal across runs",
        "unstable": "VERDICTS DIFFER across runs",
        "scorecard": "Scorecard: how each answer holds up", "question": "question",
        "everywhere": "everywhere", "measured": "The seed's numbers against measured ones",
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
        "by_file": "giây test theo tệp (cộng mọi worker)",
        "stability": "Độ ổn định", "stable": "mọi kết luận như nhau giữa các lần chạy",
        "unstable": "KẾT LUẬN KHÁC NHAU giữa các lần chạy",
        "scorecard": "Bảng điểm: mỗi câu trả lời đúng đến đâu", "question": "câu hỏi",
        "everywhere": "mọi môi trường", "measured": "Số liệu của bài trả lời so với số đo",
    },
}


def short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fraction(n: int | None, of: int) -> str:
    return "-" if n is None else f"{n}/{of}"


def correction(claim: dict, lang: str) -> str | None:
    """What is true instead, in `lang` where the catalog has it in that language."""
    return (claim["correction_vi"] or claim["correction"]) if lang == "vi" else claim["correction"]


def drift(d: dict, t: dict) -> str:
    """What drifted in one cell: the recorded verdict against the observed one, or the
    recorded correction that stopped holding."""
    if d["correction_drift"]:
        return f"{t['correction_drift']}: {d['correction_drift']}"
    return f"{t['recorded']} {d['expected']}, {t['observed']} {d['verdict']}"


def cell(v: dict | None) -> str:
    """One verdict cell of the claim matrix."""
    if v is None:
        return "-"
    return v["verdict"] + (" (DRIFT)" if v["drift"] else "")


def instead(row: dict, claims: dict[str, dict], lang: str) -> str:
    """A scorecard row's last column: the first sentence of the first three failing claims'
    corrections (the claim id where there is none), then how many more fail."""
    failing = row["failing"]
    texts = [short((correction(claims[cid], lang) or cid).split(". ")[0].rstrip("."))
             for cid in failing[:3]]
    return "; ".join(texts + ([f"(+{len(failing) - 3})"] if len(failing) > 3 else []))


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
    text = " | ".join(_series(s, LABELS[lang]) for s in claim["depends"])
    return text + (f" [bisected: {claim['boundary']}]" if claim["boundary"] else "")


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
    return [t["environment"], "wall s", "tests", "peak RSS MB", t["by_file"], t["slowest"]]


def stability(st: dict, t: dict) -> str:
    """The stability session's outcome in one sentence (after the bold label)."""
    verdict = t["stable"] if st["stable"] else t["unstable"]
    return (f"{verdict} ({st['environment']}, seeds {st['seeds']}; "
            f"{len(st['differences'])} differences)")
