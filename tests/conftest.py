"""Tests read the real MovieLens files in ../shared when they are there (CI, this course's
machines); elsewhere they use MOVIELENS_MIRROR or download from GroupLens."""

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "movielens"
GENOME_SUBSET = SHARED / "ml-20m" / "partial" / "genome_scores.kaggle-format.subset.csv"

if SHARED.is_dir():
    os.environ.setdefault("MOVIELENS_MIRROR", str(SHARED))
    os.environ.setdefault("MOVIELENS_GENOME", str(GENOME_SUBSET))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("needs the real MovieLens files in ../shared/data/movielens")
    return SHARED
