"""ruff keeps helpers, tests and the notebooks clean (run as part of the test command)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["helpers", "tests", "notebooks", "apps", "benchmarks", "tools", "conftest.py"]


def ruff(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ruff", *args, *TARGETS]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def test_ruff_check():
    result = ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
