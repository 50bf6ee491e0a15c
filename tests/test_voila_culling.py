"""Voilà started from the repository root (README: ``voila apps/explorer.ipynb``, and
tests/test_voila_browser.py) reads ``voila.json``: the kernel of a page nobody has open any more
is shut down once idle, instead of holding about 1 GB until the server stops (issue 30, item 20).

No browser is needed: a page fetched over HTTP starts its kernel and never connects to it, as a
closed tab leaves it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("voila")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kernels_of(pid: int) -> list[int]:
    """The ipykernel processes whose parent is ``pid``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines())
            command = (status.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if fields.get("PPid", "").strip() == str(pid) and b"ipykernel" in command:
            found.append(int(status.parent.name))
    return found


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_the_kernel_of_a_closed_page_is_culled(tmp_path):
    config = json.loads((ROOT / "voila.json").read_text())
    culling = config["MappingKernelManager"]
    assert culling["cull_idle_timeout"] > 0 and culling["cull_connected"] is False
    culling |= {"cull_idle_timeout": 3, "cull_interval": 1}  # the same settings, sooner
    (tmp_path / "voila.json").write_text(json.dumps(config))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(notebook, tmp_path / "page.ipynb")
    port = free_port()
    command = [sys.executable, "-m", "voila", "page.ipynb", "--no-browser", f"--port={port}",
               "--Voila.ip=127.0.0.1"]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        assert wait_for(lambda: _answers(url + "voila/static/voila.js"), 60), "Voilà did not start"
        with urllib.request.urlopen(url, timeout=60) as page:
            page.read()  # the notebook ran in a fresh kernel; no browser ever connects to it
        assert wait_for(lambda: kernels_of(server.pid), 30), "the page started no kernel"
        assert wait_for(lambda: not kernels_of(server.pid), 30), "the idle kernel kept running"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except OSError:
        return False
    return True
