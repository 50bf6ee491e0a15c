"""Download, verify and cache the MovieLens archives (notebook 01), and write every file the kit
writes whole or not at all (the parquet cache, the models and results of notebooks 02-08,
``python -m helpers.evaluate``'s outputs).

``pooch`` fetches a release's zip from GroupLens or a mirror, checks its published SHA-256 (see
``releases.json``) and caches it; tables are read straight from the zip, never half-extracted.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import secrets
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

import pooch
import requests
from tqdm.auto import tqdm

from helpers.settings import Settings

GROUPLENS = "https://files.grouplens.org/datasets/movielens"
pooch.get_logger().setLevel("WARNING")  # pooch announces every fetch on stderr otherwise


class DataError(RuntimeError):
    """A MovieLens file is missing, damaged or unexpected; the message says what to do."""


@dataclass(frozen=True)
class Release:
    """A GroupLens archive: its published SHA-256 and size, and the SHA-256 of files in it."""

    sha256: str
    size: int
    files: dict[str, str]


RELEASES = {  # the published checksums are data: releases.json, shipped with the package
    name: Release(**fields)
    for name, fields in json.loads(Path(__file__).with_name("releases.json").read_text()).items()
}


def unwritable_cache(settings: Settings, error: OSError) -> DataError:
    """The error for a cache that cannot be written: why, and the fix."""
    full = error.errno == errno.ENOSPC
    fix = "free some space" if full else "set MOVIELENS_CACHE to a folder you can write to"
    return DataError(
        f"The cache {settings.cache} cannot be used ({error.strerror or error}): {fix}."
    )


@dataclass(frozen=True)
class Source:
    """One table's CSV: a name for messages, a key naming its exact content, how to open it."""

    name: str
    key: str
    open: Callable[[], BinaryIO]


def file_source(path: Path, published: str | None = None) -> Source:
    """A CSV on disk, keyed on its content; with ``published``, only if it has that SHA-256."""
    try:
        key = pooch.file_hash(path)
    except FileNotFoundError as error:
        raise DataError(f"{path} does not exist: the data set has no such table.") from error
    except OSError as error:
        raise DataError(
            f"Cannot read {path} ({error.strerror or error}); check that it is a file you may read."
        ) from error
    if published is not None and key != published:
        raise DataError(
            f"{path} is not GroupLens' file (its SHA-256 differs from the published one: "
            "edited or damaged). Replace it with the original, or put the release's zip beside."
        )
    return Source(str(path), key, lambda: open(path, "rb"))


def _local(mirror: str) -> Path | None:
    """The folder behind a mirror given as a path or a ``file://`` URL (None for http)."""
    if "://" not in mirror:
        return Path(mirror).expanduser()
    parsed = urlparse(mirror)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _copy_from(folder: Path) -> Callable:
    """A pooch downloader that copies from a local mirror folder, with a progress bar."""

    def download(url: str, output_file: str, _pooch, check_only: bool = False) -> None:
        source = folder / Path(url).name
        with open(source, "rb") as src, open(output_file, "wb") as out:
            total, desc = source.stat().st_size, f"copy {source.name}"
            with tqdm.wrapattr(out, "write", total, desc=desc) as counted:
                shutil.copyfileobj(src, counted)

    return download


def fetch_archive(release: str, settings: Settings) -> Path:
    """The release's zip in the cache, verified; fetched from the mirror or GroupLens if needed."""
    published, base = RELEASES[release], (settings.mirror or GROUPLENS).rstrip("/")
    try:
        check_writable(settings.cache)
    except OSError as error:
        raise unwritable_cache(settings, error) from error
    folder = _local(base)
    downloader = _copy_from(folder) if folder else pooch.HTTPDownloader(progressbar=True)
    url, known_hash = f"{base}/{release}.zip", f"sha256:{published.sha256}"
    try:
        return Path(
            pooch.retrieve(url, known_hash, f"{release}.zip", settings.cache, downloader=downloader)
        )
    except ValueError as error:  # pooch deletes a download whose hash differs
        raise DataError(
            f"{release}.zip from {base} is damaged or incomplete (its SHA-256 differs from "
            "GroupLens' published one), so it was not kept. Run again; if it keeps failing, "
            f"replace the mirror's copy with the official file ({published.size:,} bytes)."
        ) from error
    except OSError as error:  # requests' errors are OSErrors too
        raise _unfetched(release, base, settings, error) from error


