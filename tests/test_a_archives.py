"""Section A, beyond the seed: keras.utils.get_file(extract=True) on an untrusted archive (Keras
fetches datasets and weights with it): each published advisory on its extraction, reproduced.

Payloads are harmless by construction: an archive whose members can only land one or two
folders above the extraction folder, still inside the test's temporary directory. A member kept
inside reads "safe" only next to its positive controls: tarfile extracting the same archive with
no filter must write it outside (tests/advisories.judge_advisory), and get_file in the same
environment must extract the archive less its escaping member; and a refusal counts only where it
names a member of the attack. Otherwise the cell is an error.
Python's own tarfile filter is part of the defence from Keras 3.12 on, so the evidence names the
Python version.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tarfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from claims.plugin import describe
from tests.advisories import judge_advisory

PYTHON = "Python {}.{}.{}".format(*sys.version_info[:3])


def add_member(tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, link: str = "",
               data: bytes = b"data") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    payload = data if kind == tarfile.REGTYPE else b""
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload) if payload else None)


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    here = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(here)


def get_file_extract(keras, archive: Path, cache: Path) -> tuple[str | None, list[str]]:
    """get_file(extract=True) of `archive` into `cache`: the refusal (None where it extracted)
    and Keras' 'Skipping invalid path' warnings, for the evidence."""
    cache.mkdir(parents=True)  # get_file falls back to ~/.keras or /tmp/.keras when it is missing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stdout(sys.stderr):
                keras.utils.get_file(archive.name, origin=archive.as_uri(), extract=True,
                                     cache_dir=str(cache))
            refusal = None
        except Exception as exc:  # a refusal of the whole archive is a safe outcome
            refusal = describe(exc)
    skipped = [str(w.message) for w in caught if "invalid path" in str(w.message)]
    return refusal, skipped


def extracted(cache: Path) -> list[Path]:
    """Every 'inside.txt' get_file extracted under `cache` (newer releases put it in
    <cache>/datasets/<name>_extracted, older ones in <cache>/datasets)."""
    return [p for depth in ("*", "*/*", "*/*/*") for p in cache.glob(f"{depth}/inside.txt")]


def extracted_folder(cache: Path, refusal: str | None) -> Path:
    """Where get_file put the archive's 'inside.txt' (no deep walk: a chain may nest past
    PATH_MAX). Where get_file raised before writing it, the folder it extracts into (Keras 3's
    <cache>/datasets/<name>_extracted: every folder above is outside); a RuntimeError where
    nothing was extracted and nothing raised."""
    inside = extracted(cache)
    if inside:
        return inside[0].parent
    if refusal is None:
        raise RuntimeError("nothing was extracted and nothing raised: the check is broken")
    return cache / "datasets" / "payload_extracted"


def escaped_above(folder: Path, top: Path) -> list[Path]:
    """'escaped.txt' in a folder above `folder`, up to `top`: where a member got out."""
    return [p / "escaped.txt" for p in folder.parents
            if (p == top or top in p.parents) and (p / "escaped.txt").exists()]


def unfiltered_control(archive: Path, tmp_path: Path) -> tuple[bool, str]:
    """The positive control: tarfile extracting the archive with no filter into a folder as
    deep as get_file's writes a member above it."""
    folder = tmp_path / "control" / "deep" / "deeper"
    folder.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="fully_trusted")
    fired = bool(escaped_above(folder, tmp_path))
    return fired, "tarfile.extractall with no filter: 'escaped.txt' " + (
        "got out" if fired else "stayed inside")


def outcome(folder: Path, tmp_path: Path, refusal: str | None, skipped: list[str],
            attack: tuple[str, ...]) -> tuple[bool, str]:
    """(a member got out, the evidence) after get_file extracted into `folder`. A refusal
    counts only where it names a member of the attack (`attack`: parts of their names); any
    other exception says nothing of the defence: a RuntimeError, an error."""
    outside = escaped_above(folder, tmp_path)
    if outside:
        return True, (f"{PYTHON}: 'escaped.txt' written to <tmp>/"
                      f"{outside[0].relative_to(tmp_path)}, outside <tmp>/"
                      f"{folder.relative_to(tmp_path)}")
    if refusal:
        refusal = refusal.replace(str(tmp_path), "<tmp>")
        if not any(name in refusal for name in attack):
            raise RuntimeError(f"get_file raised without naming a member of the attack, so the "
                               f"refusal says nothing of the defence: {refusal}")
        return False, f"{PYTHON}: get_file raised ({refusal}); nothing written above the folder"
    why = skipped[0] if skipped else "not written"
    return False, f"{PYTHON}: 'escaped.txt' kept inside ({why})"


