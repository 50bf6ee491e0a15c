from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("needs the real MovieLens files in ../shared/data/movielens")
    return SHARED


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
