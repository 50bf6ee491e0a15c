"""Every setting the kit takes from the environment, read here once and validated, and the
seeding that makes every run give the same numbers.

Notebooks start with ``settings = Settings.from_env()`` and ``seed_everything(42)`` (notebook 01
shows both) and pass the settings down; no other module reads environment variables.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = "ml-latest-small"
LARGE = 2_000_000  # ratings from which one full-graph epoch costs tens of seconds on a CPU
LARGE_EPOCHS = 10  # the default epoch budget from LARGE ratings (README: minutes per model at 25M)
MIRROR_HELP = (
    "Point it at a folder laid out like GroupLens' datasets/movielens/ (holding "
    "ml-latest-small.zip ...), or at a file://, http:// or https:// URL of one."
)


class SettingsError(ValueError):
    """A setting has a value the kit cannot use; the message names the variable and a fix."""


def _count(name: str, value: str) -> int | None:
    """A positive whole number, or None for an empty value."""
    if not value:
        return None
    if not value.isdecimal() or int(value) == 0:  # isdigit() passes "²"
        raise SettingsError(
            f"{VARIABLES[name]}={value!r} is not a positive whole number; set e.g. "
            f"{VARIABLES[name]}=10, or unset it."
        )
    return int(value)


def _mirror(mirror: str) -> str | None:
    """A mirror folder or URL the downloader can use, or None for an empty value."""
    if not mirror:
        return None
    if "://" not in mirror:
        if not os.path.isdir(Path(mirror).expanduser()):  # False for a name too long, too
            raise SettingsError(f"MOVIELENS_MIRROR={mirror!r} is not a folder. {MIRROR_HELP}")
        return mirror
    try:
        parsed = urlparse(mirror)
        parsed.port  # noqa: B018 - raises ValueError for a malformed host or port
    except ValueError as error:
        raise SettingsError(f"MOVIELENS_MIRROR={mirror!r} is not a valid URL ({error}).") from None
    if parsed.scheme != "file" and (parsed.scheme not in ("http", "https") or not parsed.hostname):
        raise SettingsError(f"MOVIELENS_MIRROR={mirror!r} cannot be read. {MIRROR_HELP}")
    return mirror


@dataclass(frozen=True)
class Settings:
    """Where the data comes from and goes, and how much of it to use (defaults: the course)."""

    dataset: str = DEFAULT_DATASET  # a GroupLens release, or a folder of MovieLens CSVs
    mirror: str | None = None  # a folder or URL laid out like GroupLens' datasets/movielens/
    cache: Path = REPO / "data"  # downloads and parquet copies (git-ignored)
    genome: str | None = None  # a genome-scores.csv, a release (ml-25m) or "none"
    user_sample: int | None = None  # keep the ratings of this many random users
    max_epochs: int | None = None  # cap on training epochs (default: LARGE_EPOCHS at scale)
    artifacts: Path = REPO / "artifacts"  # trained models (git-ignored)
    results: Path = REPO / "results"  # the leaderboard the notebooks write

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the ``MOVIELENS_*`` variables ask for; a bad value raises SettingsError."""
        env = os.environ if environ is None else environ
        get = {name: env.get(variable, "").strip() for name, variable in VARIABLES.items()}
        folders = ("cache", "artifacts", "results")  # a blank one keeps the default
        return cls(
            dataset=get["dataset"] or DEFAULT_DATASET,
            mirror=_mirror(get["mirror"]),
            genome=get["genome"] or None,
            user_sample=_count("user_sample", get["user_sample"]),
            max_epochs=_count("max_epochs", get["max_epochs"]),
            **{name: Path(get[name]).expanduser() for name in folders if get[name]},
        )

    def replace(self, **changes) -> Settings:
        """A copy with ``changes`` (settings are frozen)."""
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        """Data set and sample as a short name (``ml-25m-10000users``) for result file names."""
        name = Path(self.dataset).name
        return f"{name}-{self.user_sample}users" if self.user_sample else name

    @property
    def is_course_data(self) -> bool:
        """True for the data the committed notebooks show: the ml-latest-small release (never a
        folder, whatever its name), every user."""
        return self.dataset == DEFAULT_DATASET and self.user_sample is None

    def epochs(self, wanted: int, n_ratings: int) -> int:
        """``wanted`` epochs, capped by ``max_epochs``, or by LARGE_EPOCHS from LARGE ratings."""
        if self.max_epochs is not None:
            return min(wanted, self.max_epochs)
        return min(wanted, LARGE_EPOCHS) if n_ratings >= LARGE else wanted


VARIABLES = {  # each setting's environment variable (the README lists them)
    "dataset": "MOVIELENS_DATASET",
    "mirror": "MOVIELENS_MIRROR",
    "cache": "MOVIELENS_CACHE",
    "genome": "MOVIELENS_GENOME",
    "user_sample": "MOVIELENS_USER_SAMPLE",
    "max_epochs": "MOVIELENS_MAX_EPOCHS",
    "artifacts": "MOVIELENS_ARTIFACTS",
    "results": "MOVIELENS_RESULTS",
}

THREADS = 2  # the course machine's cores: the stored outputs were computed with this many


def seed_everything(seed: int = 42, threads: int | None = THREADS) -> None:
    """Seed Python, NumPy and torch, ask for deterministic kernels and fix the CPU threads (a sum
    split over other threads rounds differently); ``threads=None`` keeps the machine's count."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads:
        torch.set_num_threads(threads)
        threadpool_limits(threads)  # numpy's and scipy's BLAS, and OpenMP


def device() -> torch.device:
    """The GPU when there is one, else the CPU: the kit trains on it and serves from the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
