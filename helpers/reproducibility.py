"""Same numbers on every run (notebook 01 seeds everything first)."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from threadpoolctl import threadpool_limits

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