def get_file_control(keras, twin: Path, tmp_path: Path) -> str:
    """The control through Keras itself: get_file(extract=True) in this environment extracts
    `twin`, the payload's archive less its escaping member. Where it cannot, a refusal of the
    payload shows nothing (get_file may not read the URL at all): a RuntimeError, an error."""
    cache = tmp_path / "twin" / "cache"
    refusal, _ = get_file_extract(keras, twin, cache)
    if refusal or not extracted(cache):
        raise RuntimeError("get_file(extract=True) does not extract even the archive less its "
                           f"escaping member here ({refusal or 'nothing extracted'}): its "
                           "refusal of the payload would show nothing")
    return "get_file extracts the same archive less its escaping member"


ESCAPING = "escaped.txt"  # the member an attack tries to write outside the folder


def tar_archive(path: Path, *members: tuple) -> Path:
    """A tar of `members`, each add_member's arguments after the tar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for member in members:
            add_member(tar, *member)
    return path


def extract_from(keras, archive: Path, twin: Path, tmp_path: Path, cache: Path,
                 attack: tuple[str, ...] = (ESCAPING,), cwd: Path | None = None
                 ) -> tuple[bool, str]:
    """get_file(extract=True) of `archive` into `cache`, run from `cwd` (None: where the test
    runs): whether a member got out of the folder, and the evidence. Where none got out, the
    same get_file must extract `twin` (the archive less its escaping member) and a refusal must
    name a member of the `attack`."""
    with working_directory(cwd) if cwd else contextlib.nullcontext():
        refusal, skipped = get_file_extract(keras, archive, cache)
    exploited, evidence = outcome(extracted_folder(cache, refusal), tmp_path, refusal, skipped,
                                  attack)
    if exploited:
        return exploited, evidence
    return exploited, f"{evidence}; {get_file_control(keras, twin, tmp_path)}"


def tar_pair(tmp_path: Path, *members: tuple) -> tuple[Path, Path]:
    """The payload's tar of `members`, and its twin without the escaping member."""
    return (tar_archive(tmp_path / "payload.tar", *members),
            tar_archive(tmp_path / "twin" / "payload.tar",
                        *(m for m in members if ESCAPING not in m[0])))


