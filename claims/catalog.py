"""The claim catalog: one TOML file per seed section, validated on load.

Loading never imports Keras, so `python -m claims list` works anywhere.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from claims import machine
from claims.schema import first_error, validator
from claims.vocabulary import CLAIM_ID

CATALOG_DIR = Path(__file__).parent / "catalog"
TEXT_FIELDS = ("quote", "statement", "statement_vi", "correction", "correction_vi", "untestable",
               "untestable_vi", "boundary")
_DEFS = validator("catalog.schema.json").schema["$defs"]
_CLAIM_PROPERTIES = _DEFS["claim"]["properties"]
_RULE_PROPERTIES = _DEFS["rule"]["properties"]
_RULE_DESCRIPTION = _DEFS["rule"]["description"]


class CatalogError(ValueError):
    """A catalog entry is invalid; the message is one line naming file, claim and field."""


@dataclass(frozen=True)
class Environment:
    """What a run audits: which Keras package, its version, and its backend."""

    package: str
    keras: str
    backend: str
    # the interpreter's version where known (a run's, not an id's): a rule may depend on it
    python: str = field(default="", compare=False)
    # the machine's facts where known (claims.machine.FACTS): a rule may depend on them
    machine: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def id(self) -> str:
        return f"{self.package}-{self.keras}-{self.backend}"

    @property
    def version(self) -> Version:
        return Version(self.keras)

    @property
    def major(self) -> int:
        """2 for Keras 2 and tf-keras, 3 for Keras 3: the one test of the Keras line."""
        return self.version.major

    @classmethod
    def parse(cls, env_id: str) -> Environment:
        package, version, backend = env_id.rsplit("-", 2)
        return cls(package, version, backend)

    @classmethod
    def of_run(cls, environment: dict) -> Environment:
        """The environment a run file's `environment` describes, with its interpreter and
        machine facts (a run written before they were recorded has none)."""
        return cls(environment["id"].rsplit("-", 2)[0], environment["keras"],
                   environment["backend"], environment.get("python", ""),
                   environment.get("machine", {}))


@dataclass(frozen=True)
class Rule:
    """One recorded finding: the verdict observed where the conditions hold."""

    verdict: str
    keras: SpecifierSet | None = None
    backends: tuple[str, ...] = ()
    package: str | None = None
    note: str = ""
    python: SpecifierSet | None = None
    facts: tuple[tuple[str, str], ...] = ()  # machine facts, (name, value) in RULE_FACTS order

    def matches(self, env: Environment) -> bool:
        if self.package and self.package != env.package:
            return False
        if self.backends and env.backend not in self.backends:
            return False
        if self.python is not None and not (env.python and self.python.contains(env.python)):
            return False
        if not all(machine.matches(name, value, env.machine) for name, value in self.facts):
            return False
        return self.keras is None or self.keras.contains(Version(env.keras), prereleases=True)

    def deciding_facts(self) -> str:
        """The machine facts this rule names, as `onednn=off`: what decided a verdict."""
        return ", ".join(f"{name}={value}" for name, value in self.facts)

    def as_dict(self) -> dict:
        out: dict = {"verdict": self.verdict}
        if self.keras is not None:
            out["keras"] = str(self.keras)
        if self.backends:
            out["backend"] = list(self.backends)
        if self.package:
            out["package"] = self.package
        if self.python is not None:
            out["python"] = str(self.python)
        out.update(self.facts)
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
    statement_vi: str | None = None
    correction: str | None = None
    correction_vi: str | None = None
    untestable: str | None = None
    untestable_vi: str | None = None
    expected: tuple[Rule, ...] = field(default=())
    boundary: str | None = None  # where the verdict changes, found by `nox -s bisect`

    def rule_for(self, env: Environment) -> Rule | None:
        """The first rule that matches `env`, whose verdict is recorded there; None if none
        matches (claims.verdicts.recorded reads it)."""
        return next((r for r in self.expected if r.matches(env)), None)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "questions": list(self.questions),
            "section": self.section,
            "quote": self.quote,
            "statement": self.statement,
            "statement_vi": self.statement_vi,
            "correction": self.correction,
            "correction_vi": self.correction_vi,
            "untestable": self.untestable,
            "untestable_vi": self.untestable_vi,
            "expected": [r.as_dict() for r in self.expected],
            "boundary": self.boundary,
            "source": self.source,
        }


def _fail(source: str, claim_id: str, fld: str, why: str) -> CatalogError:
    return CatalogError(f"{source}: claim {claim_id!r}: field {fld!r}: {why}")


def _schema_error(data: dict, source: str) -> CatalogError | None:
    """The first violation of catalog.schema.json, worded as one line naming claim and field:
    the description of the violated property is its message."""
    # an unknown field is named before a missing one: a misspelt field is both
    error = first_error(data, "catalog.schema.json", frozenset({"additionalProperties"}))
    if error is None:
        return None
    path = list(error.absolute_path)
    if not path and error.validator == "additionalProperties":
        return CatalogError(f"{source}: unknown top-level key(s) {sorted(set(data) - {'claim'})}")
    if len(path) < 2:
        return CatalogError(f"{source}: field {'.'.join(map(str, path)) or 'claim'!r}: "
                            f"{error.message}")
    index, rest = path[1], path[2:]
    entry = data["claim"][index]
    if not isinstance(entry, dict):
        return CatalogError(f"{source}: claim #{index}: must be a table")
    cid = str(entry.get("id"))
    if error.validator == "additionalProperties" and not rest:
        unknown = sorted(set(entry) - set(error.schema["properties"]))
        return _fail(source, cid, unknown[0], "unknown field")
    if error.validator == "required":
        rest = [*rest, next(f for f in error.validator_value if f not in error.instance)]
    if error.validator == "additionalProperties":  # a rule with a key of its own
        unknown = sorted(set(error.instance) - set(error.schema["properties"]))
        return _fail(source, cid, _field_name(rest), f"unknown key(s) {unknown}")
    why = _description(rest) or error.message
    return _fail(source, cid, _field_name(rest), why)


def _field_name(rest: list) -> str:
    """`expected[0].verdict` for the path ['expected', 0, 'verdict']; an item of a list of
    scalars (questions, a rule's backend) is named by its list."""
    name, previous = "", None
    for part in rest:
        if isinstance(part, int):
            if previous != "expected":
                break
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
        previous = part
    return name


def _description(rest: list) -> str | None:
    """The message for a violation at `rest` inside a claim: its property's description."""
    if not rest:
        return None
    if rest[0] == "expected" and len(rest) >= 3:
        return _RULE_PROPERTIES.get(rest[2], {}).get("description")
    if rest[0] == "expected" and len(rest) == 2:
        return _RULE_DESCRIPTION
    return _CLAIM_PROPERTIES.get(rest[0], {}).get("description")


def _rule(raw: dict, source: str, cid: str, index: int) -> Rule:
    specs = {}
    for key in ("keras", "python"):
        if key in raw:
            try:
                specs[key] = SpecifierSet(raw[key])
            except InvalidSpecifier:
                raise _fail(source, cid, f"expected[{index}].{key}",
                            f"not a PEP 440 specifier: {raw[key]!r}") from None
    backends = raw.get("backend", [])
    backends = [backends] if isinstance(backends, str) else backends
    facts = tuple((name, raw[name]) for name in machine.RULE_FACTS if name in raw)
    return Rule(raw["verdict"], specs.get("keras"), tuple(backends), raw.get("package"),
                raw.get("note", ""), specs.get("python"), facts)


def _claim(entry: dict, source: str) -> Claim:
    """One schema-valid entry, checked by the rules that tie its fields together."""
    cid, questions, section = entry["id"], entry["questions"], entry["section"]
    own = int(CLAIM_ID.match(cid).group(1))
    if own not in questions:
        raise _fail(source, cid, "questions", f"must include {own}, the id's question")
    if Path(source).stem != section:
        raise _fail(source, cid, "section", f"{section} is filed in {Path(source).name}")
    rules = tuple(_rule(r, source, cid, i) for i, r in enumerate(entry.get("expected", [])))
    text = {k: entry[k].strip() for k in TEXT_FIELDS if k in entry}
    if text.get("untestable") and rules:
        raise _fail(source, cid, "expected", "an untestable claim records no verdicts")
    if any(r.verdict == "refuted" for r in rules) and not text.get("correction"):
        raise _fail(source, cid, "correction", "required where a verdict is refuted")
    return Claim(id=cid, questions=tuple(questions), section=section, source=source,
                 expected=rules, **text)


def load(directory: Path = CATALOG_DIR) -> dict[str, Claim]:
    """Every claim of every `<section>.toml` in `directory`, by id, in file order."""
    claims: dict[str, Claim] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        source = f"{path.parent.name}/{path.name}"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogError(f"{source}: not valid TOML: {exc}") from None
        problem = _schema_error(data, source)
        if problem:
            raise problem
        for entry in data.get("claim", []):
            claim = _claim(entry, source)
            if claim.id in claims:
                raise _fail(source, claim.id, "id", f"duplicate of {claims[claim.id].source}")
            claims[claim.id] = claim
    if not claims:
        raise CatalogError(f"{directory}: no claims found")
    return claims
