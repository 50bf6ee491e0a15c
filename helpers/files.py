"""Write files whole or not at all: every file the kit writes (the parquet cache of notebook 01,
the models and results table of notebooks 02-08, ``python -m helpers.evaluate``'s outputs)."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """``write`` a new scratch file beside ``path``, then rename it to ``path``: an interrupted run
    leaves the previous file (or none), never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer, holding its process id for remove_stale_scratch; created as
    # open() creates files, so it gets the mode the umask gives.
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
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
    escaped = "".join(f"[{char}]" if char in "*?[" else char for char in path.name)
    for scratch in path.parent.glob(f".{escaped}.*.part"):
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
    """Create ``folder`` if missing and create (then remove) a file in it: the OSError of either
    step says why it cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test.").close()
    return folder
