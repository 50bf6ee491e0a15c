"""The README's main job on a fresh machine: every notebook (and every worked solution of its
exercises) runs top to bottom with a clean cache, an offline mirror holding only
ml-latest-small.zip, and no Tag Genome configured."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_main_job_runs_every_notebook_and_solution_offline_without_a_genome(shared, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(shared / "ml-latest-small.zip", mirror)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIELENS_")}
    env |= {"MOVIELENS_MIRROR": str(mirror), "MOVIELENS_CACHE": str(tmp_path / "cache"),
            "MOVIELENS_ARTIFACTS": str(tmp_path / "artifacts"),
            "MOVIELENS_RESULTS": str(tmp_path / "results")}  # fmt: skip
    out = tmp_path / "executed"
    command = [sys.executable, "-m", "tools.run_notebooks", "--out", str(out), "--solutions"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    report = result.stdout + result.stderr[-4000:]
    assert result.returncode == 0, report
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in out.glob("*.ipynb")) == notebooks, report
    assert f"all {len(notebooks)} notebooks" in result.stdout, report
    genome = next(
        line
        for line in (out / "04_tag_genome.ipynb").read_text().splitlines()
        if "No Tag Genome" in line
    )
    assert "MOVIELENS_GENOME" in genome
    print(result.stdout)
