"""Execute every notebook top to bottom, headless: ``python -m helpers.run_notebooks``.

Executed copies go to ``build/notebooks`` (git-ignored); ``--inplace`` refreshes the committed
notebooks' outputs instead (what a maintainer does after changing code). Each notebook's wall
time and the peak resident memory of its kernel are printed. The data set is whatever
``MOVIELENS_DATASET`` says (see :mod:`helpers.data`), e.g. ``MOVIELENS_DATASET=ml-25m``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm import tqdm

from helpers.data import DEFAULT_DATASET, repo_root, run_label


def notebooks(pattern: str = "*.ipynb") -> list[Path]:
    """The course notebooks, in their numbered order."""
    return sorted((repo_root() / "notebooks").glob(pattern))


def kernel_peak_rss(client: NotebookClient) -> int | None:
    """Peak resident memory (bytes) of the client's kernel process, where Linux tells it."""
    pid = getattr(getattr(client.km, "provisioner", None), "pid", None)
    status = Path(f"/proc/{pid}/status")
    if pid is None or not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def execute(path: Path, target: Path, timeout: int = 7200) -> tuple[float, int | None]:
    """Run one notebook in a fresh ``python3`` kernel, cell by cell with a progress bar.

    Returns the wall time in seconds and the kernel's peak resident memory in bytes.
    """
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timestamps of an earlier run
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,  # no wall-clock timestamps in the committed notebooks
        resources={"metadata": {"path": str(path.parent)}},
    )
    started = time.perf_counter()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    with client.setup_kernel():
        with tqdm(total=len(code_cells), desc=path.stem, unit="cell") as bar:
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    bar.update()
        peak = kernel_peak_rss(client)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return time.perf_counter() - started, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inplace", action="store_true", help="rewrite the committed notebooks")
    parser.add_argument("--only", default="*.ipynb", help="glob of notebooks to run (e.g. 02*)")
    parser.add_argument("--out", type=Path, help="folder for the executed copies")
    args = parser.parse_args(argv)
    label = run_label()
    if args.inplace and label != DEFAULT_DATASET:
        print(
            f"--inplace would store {label} outputs in the committed notebooks, which show "
            f"{DEFAULT_DATASET}; drop --inplace (copies go to build/notebooks/{label}/).",
            file=sys.stderr,
        )
        return 2
    out = args.out or repo_root() / "build" / "notebooks"
    out = out if label == DEFAULT_DATASET or args.out else out / label
    paths = notebooks(args.only)
    if not paths:
        print(f"No notebook matches {args.only!r} in notebooks/.", file=sys.stderr)
        return 2
    print(f"data set: {label}")
    for path in paths:
        target = path if args.inplace else out / path.name
        try:
            seconds, peak = execute(path, target)
        except CellExecutionError as error:
            print(f"\n{path.name} failed:\n{error}", file=sys.stderr)
            return 1
        memory = f", peak RSS {peak / 1024**3:.1f} GiB" if peak else ""
        print(f"{path.name}: executed in {seconds:.0f} s{memory} -> {target}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