def empty_folder(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.claim("q1-get-file-untrusted-archives")
def test_ghsa_hqp4_2352_xf5r_extraction_is_checked_against_its_folder(keras, tmp_path, measure):
    """GHSA-hqp4-2352-xf5r / CVE-2026-11816 (fixed in 3.14.0, and 3.12.2 on the 3.12 line):
    get_file(extract=True) checks tar members against the current directory, not the extraction
    folder; run from '/', the member '../escaped.txt' lands outside the folder."""
    archive, twin = tar_pair(tmp_path, ("inside.txt",), ("../escaped.txt",))
    # run from '/': the advisory's precondition (containers, CI runners)
    exploited, evidence = extract_from(keras, archive, twin, tmp_path,
                                       tmp_path / "cache" / "deeper", cwd=Path("/"))
    judge_advisory(measure, "GHSA-hqp4-2352-xf5r (CVE-2026-11816) "
                   "[fixed in 3.12.2, 3.14.0]: extraction checked against "
                   "the working directory", exploited, evidence,
                   lambda: unfiltered_control(archive, tmp_path))


@pytest.mark.claim("q1-get-file-untrusted-archives")
def test_cve_2024_55459_a_dotdot_member_stays_in_get_files_folder(keras, tmp_path, measure):
    """CVE-2024-55459 (GHSA-cjgq-5qmw-rcj6; disputed by Keras, no fixed release named): a tar
    fetched by get_file(extract=True) writes files anywhere: here a '../../escaped.txt' member,
    extracted from an ordinary working directory (the test's own)."""
    archive, twin = tar_pair(tmp_path, ("inside.txt",), ("../../escaped.txt",))
    exploited, evidence = extract_from(keras, archive, twin, tmp_path,
                                       tmp_path / "cache" / "deeper",
                                       cwd=empty_folder(tmp_path / "cwd"))
    judge_advisory(measure, "CVE-2024-55459 (GHSA-cjgq-5qmw-rcj6) "
                   "[disputed: no fix named]: a '../' member leaves "
                   "get_file's folder", exploited, evidence,
                   lambda: unfiltered_control(archive, tmp_path))


PATH_MAX_LINK = "x" * 254  # the chain's last symlink, which the escaping member goes through


def path_max_archive(path: Path, ups: int, escape: bool = True) -> Path:
    """The advisory's archive: 16 symlinks to 247-character folders nest past PATH_MAX, so a
    realpath check gives up resolving them; a last symlink leads back to the extraction folder,
    and a member through it and `ups` '..' lands that far above the folder (without `escape`,
    the twin: the same chain, no such member)."""
    comp, steps, deep = "d" * 247, "abcdefghijklmnop", ""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for step in steps:
            add_member(tar, os.path.join(deep, comp), tarfile.DIRTYPE)
            add_member(tar, os.path.join(deep, step), tarfile.SYMTYPE, comp)
            deep = os.path.join(deep, comp)
        link = os.path.join("/".join(steps), PATH_MAX_LINK)
        add_member(tar, link, tarfile.SYMTYPE, "../" * len(steps))
        if escape:
            add_member(tar, link + "/" + "../" * ups + ESCAPING)
        add_member(tar, "inside.txt")
    return path


def python_data_filter(archive: Path, tmp_path: Path) -> str:
    """What Python's own filter='data' does with the archive: Keras 3.12.3 and 3.15 lean on it
    on Python 3.11, and Python before 3.11.13 lets a PATH_MAX chain through (CVE-2025-4517)."""
    folder = tmp_path / "data_filter" / "deep" / "deeper"
    folder.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as exc:
        return f"{PYTHON}'s filter='data' refuses it ({describe(exc)})"
    return f"{PYTHON}'s filter='data' " + (
        "lets it through too" if escaped_above(folder, tmp_path) else "keeps it inside")


@pytest.mark.claim("q1-get-file-untrusted-archives")
def test_ghsa_hjqc_jx6g_rwp9_a_symlink_chain_stays_in_get_files_folder(keras, tmp_path, measure):
    """GHSA-hjqc-jx6g-rwp9 / CVE-2025-12060 (fixed in 3.12.0 with tarfile's filter='data', which
    3.12.0 to 3.14 use on Python 3.12 and 3.13 only, 3.12.3 and 3.15.0 also on Python 3.10.12+
    and 3.11.4+): get_file(extract=True) on the advisory's tar, a symlink chain nesting past
    PATH_MAX, writes a member two folders above its folder."""
    archive = path_max_archive(tmp_path / "payload.tar", ups=2)
    twin = path_max_archive(tmp_path / "twin" / "payload.tar", ups=2, escape=False)
    # a refusal names the escaping member, or the link it goes through
    exploited, evidence = extract_from(keras, archive, twin, tmp_path, tmp_path / "box" / "cache",
                                       attack=(ESCAPING, PATH_MAX_LINK))
    judge_advisory(measure, "GHSA-hjqc-jx6g-rwp9 (CVE-2025-12060) "
                   "[fixed in 3.12.0]: a symlink chain past "
                   "PATH_MAX", exploited, f"{evidence}; {python_data_filter(archive, tmp_path)}",
                   lambda: unfiltered_control(archive, tmp_path))


@pytest.mark.claim("q1-get-file-untrusted-archives")
def test_ghsa_58hv_7753_xmfq_a_member_does_not_get_out_through_a_symlink(
        keras, tmp_path, measure):
    """GHSA-58hv-7753-xmfq / CVE-2026-12482 (fixed in 3.12.3 and 3.15.0): the symlink
    'link' -> '.' passes the member check, and so does 'link/../escaped.txt', because the check
    collapses 'link/..' as text before following the link, while the write follows it into the
    folder's parent. Unlike GHSA-hqp4-2352-xf5r it needs no particular working directory."""
    archive, twin = tar_pair(tmp_path, ("inside.txt",), ("link", tarfile.SYMTYPE, "."),
                             ("link/../escaped.txt",))
    exploited, evidence = extract_from(keras, archive, twin, tmp_path,
                                       tmp_path / "cache" / "deeper",
                                       attack=(ESCAPING, "link"),
                                       cwd=empty_folder(tmp_path / "cwd"))
    judge_advisory(measure, "GHSA-58hv-7753-xmfq (CVE-2026-12482) "
                   "[fixed in 3.12.3, 3.15.0]: a member gets out through "
                   "a symlink", exploited, evidence,
                   lambda: unfiltered_control(archive, tmp_path))
