"""Same numbers on every run, and on every x86-64 CPU: what nbval in CI relies on."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

# Each library below picks its fastest code path for the CPU it runs on, and different paths add
# floats in a different order: a notebook executed on one server then differed from CI on another
# (UMAP's map, through numba, in the third decimal). Pinning costs ~5 % (cpu_numerics.py).
PORTABLE_CPU_NUMERICS = {
    "NUMBA_CPU_NAME": "generic",  # numba (UMAP, the SVD kernels) compiles for any x86-64
    "MKL_CBWR": "AVX2",  # MKL's matrix products take the AVX2 path on every CPU that has it
    "ATEN_CPU_CAPABILITY": "avx2",  # so do torch's own vectorised kernels
}


def pin_cpu_numerics() -> None:
    """Ask numba, MKL and torch for one code path on every x86-64 CPU (unless already set).

    They read these variables when first used, so ``helpers`` calls this on import; set one
    yourself beforehand (say ``MKL_CBWR=AUTO``) to trade reproducibility for speed.
    """
    if platform.machine().lower() in {"x86_64", "amd64"}:
        for name, value in PORTABLE_CPU_NUMERICS.items():
            os.environ.setdefault(name, value)


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and torch, and ask torch for deterministic kernels.

    Deterministic kernels matter because message passing sums many floats in parallel: without
    them two runs can differ in the last digits, and nbval would see different outputs.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False


def device() -> torch.device:
    """The GPU when there is one, else the CPU: the same code runs on both."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
