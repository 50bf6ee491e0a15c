"""Execute every notebook top to bottom, headless: ``python -m tools.run_notebooks``.

Executed copies go to ``build/notebooks/`` (git-ignored); ``--inplace`` refreshes the committed
notebooks' outputs instead (what a maintainer does after changing code). Each notebook's wall
time and the peak memory of its kernel are printed. ``--solutions`` also runs every worked
solution of a notebook's exercises after it, in the same kernel, and fails on the first that
raises or prints other than its "Expected output" block (compared under the tolerance policy of
:mod:`tools.stored_outputs`, as nbval compares cells). Kernels start with
:data:`tools.stored_outputs.PORTABLE_NUMERICS` set.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm import tqdm
from traitlets.config import Config

from helpers.download import RELEASES, writable_out
from helpers.settings import REPO, VARIABLES, Settings, SettingsError
from tools.stored_outputs import PORTABLE_NUMERICS, accepts, tolerance

SOLUTION = re.compile(
    r"<details><summary>Solution[^<]*</summary>\s*```python\n(.*?)```"
    r"(?:\s*Expected output:\s*```text\n(.*?)```)?",
    re.S,
)


# The committed notebooks and their "Expected output" blocks were made on ml-latest-small with
# the course machine's Tag Genome subset (README): a run with other data prints other numbers.
COURSE_GENOME = "genome_scores.kaggle-format.subset.csv"


def resolved_environ(environ: Mapping[str, str], start: Path) -> dict[str, str]:
    """``environ`` with the relative paths among the ``MOVIELENS_*`` settings made absolute against
    ``start``, for notebook kernels, which run in ``notebooks/`` (or ``apps/``)."""
    resolved = dict(environ)
    for name, variable in VARIABLES.items():
        value = environ.get(variable, "").strip()
        keep = value.lower() in {*RELEASES, "none", ""} or "://" in value  # names, URLs, unset
        if name not in ("user_sample", "max_epochs") and not keep:
            resolved[variable] = str((start / Path(value).expanduser()).absolute())
    return resolved


def made_like_the_committed(settings: Settings) -> bool:
    """Whether a run with ``settings`` should print what the committed notebooks show."""
    return settings.is_course_data and Path(settings.genome or "").name == COURSE_GENOME


class Solution(NamedTuple):
    """A worked solution of an exercise: its code, and what it prints on the course machine
    (``None`` where the notebook gives no "Expected output" block)."""

    code: str
    expected: str | None


def notebooks(pattern: str = "*.ipynb") -> list[Path]:
    """The course notebooks matching ``pattern`` (names in ``notebooks/``), in numbered order;
    ValueError for a pattern that is empty or reaches outside ``notebooks/``."""
    if not pattern.strip() or "/" in pattern or "\\" in pattern or ".." in pattern:
        raise ValueError(
            f"--only takes a glob of notebook names in notebooks/ (e.g. '0[2-4]*'), not "
            f"{pattern!r}."
        )
    return sorted(path for path in (REPO / "notebooks").glob(pattern) if path.suffix == ".ipynb")


def solutions(notebook) -> list[Solution]:
    """Every worked solution in the notebook's markdown, in order."""
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    return [Solution(code, expected or None) for code, expected in SOLUTION.findall(text)]


class UnexpectedOutput(Exception):
    """A worked solution printed other than its notebook's "Expected output" block."""


def printed(cell) -> str:
    """What an executed cell showed as text: its standard output and its value."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type == "execute_result":
            parts.append(output.data.get("text/plain", "") + "\n")
    return "".join(parts)


def unexpected(notebook, stem: str) -> list[str]:
    """One message per executed solution cell whose output is not its "Expected output", under
    the cell's tolerance (``tools.stored_outputs.CELLS[(stem, "solution-N")]``; exact by
    default)."""
    messages = []
    for cell in notebook.cells:
        expected = cell.metadata.get("expected")
        if expected is None:
            continue
        fresh = printed(cell)
        if not accepts(expected.strip(), fresh.strip(), tolerance(stem, cell.id)):
            messages.append(
                f"{stem} {cell.id} printed\n{fresh.rstrip()}\nbut its Expected output says\n"
                f"{expected.rstrip()}\nRun it with --solutions and write what it prints there."
            )
    return messages


def kernel_peak(client: NotebookClient) -> int | None:
    """Peak resident memory (bytes) of the client's kernel, where Linux tells it."""
    pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
    status = Path(f"/proc/{pid}/status")
    if pid is None or not status.exists():
        return None
    line = next(
        (line for line in status.read_text().splitlines() if line.startswith("VmHWM:")), None
    )
    return int(line.split()[1]) * 1024 if line else None