def _unfetched(release: str, base: str, settings: Settings, error: OSError) -> DataError:
    """Why ``release`` could not be fetched and what to do, in one sentence."""
    if not isinstance(error, requests.RequestException):
        if error.errno == errno.ENOSPC:
            return unwritable_cache(settings, error)
        if _local(base) is not None:
            return DataError(
                f"Could not copy {release}.zip from the mirror {base} ({error.strerror or error})."
                " Check that the mirror holds it and that you may read it."
            )
    cached, published = settings.cache / f"{release}.zip", RELEASES[release]
    where = (  # a failed fetch leaves a damaged copy in the cache as it was
        f"replace the damaged {cached.name} in {settings.cache} with the official file "
        f"({published.size:,} bytes)"
        if cached.exists() and pooch.file_hash(cached) != published.sha256
        else f"put the zip in {settings.cache}"
    )
    return DataError(
        f"Could not fetch {release}.zip from {base} ({error.strerror or error}). If this machine "
        f"is offline, set MOVIELENS_MIRROR to a folder holding {release}.zip (for example "
        f"`export MOVIELENS_MIRROR=../shared/data/movielens`), or {where}."
    )


def table_source(table: str, settings: Settings, dataset: str | None = None) -> Source:
    """Where ``table`` of ``dataset`` (default: the configured one) is read from: a folder of CSVs,
    a mirror's extracted CSV of a release, or the release's verified zip."""
    dataset, filename = dataset or settings.dataset, f"{table}.csv"
    if dataset not in RELEASES:
        folder = Path(dataset).expanduser()
        if not os.path.isdir(folder):  # False, not an OSError, for a path it cannot look at
            raise DataError(
                f"Unknown data set {str(folder)!r}: use one of {', '.join(RELEASES)}, "
                "or a folder of MovieLens CSVs."
            )
        return file_source(folder / filename)
    mirror = _local(settings.mirror) if settings.mirror else None
    csv = mirror / dataset / filename if mirror else None
    if csv and csv.exists() and not (mirror / f"{dataset}.zip").exists():  # else the zip wins
        if filename not in RELEASES[dataset].files:
            raise DataError(
                f"{csv} has no published checksum to verify it against; put the release's zip "
                "in the mirror folder instead."
            )
        return file_source(csv, RELEASES[dataset].files[filename])
    member = f"{dataset}/{filename}"

    def open_member() -> BinaryIO:
        bundle = zipfile.ZipFile(fetch_archive(dataset, settings))
        if member not in bundle.namelist():
            raise DataError(f"{dataset} has no {table} table ({member} is not in its archive).")
        return bundle.open(member)

    return Source(f"{dataset}.zip:{member}", f"{RELEASES[dataset].sha256}:{member}", open_member)


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """``write`` a new scratch file beside ``path``, then rename it to ``path``: an interrupted run
    leaves the previous file (or none), never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A new name per writer, holding its process id for remove_stale_scratch; mode from the umask.
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    scratch.touch(exist_ok=False)
    try:
        write(scratch)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    remove_stale_scratch(path)
    return path


def write_together(writes: dict[Path, Callable[[Path], object]]) -> list[Path]:
    """Write several files so that every one is written in full before any is renamed: a failure
    keeps the previous set whole (e.g. predictions and top lists)."""
    (path, write), *rest = writes.items()

    def write_this_then_the_rest(scratch: Path) -> None:
        write(scratch)
        if rest:  # written (and renamed) while this one still waits in its scratch file
            write_together(dict(rest))

    write_atomically(path, write_this_then_the_rest)
    return list(writes)


def remove_stale_scratch(path: Path) -> None:
    """Remove scratch files of ``path`` left by a killed writer: its process is gone, or (no
    process named, or another machine's) the file is over an hour old."""
    for scratch in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        writer = scratch.name[len(path.name) + 2 :].split(".")[0]
        try:
            stale = time.time() - scratch.stat().st_mtime > 3600
            if not stale and writer.isdecimal():
                try:
                    os.kill(int(writer), 0)  # signal 0 only asks whether the process exists
                except ProcessLookupError:
                    stale = True
            if stale:
                scratch.unlink(missing_ok=True)
        except OSError:  # gone meanwhile, someone else's process, or not ours to remove
            continue


def check_writable(folder: Path) -> Path:
    """Create ``folder`` if missing and a file in it (then remove it): an OSError says why not."""
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test.").close()
    return folder


def writable_out(out: str | Path) -> Path:
    """A command's ``--out`` folder, created and proven writable; ValueError says what to choose
    instead (``python -m helpers.evaluate``, ``tools/run_notebooks.py``)."""
    folder = Path(out).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {out} is a file; name a folder (it is created if missing).")
    try:
        return check_writable(folder)
    except OSError as error:
        raise ValueError(
            f"--out {out} cannot be written ({error.strerror or error}); name a folder you can "
            "write to."
        ) from error
