"""The nbval tolerance policy of conftest.py: last digits may move, results may not."""

import json
import os
import subprocess
import sys

import pytest

from tools.stored_outputs import (
    OPENBLAS_PROBE,
    PORTABLE_NUMERICS,
    agrees,
    close,
    openblas_architectures,
    openblas_pin,
)


@pytest.mark.parametrize(
    ("stored", "fresh", "ok"),
    [
        ("0.249", "0.247", True),  # UMAP agreement on another CPU
        ("4.45", "4.46", True),  # predicted stars
        ("0.304", "0.290", False),  # a regression of an NDCG@10
        ("0.8824", "0.8826", True),
        ("82.7%", "83.0%", True),
        ("0.001", "0.004", False),
    ],
)
def test_decimals(stored, fresh, ok):
    assert agrees(stored, fresh, counts=False) is ok


def test_whole_numbers_are_exact_unless_the_cell_allows_counts():
    assert not close("214", "213", counts=False)
    assert close("214", "213", counts=True)
    assert not close("214", "180", counts=True)
    assert close("20,168", "20,168", counts=False)


def test_text_around_the_numbers_must_match():
    assert agrees("RMSE 0.871 vs 0.882: lower", "RMSE 0.872 vs 0.882: lower", counts=False)
    assert not agrees("RMSE 0.871: lower", "RMSE 0.871: higher", counts=False)
    assert not agrees("Toy Story (1995)", "Jumanji (1995)", counts=False)
    assert not agrees("1 2 3", "1 2", counts=False)


def _notebook(folder, printed: str, stored: str, tags=()) -> str:
    """A one-cell notebook that prints ``printed`` and holds ``stored`` as its saved output."""
    import nbformat

    cell = nbformat.v4.new_code_cell(f"print({printed!r})", execution_count=1)
    cell.metadata["tags"] = list(tags)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored + "\n")]
    path = folder / f"check_{abs(hash((printed, stored, tags)))}.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return str(path)


@pytest.mark.parametrize(
    ("printed", "stored", "tags", "passes"),
    [
        ("NDCG@10 0.255", "NDCG@10 0.254", (), True),  # last digit: within tolerance
        ("NDCG@10 0.300", "NDCG@10 0.254", (), False),  # a regression still fails
        ("214 distinct movies", "213 distinct movies", (), False),  # counts are exact ...
        ("214 distinct movies", "213 distinct movies", ("approx-counts",), True),  # ... or 2 % + 1
        ("Toy Story", "Jumanji", (), False),  # text is compared as it is
    ],
)
def test_nbval_applies_the_tolerance(printed, stored, tags, passes):
    """nbval itself, through the repository's conftest.py, on a stored notebook."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = root / "build" / "tolerance-check"  # inside the repository: its conftest applies
    folder.mkdir(parents=True, exist_ok=True)
    notebook = _notebook(folder, printed, stored, tags)
    command = [sys.executable, "-m", "pytest", notebook, "--nbval", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    Path(notebook).unlink()
    assert (result.returncode == 0) is passes, result.stdout[-2000:]


@pytest.mark.parametrize(
    ("picked", "pinned"),
    [
        (["SkylakeX"], True),  # an AVX-512 server: pinned to the AVX2 kernels laptops run
        (["Zen", "Haswell"], True),  # numpy's and scipy's own copies of OpenBLAS
        (["Sandybridge"], False),  # no AVX2: forcing Haswell would crash, so leave it alone
        (["SkylakeX", "Nehalem"], False),
        ([], False),  # no OpenBLAS (Accelerate, MKL builds) or the probe failed
    ],
)
def test_openblas_is_pinned_only_where_the_cpu_has_avx2(picked, pinned):
    assert openblas_pin(picked) == ({"OPENBLAS_CORETYPE": "Haswell"} if pinned else {})


def test_kernels_started_with_the_settings_run_openblas_on_its_avx2_kernels():
    """The variable is honoured: a fresh Python with the executors' settings reports Haswell."""
    if not openblas_pin(openblas_architectures()):
        pytest.skip("OpenBLAS picks no AVX2 kernels on this CPU: nothing is pinned")
    env = os.environ | PORTABLE_NUMERICS
    done = subprocess.run(
        [sys.executable, "-c", OPENBLAS_PROBE], env=env, capture_output=True, text=True
    )
    assert set(json.loads(done.stdout)) == {"Haswell"}, done.stderr
