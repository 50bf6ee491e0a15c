import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.run_notebooks import COURSE_GENOME

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "movielens"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("needs the real MovieLens files in ../shared/data/movielens")
    return SHARED


def require(missing: list[str], test: str) -> None:
    """Skip ``test`` for what it lacks (``missing``), except under ``CI=true``, where a test that
    cannot run fails: CI must run every test."""
    if missing:
        reason = f"{test} needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so it must run here.")
        pytest.skip(reason)


def pytest_report_header() -> str:
    """Name the CPU: stored notebook outputs must match on whatever machine CI lands on."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line),
        "unknown",
    )
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    vector = "avx512f" if "avx512f" in flags else ("avx2" if "avx2" in flags else "no avx2")
    return f"cpu: {model} ({vector})"


@pytest.fixture(scope="session")
def course(shared, tmp_path_factory):
    """ml-latest-small from the shared mirror: settings, ratings, movie data, protocol split."""
    from helpers import Settings, data, protocol

    settings = Settings.from_env().replace(
        mirror=str(shared), cache=tmp_path_factory.mktemp("cache")
    )
    settings = settings.replace(genome=str(shared / "ml-20m" / "partial" / COURSE_GENOME))
    ratings = data.load_ratings(settings)
    train, test = protocol.protocol_split(ratings, 42)
    return {
        "settings": settings,
        "ratings": ratings,
        "source": data.load_movie_data(settings),
        "train": train,
        "test": test,
    }


@pytest.fixture(scope="session")
def small_folder(course, tmp_path_factory) -> Path:
    """A folder in ml-latest-small layout with its first 60 users (models train in seconds)."""
    folder = tmp_path_factory.mktemp("small")
    ratings = course["ratings"]
    ratings[ratings["userId"] <= 60].to_csv(folder / "ratings.csv", index=False)
    course["source"].movies.drop(columns="year").to_csv(folder / "movies.csv", index=False)
    course["source"].tags.to_csv(folder / "tags.csv", index=False)
    return folder


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The course website built by the README's command into a temporary folder, once for the
    site tests and the site's browser test."""
    out = tmp_path_factory.mktemp("site") / "site"
    command = [sys.executable, "-m", "tools.build_site", "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"built the site of \d+ notebooks in [\d.]+ s", result.stdout)
    return out
