"""The seed, sentence by sentence: which claims quote each sentence, and what the others are.

`sentences()` cuts fixtures/seminar-answers.md into its units in reading order: a prose
sentence, a heading, a code block, a table row, a question as asked. `coverage()` gives each a
status:

- `claim`: a catalog claim's quote overlaps it (or claims/seedmap.toml ties it to claims, for
  sentences no quote can reach, like the rows of the model table);
- `opinion`: a judgement no run can settle, `context`: a transition, link, example or heading,
  each where claims/seedmap.toml says so, with a one-line reason; headings, code blocks and the
  questions themselves are context by their form;
- `uncovered`: a sentence none of these reaches, a checkable fact with no claim yet.

Standard library only, like the catalog: the selftest and `claims coverage` run without Keras.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from claims.catalog import Claim

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "fixtures" / "seminar-answers.md"
SEED_MAP = Path(__file__).resolve().parent / "seedmap.toml"
STATUSES = ("claim", "opinion", "context", "uncovered")
# What a sentence's form makes it, before any quote or map entry.
FORM_REASONS = {"heading": "a heading", "code": "a code example", "question": "the question asked"}

_FENCE = re.compile(r"^```")
_HEADING = re.compile(r"^#+\s+(.*)$|^\*\*([^*]+)\*\*$")
# A question as asked: "8. ...", "- 18. ...", "**11. ...**" (the lists and section E)
_ASKED = re.compile(r"^(?:-\s+|\*\*)?(\d{1,2})\.\s")
# A question's answer heading: "### 5. ...", "#### 24. ...", "### Câu 18:"
_ANSWER = re.compile(r"^#{3,4}\s+(?:Câu\s+)?(\d{1,2})[.:]")
# a sentence ends at . ! or ? before a capital, a bracket or emphasis; "(ex. JAX)" goes on
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\bex\.)\s+(?=[\"*\[(A-ZÀ-ỸĐ])")


class SeedMapError(ValueError):
    """claims/seedmap.toml is malformed: one line that says where."""


@dataclass(frozen=True)
class Sentence:
    question: int | None  # the question answered; None before the first answer
    text: str  # normalised: Markdown emphasis and escapes removed, whitespace collapsed
    form: str  # prose | heading | code | table | question


@dataclass
class Entry:
    """A sentence with its status, as `claims coverage` prints it."""

    question: int | None
    sentence: str
    status: str
    claims: list[str] = field(default_factory=list)
    reason: str = ""
    reason_vi: str = ""  # the reason in Vietnamese, for the Vietnamese annotated seed

    def as_dict(self) -> dict:
        return {"question": self.question, "sentence": self.sentence, "status": self.status,
                "claims": self.claims, "reason": self.reason}


def normalise(text: str) -> str:
    """The seed's words without Markdown emphasis, escapes or line breaks: what quotes match."""
    return re.sub(r"\s+", " ", text.replace("**", "").replace("\\", "")).strip()


def sentences(text: str) -> list[Sentence]:
    """The seed's units in reading order. The answers start at the first section heading after
    the question list ("## A. ..."); there a question asked or an answer heading starts the
    question its number names (a run of questions asked together, the first of them), where
    the numbers go on increasing within the section: Q17's "#### 1." is a heading of its
    answer."""
    out: list[Sentence] = []
    current: int | None = None
    answering = previous_asked = False
    code: list[str] | None = None
    # a paragraph the seed breaks mid-sentence ("hiệu\n\nsuất") is one paragraph
    text = re.sub(r"(?<=[^\s.!?:)*])\n\s*\n(?=\w)",
                  lambda m: " " if text[m.end()].islower() else m.group(), text)
    for raw in text.splitlines():
        line = raw.strip()
        if _FENCE.match(line):
            if code is not None:
                out.append(Sentence(current, normalise("\n".join(code)), "code"))
            code = [] if code is None else None
            continue
        if code is not None:
            code.append(line)
            continue
        if not line:
            continue
        section = re.match(r"## [A-K]\. ", line)
        if section:  # a section's opening lines answer none of its questions yet
            answering, current = True, None
        asked, answer = _ASKED.match(line), _ANSWER.match(line)
        number = int((asked or answer).group(1)) if asked or answer else None
        if number is not None and answering and (current is None or number > current) \
                and not (asked and previous_asked):
            current = number
        previous_asked = bool(asked)
        heading = _HEADING.match(line)
        if asked:
            out.append(Sentence(number, normalise(line.lstrip("- ")), "question"))
        elif heading:
            out.append(Sentence(current, normalise(heading.group(1) or heading.group(2)),
                                "heading"))
        elif "\t" in line:
            out.append(Sentence(current, normalise(line.replace("\t", " | ")), "table"))
        else:
            body = re.sub(r"^[-*]\s+", "", line)
            out += [Sentence(current, normalise(s), "prose")
                    for s in _SENTENCE_END.split(body) if normalise(s)]
    return out


