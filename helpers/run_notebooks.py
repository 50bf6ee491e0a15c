"""Execute every notebook top to bottom, headless: ``python -m helpers.run_notebooks``.

Executed copies go to ``build/notebooks`` (git-ignored); ``--inplace`` refreshes the committed
notebooks' outputs instead (what a maintainer does after changing code).
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

from helpers.data import repo_root


def notebooks(pattern: str = "*.ipynb") -> list[Path]:
    """The course notebooks, in their numbered order."""
    return sorted((repo_root() / "notebooks").glob(pattern))


def execute(path: Path, target: Path, timeout: int = 1800) -> float:
    """Run one notebook in a fresh ``python3`` kernel, cell by cell with a progress bar."""
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
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inplace", action="store_true", help="rewrite the committed notebooks")
    parser.add_argument("--only", default="*.ipynb", help="glob of notebooks to run (e.g. 02*)")
    parser.add_argument("--out", type=Path, default=repo_root() / "build" / "notebooks")
    args = parser.parse_args(argv)
    paths = notebooks(args.only)
    if not paths:
        print(f"No notebook matches {args.only!r} in notebooks/.", file=sys.stderr)
        return 2
    for path in paths:
        target = path if args.inplace else args.out / path.name
        try:
            seconds = execute(path, target)
        except CellExecutionError as error:
            print(f"\n{path.name} failed:\n{error}", file=sys.stderr)
            return 1
        print(f"{path.name}: executed in {seconds:.0f} s -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
