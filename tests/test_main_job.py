"""The README's main job on a fresh machine: every notebook, and every worked solution of its
exercises, runs top to bottom with a clean cache and an offline mirror holding only
ml-latest-small.zip; with the course machine's Tag Genome subset (as the committed outputs were
made), so each solution must print its notebook's "Expected output". And every notebook once
more on a small user sample (``MOVIELENS_USER_SAMPLE``), which lacks the user and the movie
counts they show on the course data."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import Settings, data
from tools.run_notebooks import COURSE_GENOME

ROOT = Path(__file__).resolve().parents[1]


def course_environment(shared: Path, tmp_path: Path) -> dict[str, str]:
    """A fresh machine's environment: a clean cache, an offline mirror holding only
    ml-latest-small.zip, and the course machine's Tag Genome subset."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(shared / "ml-latest-small.zip", mirror)
    genome = next(shared.rglob(COURSE_GENOME))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIELENS_")}
    return env | {"MOVIELENS_MIRROR": str(mirror), "MOVIELENS_CACHE": str(tmp_path / "cache"),
                  "MOVIELENS_ARTIFACTS": str(tmp_path / "artifacts"),
                  "MOVIELENS_RESULTS": str(tmp_path / "results"),
                  "MOVIELENS_GENOME": str(genome)}  # fmt: skip


def run_notebooks(env: dict[str, str], out: Path, *options: str) -> str:
    """Run ``python -m tools.run_notebooks --out out`` and return what it printed; fail with its
    report unless every notebook ran."""
    command = [sys.executable, "-m", "tools.run_notebooks", "--out", str(out), *options]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    report = result.stdout + result.stderr[-4000:]
    assert result.returncode == 0, report
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in out.glob("*.ipynb")) == notebooks, report
    assert f"all {len(notebooks)} notebooks" in result.stdout, report
    return result.stdout


def test_main_job_runs_every_notebook_and_prints_every_solutions_expected_output(shared, tmp_path):
    stdout = run_notebooks(
        course_environment(shared, tmp_path), tmp_path / "executed", "--solutions"
    )
    assert "without comparing" not in stdout, stdout
    print(stdout)


def test_every_notebook_runs_on_a_user_sample_without_user_1_or_a_movie_of_100_ratings(
    shared, tmp_path
):
    """``MOVIELENS_USER_SAMPLE`` (README) keeps 100 random users here: not user 1, whom notebooks
    02 and 08 show on the course data, and no movie with the 100 train ratings 08's
    nearest-movie count asks for. Three epochs a model: this checks that the code runs, not its
    numbers."""
    env = course_environment(shared, tmp_path) | {"MOVIELENS_USER_SAMPLE": "100",
                                                  "MOVIELENS_MAX_EPOCHS": "3"}  # fmt: skip
    sample_settings = Settings.from_env(env | {"MOVIELENS_CACHE": str(tmp_path / "sample-cache")})
    sample = data.load_ratings(sample_settings)  # its own cache: the notebooks' cache starts clean
    assert 1 not in set(sample["userId"]), "the sample holds user 1: it tests nothing"
    assert sample["movieId"].value_counts().max() < 100, "a movie has 100 ratings in the sample"
    print(run_notebooks(env, tmp_path / "executed"))