@dataclass(frozen=True)
class MapEntry:
    """One entry of claims/seedmap.toml: the sentence (`text`, exact) or sentences (`pattern`, a
    regular expression) it speaks of, and their status with its reason or claims."""

    status: str
    reason: str
    claims: tuple[str, ...]
    text: str | None = None
    pattern: re.Pattern | None = None
    reason_vi: str = ""

    def matches(self, sentence: Sentence) -> bool:
        if self.text is not None:
            return normalise(self.text) == sentence.text
        return bool(self.pattern.search(sentence.text))


def load_map(path: Path = SEED_MAP) -> list[MapEntry]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = []
    for i, raw in enumerate(data.get("sentence", [])):
        where = f"{path.name}: sentence[{i}]"
        status = raw.get("status")
        if status not in ("claim", "opinion", "context"):
            raise SeedMapError(f"{where}: status must be claim, opinion or context")
        if ("text" in raw) == ("pattern" in raw):
            raise SeedMapError(f"{where}: give exactly one of text and pattern")
        if status == "claim" and not raw.get("claims"):
            raise SeedMapError(f"{where}: a claim entry names its claims")
        kind = f"{'an' if status == 'opinion' else 'a'} {status} entry"
        if status != "claim" and not str(raw.get("reason", "")).strip():
            raise SeedMapError(f"{where}: {kind} gives its reason")
        if status != "claim" and not str(raw.get("reason_vi", "")).strip():
            raise SeedMapError(f"{where}: {kind} gives its reason in Vietnamese too (reason_vi)")
        entries.append(MapEntry(status, raw.get("reason", ""), tuple(raw.get("claims", ())),
                                raw.get("text"),
                                re.compile(raw["pattern"]) if "pattern" in raw else None,
                                raw.get("reason_vi", "")))
    return entries


def _quoted_by(units: list[Sentence], claims: dict[str, Claim]) -> list[list[str]]:
    """Per sentence, the claims whose quote overlaps it anywhere in the seed (a quote may span
    sentences, and the same words may stand in two answers)."""
    whole, spans = "", []
    for unit in units:
        spans.append((len(whole), len(whole) + len(unit.text)))
        whole += unit.text + " "
    ties: list[list[str]] = [[] for _ in units]
    for claim in claims.values():
        quote = normalise(claim.quote)
        for match in re.finditer(re.escape(quote), whole):
            for i, (start, end) in enumerate(spans):
                if start < match.end() and match.start() < end and claim.id not in ties[i]:
                    ties[i].append(claim.id)
    return ties


@dataclass
class Coverage:
    entries: list[Entry]
    conflicts: list[str]  # an opinion or context entry on a sentence a claim quotes
    stale: list[str]  # map entries that match no sentence of the seed
    untied: list[str]  # catalog claims whose quote reaches no sentence

    def counts(self) -> dict[str, int]:
        return {s: sum(e.status == s for e in self.entries) for s in STATUSES}

    def summary(self) -> str:
        n = self.counts()
        checkable = n["claim"] + n["uncovered"]
        share = f"{100 * n['claim'] / checkable:.0f}%" if checkable else "-"
        return (f"{len(self.entries)} sentences: {n['claim']} claim, {n['opinion']} opinion, "
                f"{n['context']} context, {n['uncovered']} uncovered; {share} of the "
                f"{checkable} checkable sentences have a claim")


def coverage(units: list[Sentence], claims: dict[str, Claim],
             entries: list[MapEntry]) -> Coverage:
    quoted = _quoted_by(units, claims)
    used: set[int] = set()
    out, conflicts = [], []
    for unit, ties in zip(units, quoted, strict=True):
        mapped = [(i, e) for i, e in enumerate(entries) if e.matches(unit)]
        used.update(i for i, _ in mapped)
        entry = mapped[0][1] if mapped else None
        if entry is not None and entry.status != "claim" and ties:
            conflicts.append(f"Q{unit.question}: {entry.status} but quoted by "
                             f"{', '.join(ties)}: {unit.text[:80]}")
        if ties or (entry is not None and entry.status == "claim"):
            named = ties + [c for c in (entry.claims if entry else ()) if c not in ties]
            out.append(Entry(unit.question, unit.text, "claim", named))
        elif entry is not None:
            out.append(Entry(unit.question, unit.text, entry.status, [], entry.reason,
                             entry.reason_vi))
        elif unit.form in FORM_REASONS:
            out.append(Entry(unit.question, unit.text, "context", [], FORM_REASONS[unit.form]))
        else:
            out.append(Entry(unit.question, unit.text, "uncovered"))
    stale = [e.text or e.pattern.pattern for i, e in enumerate(entries) if i not in used]
    tied = {c for e in out for c in e.claims}
    return Coverage(out, conflicts, stale, [c for c in claims if c not in tied])


def seed_coverage() -> Coverage:
    from claims import catalog

    return coverage(sentences(SEED.read_text(encoding="utf-8")), catalog.load(), load_map())
