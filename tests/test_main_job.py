"""The README's main job on a fresh machine: every notebook, and every worked solution of its
exercises, runs top to bottom with a clean cache and an offline mirror holding only
ml-latest-small.zip; with the course machine's Tag Genome subset (as the committed outputs were
made), so each solution must print its notebook's "Expected output"."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools.run_notebooks import COURSE_GENOME

ROOT = Path(__file__).resolve().parents[1]


def test_main_job_runs_every_notebook_and_prints_every_solutions_expected_output(shared, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(shared / "ml-latest-small.zip", mirror)
    genome = next(shared.rglob(COURSE_GENOME))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIELENS_")}
    env |= {"MOVIELENS_MIRROR": str(mirror), "MOVIELENS_CACHE": str(tmp_path / "cache"),
            "MOVIELENS_ARTIFACTS": str(tmp_path / "artifacts"),
            "MOVIELENS_RESULTS": str(tmp_path / "results"),
            "MOVIELENS_GENOME": str(genome)}  # fmt: skip
    out = tmp_path / "executed"
    command = [sys.executable, "-m", "tools.run_notebooks", "--out", str(out), "--solutions"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    report = result.stdout + result.stderr[-4000:]
    assert result.returncode == 0, report
    assert "without comparing" not in result.stdout, report
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in out.glob("*.ipynb")) == notebooks, report
    assert f"all {len(notebooks)} notebooks" in result.stdout, report
    print(result.stdout)
