"""Importing helpers pins one CPU code path, so stored notebook outputs match on any x86-64 CPU."""

import os
import platform
import subprocess
import sys

import pytest

from helpers import reproducibility

PROBE = """
import helpers, numba, torch
print(numba.config.CPU_NAME, torch.backends.cpu.get_cpu_capability())
"""

x86_only = pytest.mark.skipif(
    platform.machine().lower() not in {"x86_64", "amd64"}, reason="the pin is for x86-64 CPUs"
)


def _probe(**overrides: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in reproducibility.PORTABLE_CPU_NUMERICS}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env={**env, **overrides}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@x86_only
def test_importing_helpers_pins_numba_and_torch_kernels():
    assert _probe() == ["generic", "AVX2"]


@x86_only
def test_a_variable_set_by_the_user_wins():
    assert _probe(ATEN_CPU_CAPABILITY="default")[1] == "DEFAULT"
