"""The claim catalog: one TOML file per seed section, validated on load.

Loading never imports Keras, so `python -m claims list` works anywhere.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

CATALOG_DIR = Path(__file__).parent / "catalog"
SECTIONS = tuple("ABCDEFGHIK")  # the seed has no section J
VERDICTS = ("holds", "refuted", "not-applicable", "untestable", "error")
RECORDABLE = ("holds", "refuted", "not-applicable")
BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")
PACKAGES = ("keras", "tf_keras")
ID_RE = re.compile(r"^q(\d+)-[a-z0-9]+(?:-[a-z0-9]+)*$")
FIELDS = {
    "id", "questions", "section", "quote", "statement", "correction", "correction_vi",
    "untestable", "expected", "boundary",
}
RULE_FIELDS = {"verdict", "keras", "backend", "package", "note"}


class CatalogError(ValueError):
    """A catalog entry is invalid; the message is one line naming file, claim and field."""


@dataclass(frozen=True)
class Environment:
    """What a run audits: which Keras package, its version, and its backend."""

    package: str
    keras: str
    backend: str

    @property
    def id(self) -> str:
        return f"{self.package}-{self.keras}-{self.backend}"

    @classmethod
    def parse(cls, env_id: str) -> Environment:
        package, version, backend = env_id.rsplit("-", 2)
        return cls(package, version, backend)


@dataclass(frozen=True)
class Rule:
    """One recorded finding: the verdict observed where the conditions hold."""

    verdict: str
    keras: SpecifierSet | None = None
    backends: tuple[str, ...] = ()
    package: str | None = None
    note: str = ""

    def matches(self, env: Environment) -> bool:
        if self.package and self.package != env.package:
            return False
        if self.backends and env.backend not in self.backends:
            return False
        return self.keras is None or self.keras.contains(Version(env.keras), prereleases=True)

    def as_dict(self) -> dict:
        out: dict = {"verdict": self.verdict}
        if self.keras is not None:
            out["keras"] = str(self.keras)
        if self.backends:
            out["backend"] = list(self.backends)
        if self.package:
            out["package"] = self.package
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Claim:
    id: str
    questions: tuple[int, ...]
    section: str
    quote: str
    statement: str
    source: str
    correction: str | None = None
    correction_vi: str | None = None
    untestable: str | None = None
    expected: tuple[Rule, ...] = field(default=())
    boundary: str | None = None  # where the verdict changes, found by `nox -s bisect`

    def expected_verdict(self, env: Environment) -> str | None:
        """The recorded verdict for `env`: the first matching rule wins; None if none matches."""
        if self.untestable:
            return "untestable"
        return next((r.verdict for r in self.expected if r.matches(env)), None)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "questions": list(self.questions),
            "section": self.section,
            "quote": self.quote,
            "statement": self.statement,
            "correction": self.correction,
            "correction_vi": self.correction_vi,
            "untestable": self.untestable,
            "expected": [r.as_dict() for r in self.expected],
            "boundary": self.boundary,
            "source": self.source,
        }


def _fail(source: str, claim_id: str, fld: str, why: str) -> CatalogError:
    return CatalogError(f"{source}: claim {claim_id!r}: field {fld!r}: {why}")


def _text(entry: dict, fld: str, source: str, cid: str, required: bool) -> str | None:
    value = entry.get(fld)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, cid, fld, "must be a non-empty string")
    return value.strip()


def _rule(raw: object, source: str, cid: str, index: int) -> Rule:
    fld = f"expected[{index}]"
    if not isinstance(raw, dict):
        raise _fail(source, cid, fld, "must be a table")
    unknown = set(raw) - RULE_FIELDS
    if unknown:
        raise _fail(source, cid, fld, f"unknown key(s) {sorted(unknown)}")
    verdict = raw.get("verdict")
    if verdict not in RECORDABLE:
        raise _fail(source, cid, f"{fld}.verdict", f"must be one of {list(RECORDABLE)}")
    spec = None
    if "keras" in raw:
        try:
            spec = SpecifierSet(str(raw["keras"]))
        except InvalidSpecifier:
            raise _fail(
                source, cid, f"{fld}.keras", f"not a PEP 440 specifier: {raw['keras']!r}"
            ) from None
    backends = raw.get("backend", [])
    backends = [backends] if isinstance(backends, str) else backends
    if not isinstance(backends, list) or any(b not in BACKENDS for b in backends):
        raise _fail(source, cid, f"{fld}.backend", f"must be among {list(BACKENDS)}")
    package = raw.get("package")
    if package is not None and package not in PACKAGES:
        raise _fail(source, cid, f"{fld}.package", f"must be one of {list(PACKAGES)}")
    return Rule(verdict, spec, tuple(backends), package, str(raw.get("note", "")))


def _claim(entry: object, source: str, index: int) -> Claim:
    if not isinstance(entry, dict):
        raise CatalogError(f"{source}: claim #{index}: must be a table")
    cid = entry.get("id")
    if not isinstance(cid, str) or not (m := ID_RE.match(cid)):
        raise _fail(source, str(cid), "id", "must look like 'q25-flatten-3136'")
    unknown = set(entry) - FIELDS
    if unknown:
        raise _fail(source, cid, sorted(unknown)[0], "unknown field")
    questions = entry.get("questions")
    if (
        not isinstance(questions, list)
        or not questions
        or any(not isinstance(q, int) or not 1 <= q <= 25 for q in questions)
    ):
        raise _fail(source, cid, "questions", "must be a non-empty list of ints in 1..25")
    if int(m.group(1)) not in questions:
        raise _fail(source, cid, "questions", f"must include {m.group(1)}, the id's question")
    section = entry.get("section")
    if section not in SECTIONS:
        raise _fail(source, cid, "section", f"must be one of {''.join(SECTIONS)}")
    if Path(source).stem != section:
        raise _fail(source, cid, "section", f"{section} is filed in {Path(source).name}")
    untestable = _text(entry, "untestable", source, cid, required=False)
    raw_rules = entry.get("expected", [])
    if not isinstance(raw_rules, list):
        raise _fail(source, cid, "expected", "must be a list of tables")
    rules = tuple(_rule(r, source, cid, i) for i, r in enumerate(raw_rules))
    if untestable and rules:
        raise _fail(source, cid, "expected", "an untestable claim records no verdicts")
    correction = _text(entry, "correction", source, cid, required=False)
    if any(r.verdict == "refuted" for r in rules) and not correction:
        raise _fail(source, cid, "correction", "required where a verdict is refuted")
    return Claim(
        id=cid,
        questions=tuple(questions),
        section=section,
        quote=_text(entry, "quote", source, cid, required=True),
        statement=_text(entry, "statement", source, cid, required=True),
        source=source,
        correction=correction,
        correction_vi=_text(entry, "correction_vi", source, cid, required=False),
        untestable=untestable,
        expected=rules,
        boundary=_text(entry, "boundary", source, cid, required=False),
    )


def load(directory: Path = CATALOG_DIR) -> dict[str, Claim]:
    """Every claim of every `<section>.toml` in `directory`, by id, in file order."""
    claims: dict[str, Claim] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        source = f"{path.parent.name}/{path.name}"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{source}: not valid TOML: {exc}") from None
        unknown = set(data) - {"claim"}
        if unknown:
            raise CatalogError(f"{source}: unknown top-level key(s) {sorted(unknown)}")
        for index, entry in enumerate(data.get("claim", [])):
            claim = _claim(entry, source, index)
            if claim.id in claims:
                raise _fail(source, claim.id, "id", f"duplicate of {claims[claim.id].source}")
            claims[claim.id] = claim
    if not claims:
        raise CatalogError(f"{directory}: no claims found")
    return claims
