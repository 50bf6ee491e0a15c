"""Stored notebook outputs that hold on any machine: the code paths the executors pin, and the
README's tolerance policy, as nbval applies it (conftest.py).

Each library picks its fastest code path for the CPU it runs on (numba, MKL, torch, and the
OpenBLAS inside numpy and scipy), and different paths add floats in different orders. The kit's
executors (tools/run_notebooks.py, the test command) start notebook kernels with
:data:`PORTABLE_NUMERICS`; what still differs is compared with tolerance.
A decimal may differ from the stored one by 1 % of it or 2 units of its last digit, whichever is
larger; whole numbers must be equal, except in cells tagged ``approx-counts`` (counts read off a
trained model or a UMAP map: 2 % + 1). Text, titles, ids and messages must be equal.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

# OpenBLAS kernel sets that need AVX2 or more (numpy's and scipy's BLAS; names as it reports them)
AVX2_OR_BETTER = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"}
OPENBLAS_PROBE = (
    "import json, numpy, threadpoolctl; print(json.dumps([i.get('architecture') or '' for i in "
    "threadpoolctl.threadpool_info() if i.get('internal_api') == 'openblas']))"
)


def openblas_pin(architectures: list[str]) -> dict[str, str]:
    """OpenBLAS's AVX2 kernels where it picked AVX2 or better; nothing where it did not: unlike
    MKL's and torch's settings, a forced OpenBLAS core type is not checked against the CPU."""
    fit = bool(architectures) and all(a.lower() in AVX2_OR_BETTER for a in architectures)
    return {"OPENBLAS_CORETYPE": "Haswell"} if fit else {}


def openblas_architectures() -> list[str]:
    """The kernel sets numpy's OpenBLAS picks on this CPU, asked in a fresh Python (numpy would
    fix them in this one on import); [] where the probe fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", OPENBLAS_PROBE], capture_output=True, text=True, timeout=60
        )
        return json.loads(done.stdout) if done.returncode == 0 else []
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return []


PORTABLE_NUMERICS = {
    "NUMBA_CPU_NAME": "generic",  # numba (UMAP, the SVD kernels) compiles for any x86-64
    "MKL_CBWR": "AVX2",  # MKL's matrix products take the AVX2 path on every CPU that has it
    "ATEN_CPU_CAPABILITY": "avx2",  # so do torch's own vectorised kernels
} | openblas_pin(openblas_architectures())  # numpy's and scipy's OpenBLAS too, where it is safe
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?")
RELATIVE, LAST_DIGITS, COUNTS = 0.01, 2, 0.02


def close(stored: str, fresh: str, counts: bool) -> bool:
    """Whether two printed numbers agree under the tolerance policy."""
    if "." not in stored and "e" not in stored.lower():
        if stored == fresh or not counts or "." in fresh:
            return stored == fresh
        a, b = int(stored.replace(",", "")), int(fresh.replace(",", ""))
        return abs(a - b) <= COUNTS * abs(a) + 1
    decimals = len(stored.split(".")[1].split("e")[0]) if "." in stored else 0
    a, b = float(stored.replace(",", "")), float(fresh.replace(",", ""))
    return abs(a - b) <= max(RELATIVE * abs(a), LAST_DIGITS * 10.0**-decimals)


def agrees(stored: str, fresh: str, counts: bool) -> bool:
    """Same text around the numbers, and every number within tolerance."""
    if NUMBER.sub("#", stored) != NUMBER.sub("#", fresh):
        return False
    pairs = zip(NUMBER.findall(stored), NUMBER.findall(fresh), strict=True)
    return all(close(a, b, counts) for a, b in pairs)
