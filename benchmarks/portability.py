"""How far each stored notebook output moves under numerics that another machine could produce.

The stored outputs come from one CPU; nbval compares them on yours (``tools.stored_outputs``
holds the tolerance). This script re-executes the notebooks once per perturbation that one
machine can produce, each in fresh kernels with fresh models (scratch ``MOVIELENS_ARTIFACTS``
and ``MOVIELENS_RESULTS``, the committed leaderboard copied in first), and prints, per code
cell whose outputs hold a number, the largest move from the stored output and whether nbval
would accept it. Exit status 1 when a cell is out of its tolerance. ::

    python benchmarks/portability.py                       # every perturbation, every notebook
    python benchmarks/portability.py --only '0[23]*' --perturb nudge --json portability.json
    python benchmarks/portability.py --solutions     # the worked solutions too (solution-N)

The perturbations (``--perturb``; ``avx512`` only where the CPU has AVX-512):

* ``default``, ``avx512``: torch's vectorised kernels without AVX2, or with AVX-512
  (``ATEN_CPU_CAPABILITY``), what another CPU takes;
* ``threads-1``, ``threads-4``: torch, OpenMP, BLAS and numba held at 1 or 4 threads, where the
  notebooks ask for 2 (another laptop's cores);
* ``mkl-auto``: MKL's reproducibility mode off (``MKL_CBWR=AUTO``, this CPU's fastest path);
* ``nudge``: every trained model's initial weights times ``1 + 1e-6 * N(0, 1)`` (a rounding
  difference before the first epoch; training must not amplify it).
"""

from __future__ import annotations

import argparse
import configparser
import copy
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbval.plugin import coalesce_streams

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tools.run_notebooks import execute, notebooks, printed, solutions  # noqa: E402
from tools.stored_outputs import (  # noqa: E402
    NUMBER,
    Tolerance,
    accepts,
    shared_lines,
    skeleton,
    tolerance,
)

TEXTS = ("text/plain", "text/html")
HOLD_THREADS = """
import torch
_set_threads = torch.set_num_threads
torch.set_num_threads = lambda n: _set_threads({n})  # the notebooks ask for 2
torch.set_num_threads({n})
"""
NUDGE = """
import torch
_adam = torch.optim.Adam.__init__
_nudges = torch.Generator().manual_seed(20261205)

def _nudged(self, params, *args, **kwargs):
    params = list(params)
    with torch.no_grad():
        for p in params:
            noise = torch.randn(p.shape, generator=_nudges).to(p.device, p.dtype)
            p.mul_(1 + 1e-6 * noise)
    _adam(self, params, *args, **kwargs)

torch.optim.Adam.__init__ = _nudged  # every GNN of the kit trains with Adam
"""


def threads(n: int) -> dict[str, str]:
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
    return dict.fromkeys(names, str(n))


# name -> (environment, kernel preamble)
PERTURBATIONS = {
    "default": ({"ATEN_CPU_CAPABILITY": "default"}, ""),
    "avx512": ({"ATEN_CPU_CAPABILITY": "avx512"}, ""),
    "threads-1": (threads(1), HOLD_THREADS.format(n=1)),
    "threads-4": (threads(4), HOLD_THREADS.format(n=4)),
    "mkl-auto": ({"MKL_CBWR": "AUTO"}, ""),
    "nudge": ({}, NUDGE),
}


def has_avx512() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.exists() and "avx512f" in cpuinfo.read_text()


def sanitizer() -> list[tuple[re.Pattern, str]]:
    """nbval's sanitize rules of the test command (tests/nbval_sanitize.cfg)."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(REPO / "tests" / "nbval_sanitize.cfg")
    return [(re.compile(s["regex"]), s["replace"]) for s in config.values() if "regex" in s]


def texts(cell) -> list[str]:
    """The printed texts of a code cell's outputs, in order, each stream joined into one text as
    nbval joins them before comparing (how a kernel splits prints depends on timing)."""
    found = []
    for output in coalesce_streams(copy.deepcopy(cell.get("outputs", []))):
        if output.get("output_type") == "stream":
            found.append(output.get("text", ""))
        else:
            found += [output["data"][k] for k in TEXTS if k in output.get("data", {})]
    return found


def compare(stored, fresh, allowed: Tolerance, rules) -> dict | None:
    """The largest move of a number between two outputs of one cell, and nbval's verdict under
    the cell's declared tolerance; None when the stored cell prints no number."""
    old, new = texts(stored), texts(fresh)
    for pattern, replacement in rules:
        old = [pattern.sub(replacement, t) for t in old]
        new = [pattern.sub(replacement, t) for t in new]
    if not any(NUMBER.search(t) for t in old):
        return None
    worst, ok = {"absolute": 0.0, "relative": 0.0, "stored": "", "fresh": ""}, len(old) == len(new)
    for a, b in zip(old, new, strict=False):
        ok = ok and accepts(a, b, allowed)
        if skeleton(a) != skeleton(b):
            worst["stored"], worst["fresh"] = "(text differs)", ""
            worst["overlap"] = min(worst.get("overlap", 1.0), shared_lines(a, b))
            continue
        for x, y in zip(NUMBER.findall(a), NUMBER.findall(b), strict=True):
            x_, y_ = float(x.replace(",", "")), float(y.replace(",", ""))
            if abs(x_ - y_) > worst["absolute"]:  # the largest move, as printed
                relative = abs(x_ - y_) / abs(x_) if x_ else float("inf")
                worst |= {"absolute": abs(x_ - y_), "relative": relative, "stored": x, "fresh": y}
    return worst | {"within": ok}