# The kit's own errors: their message is one sentence saying what to do, so a notebook failing
# with one is reported by that sentence alone, not by the kernel's traceback.
KNOWN_ERRORS = frozenset({"DataError", "SettingsError", "LeaderboardError"})


def ipc_config(sockets: Path) -> Config:
    """Kernels talk over Unix sockets in ``sockets`` (private to this user), not over TCP."""
    return Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})


def failure(path: Path, error: CellExecutionError) -> str:
    """What to print when a notebook fails: a known error's sentence, else the traceback."""
    if error.ename in KNOWN_ERRORS:
        return f"error: {path.name} stopped: {error.evalue}"
    return f"\n{path.name} failed:\n{error}"


def execute(
    path: Path,
    target: Path | None,
    with_solutions: bool = False,
    environ: dict | None = None,
    preamble: str = "",
    compare: bool = True,
) -> tuple[float, int | None]:
    """Run one notebook in a fresh ``python3`` kernel, cell by cell with a progress bar; the
    kernel gets ``environ`` (default: this process's environment). ``preamble`` runs in the
    kernel before the first cell and is stored nowhere (benchmarks/portability.py perturbs the
    kernel's numerics with it). ``compare``: each solution must print its Expected output."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timestamps of an earlier run
    extra = []
    for number, solution in enumerate(solutions(notebook) if with_solutions else [], 1):
        cell = nbformat.v4.new_code_cell(solution.code)
        cell.id = f"solution-{number}"
        if solution.expected is not None and compare:
            cell.metadata["expected"] = solution.expected
        extra.append(cell)
    notebook.cells += extra  # the executed solutions end the copy (never the committed notebook)
    started = time.perf_counter()
    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    environ = dict(os.environ) if environ is None else environ
    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:
        client = NotebookClient(
            notebook,
            timeout=3600,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(path.parent)}},
            config=ipc_config(Path(sockets)),
            # once its cells ran, the kernel is killed, not asked to shut down: ipykernel 7.4
            # races a shutdown request against closing its output socket and can print a
            # ZMQError traceback (ENOTSOCK) over the run's own error message
            shutdown_kernel="immediate",
        )
        with client.setup_kernel(env=PORTABLE_NUMERICS | environ):  # your own settings win
            if preamble:  # run as a first cell, then taken out again
                notebook.cells.insert(0, nbformat.v4.new_code_cell(preamble))
                client.execute_cell(notebook.cells[0], 0)
                del notebook.cells[0]
            for index in tqdm(code, desc=path.stem, unit="cell"):
                client.execute_cell(notebook.cells[index], index)
            peak = kernel_peak(client)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
    mismatches = unexpected(notebook, path.stem)
    if mismatches:
        raise UnexpectedOutput("\n\n".join(mismatches))
    return time.perf_counter() - started, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inplace", action="store_true", help="rewrite the committed notebooks")
    parser.add_argument(
        "--only", default="*.ipynb", help="glob of notebooks to run (e.g. '0[2-4]*')"
    )
    parser.add_argument("--out", type=Path, help="folder for the executed copies")
    parser.add_argument("--solutions", action="store_true", help="also run the worked solutions")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.inplace and args.solutions:
        print(
            "error: --inplace keeps the committed notebooks free of solution outputs; drop one.",
            file=sys.stderr,
        )
        return 2
    if args.inplace and not settings.is_course_data:
        print(
            f"error: --inplace would store {settings.label} outputs in the committed notebooks; "
            "drop it.",
            file=sys.stderr,
        )
        return 2
    out = args.out or REPO / "build" / "notebooks" / (
        "" if settings.is_course_data else settings.label
    )
    try:
        paths = notebooks(args.only)
        if not paths:
            raise ValueError(f"no notebook matches {args.only!r} in notebooks/.")
        out = out if args.inplace else writable_out(out)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"data set: {settings.label}", flush=True)
    compare = made_like_the_committed(settings)
    if args.solutions and not compare:
        print(
            "solutions run without comparing their Expected output: it was printed on "
            f"ml-latest-small with MOVIELENS_GENOME=.../{COURSE_GENOME}",
            flush=True,
        )
    environ = resolved_environ(os.environ, Path.cwd())  # kernels run in notebooks/
    total = 0.0
    for path in paths:
        target = path if args.inplace else out / path.name
        try:
            seconds, peak = execute(path, target, args.solutions, environ, compare=compare)
        except CellExecutionError as error:
            print(failure(path, error), file=sys.stderr)
            return 1
        except UnexpectedOutput as error:
            print(f"error: {path.name}: a solution's output changed:\n{error}", file=sys.stderr)
            return 1
        total += seconds
        memory = f", kernel peak {peak / 1024**3:.1f} GiB" if peak else ""
        print(f"{path.name}: {seconds:.0f} s{memory} -> {target}", flush=True)
    print(f"all {len(paths)} notebooks: {total:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
