"""Tests and nbval read the real MovieLens files in ../shared when they are there (CI, the
course machines); elsewhere they use MOVIELENS_MIRROR or download from GroupLens. Set here, at
the root, so notebook kernels started by nbval inherit it too."""

import os
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent / "shared" / "data" / "movielens"
GENOME_SUBSET = SHARED / "ml-20m" / "partial" / "genome_scores.kaggle-format.subset.csv"

if SHARED.is_dir():
    os.environ.setdefault("MOVIELENS_MIRROR", str(SHARED))
    os.environ.setdefault("MOVIELENS_GENOME", str(GENOME_SUBSET))