def as_printed(text: str, cell_id: str):
    """An executed code cell ``cell_id`` whose one output is ``text`` on standard output."""
    cell = nbformat.v4.new_code_cell(execution_count=1)
    cell.id = cell_id
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return cell


def compared(path: Path, target: Path, with_solutions: bool, rules) -> dict[str, dict]:
    """Per cell of the stored notebook ``path``, its comparison with the executed copy ``target``
    (a worked solution's with its "Expected output" block, cell ``solution-N``)."""
    stored, fresh = nbformat.read(path, 4), nbformat.read(target, 4)
    pairs = list(zip(stored.cells, fresh.cells, strict=False))
    worked = solutions(stored) if with_solutions else []
    for solution, cell in zip(worked, fresh.cells[len(stored.cells) :], strict=True):
        if solution.expected is not None:
            expected, fresh_text = solution.expected.strip(), printed(cell).strip()
            pairs.append((as_printed(expected, cell.id), as_printed(fresh_text, cell.id)))
    cells = {}
    for index, (old, new) in enumerate(pairs):
        ignored = {"nbval-ignore-output", "nbval-skip"} & set(old.metadata.get("tags", []))
        if old.cell_type != "code" or old.get("execution_count") is None or ignored:
            continue  # nbval compares none of these
        found = compare(old, new, tolerance(path.stem, old.get("id", "")), rules)
        if found is not None:
            cells[f"{path.stem} {old.get('id', index)}"] = found
    return cells


def run(name: str, paths: list[Path], scratch: Path, with_solutions: bool) -> dict[str, dict]:
    """Execute ``paths`` under one perturbation; per cell, its comparison with the stored one."""
    environment, preamble = PERTURBATIONS[name]
    results = scratch / name / "results"
    results.mkdir(parents=True)
    shutil.copy(REPO / "results" / "leaderboard.csv", results)
    environ = dict(os.environ) | environment
    environ |= {"MOVIELENS_ARTIFACTS": str(scratch / name / "artifacts")}
    environ |= {"MOVIELENS_RESULTS": str(results)}
    rules, cells = sanitizer(), {}
    for path in paths:
        target = scratch / name / path.name
        execute(path, target, with_solutions, environ, preamble, compare=False)
        cells |= compared(path, target, with_solutions, rules)
    return cells


def changed(cell: dict) -> bool:
    """Whether a compared cell moved at all: a number, its text (titles reordered), or past its
    tolerance."""
    return bool(cell["absolute"]) or cell["stored"] == "(text differs)" or not cell["within"]


def report(name: str, cells: dict[str, dict]) -> None:
    moved = {key: cell for key, cell in cells.items() if changed(cell)}
    out = [key for key, cell in cells.items() if not cell["within"]]
    print(f"\n{name}: {len(cells)} cells with numbers, {len(moved)} moved, {len(out)} out of "
          "tolerance")  # fmt: skip
    for key, cell in moved.items():
        verdict = "ok " if cell["within"] else "OUT"
        change = f"{cell['stored']} -> {cell['fresh']}" if cell["stored"] else ""
        if "overlap" in cell:
            change += f" ({cell['overlap']:.0%} of the stored lines came back)"
        print(f"  {verdict} {key:30} largest move {cell['absolute']:8.4g}  {change}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="*.ipynb", help="glob of notebooks (e.g. '0[2-4]*')")
    parser.add_argument("--perturb", nargs="+", choices=list(PERTURBATIONS), metavar="NAME")
    parser.add_argument("--json", type=Path, help="also write every cell's comparison here")
    parser.add_argument(
        "--solutions",
        action="store_true",
        help="also run each worked solution and compare it with its Expected output block",
    )
    args = parser.parse_args(argv)
    names = args.perturb or [n for n in PERTURBATIONS if n != "avx512" or has_avx512()]
    if "avx512" in names and not has_avx512():
        print("error: this CPU has no AVX-512; drop --perturb avx512.", file=sys.stderr)
        return 2
    paths = notebooks(args.only)
    if not paths:
        print(f"error: no notebook matches {args.only!r} in notebooks/.", file=sys.stderr)
        return 2
    found = {}
    with tempfile.TemporaryDirectory(prefix="portability-") as scratch:
        for name in names:
            found[name] = run(name, paths, Path(scratch), args.solutions)
            report(name, found[name])
            if args.json:  # after each perturbation, so a long run keeps what it measured
                args.json.write_text(json.dumps(found, indent=1) + "\n")
    failed = [name for name, cells in found.items() if not all(c["within"] for c in cells.values())]
    print(f"\nout of tolerance under: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
