"""Write files whole or not at all (every file the kit writes: the parquet cache of notebook 01,
the models and results table of notebooks 02-08, ``python -m helpers.evaluate``'s outputs)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give a new file here (mkstemp gives 0600)
STALE_SCRATCH = 3600  # seconds after which a scratch file of a dead or unknown writer is removed


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """``write`` a scratch file of a unique name beside ``path``, then rename it to ``path``.

    An interrupted run leaves the previous file (or none), and two processes writing the same
    file never share a scratch name. The file gets the mode the umask gives new files, and
    scratch files that killed writers left beside ``path`` are removed.
    """
    return write_together({path: write})[0]


def write_together(writes: dict[Path, Callable[[Path], object]]) -> list[Path]:
    """Like :func:`write_atomically` for several files: every one is written in full before
    any is renamed, so a failure keeps the previous set whole (e.g. predictions and top lists)."""
    scratches = []
    try:
        for path, write in writes.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            prefix = f".{path.name}.{os.getpid()}."
            handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".part")
            os.close(handle)
            scratches.append(Path(scratch))
            write(Path(scratch))
            os.chmod(scratch, FILE_MODE)
        for path, scratch in zip(writes, scratches, strict=True):
            os.replace(scratch, path)
            remove_stale_scratch(path)
    finally:
        for scratch in scratches:
            scratch.unlink(missing_ok=True)
    return list(writes)


def remove_stale_scratch(path: Path) -> None:
    """Remove scratch files of ``path`` left by a writer that was killed: its process is gone,
    or (no process named, or another machine's) the file is over an hour old."""
    for scratch in path.parent.glob(f".{glob_escape(path.name)}.*.part"):
        writer = scratch.name[len(path.name) + 2 :].split(".")[0]
        try:
            old = time.time() - scratch.stat().st_mtime > STALE_SCRATCH
            if old or (writer.isdecimal() and not _running(int(writer))):
                scratch.unlink(missing_ok=True)
        except OSError:  # gone meanwhile, or not ours to remove
            continue


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def check_writable(folder: Path) -> Path:
    """Create ``folder`` if missing and write (then remove) a file of a unique name in it;
    the OSError of either step says why it cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test."):
        pass
    return folder
