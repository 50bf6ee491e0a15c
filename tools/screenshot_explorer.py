"""A screenshot of the explorer web app: ``python -m tools.screenshot_explorer``.

Voilà serves ``apps/explorer.ipynb`` (the models come from ``artifacts/``, trained first when
missing), headless Chromium opens it at 1280x800 with no network beyond 127.0.0.1, waits for the
results table and saves what a visitor sees first, down to the table, as
``notebooks/images/explorer.png``: the picture notebook 08 shows before anything runs. Needs
Debian's ``chromium`` (``/usr/bin/chromium``), ``playwright`` and ``voila``. The browser test
(``tests/test_voila_browser.py``) starts Voilà and Chromium with the same functions.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "explorer.ipynb"
PICTURE = ROOT / "notebooks" / "images" / "explorer.png"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # Debian's package
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}  # a laptop screen: the app must fit above its fold
RESULTS = "table.explorer-results"  # the widget's results table (helpers.explorer.widget)


class AppError(Exception):
    """Voilà or the page did not come up; the message says why (with the end of Voilà's log)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def voila(
    env: Mapping[str, str], log_path: Path, timeout_s: float, app: Path = APP
) -> Iterator[str]:
    """A Voilà server for ``app`` on a free local port, started from the repository root (so it
    reads ``voila.json``); yields its URL. SIGTERM stops it and its kernels."""
    port = free_port()
    command = [
        sys.executable, "-m", "voila", str(app), "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", f"--VoilaExecutor.timeout={int(timeout_s)}",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=dict(env)
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:  # poll a static file: every GET / would start a kernel
            try:
                urllib.request.urlopen(url + "voila/static/voila.js", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log = log_path.read_text()[-3000:]
                    raise AppError(f"Voilà did not start:\n{log}") from None
                time.sleep(0.3)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextmanager
def app_page(
    url: str, log_path: Path, timeout_s: float, blocked: list[str] | None = None
) -> Iterator:
    """The app in headless Chromium at :data:`VIEWPORT`, once its results table is there; the
    browser gets no network beyond 127.0.0.1, and each request it was refused is added to
    ``blocked``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        try:
            context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
            refused = [] if blocked is None else blocked

            def refuse(route) -> None:
                refused.append(route.request.url)
                route.abort()

            context.route(lambda u: not u.startswith("http://127.0.0.1"), refuse)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(url, wait_until="domcontentloaded", timeout=int(timeout_s * 1000))
            try:
                page.locator(RESULTS).first.wait_for(timeout=int(timeout_s * 1000))
            except Exception as error:
                log = log_path.read_text()[-3000:]
                raise AppError(f"No results table ({error}). Voilà log:\n{log}") from None
            yield page
        finally:
            browser.close()


def above_the_table(page) -> dict[str, float]:
    """The viewport down to just below the results table (the picture under it is cut off)."""
    table = page.locator(RESULTS).bounding_box()
    bottom = min(VIEWPORT["height"], table["y"] + table["height"] + 16)
    return {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": bottom}


def small_png(png: bytes) -> bytes:
    """The screenshot in at most 256 colours (a page of flat colours: a third of the size)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(buffer, "PNG", optimize=True)
    return min(png, buffer.getvalue(), key=len)


def main(argv: list[str] | None = None) -> int:
    from tools.run_notebooks import resolved_environ

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PICTURE, help="where the PNG goes")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the page")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"No chromium at {CHROMIUM} (apt-get install chromium).", file=sys.stderr)
        return 1
    env = resolved_environ(os.environ, Path.cwd())  # the kernel runs in apps/
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        log_path = Path(scratch) / "voila.log"
        try:
            with voila(env, log_path, args.timeout) as url:
                with app_page(url, log_path, args.timeout) as page:
                    png = small_png(page.screenshot(clip=above_the_table(page)))
        except AppError as error:
            print(error, file=sys.stderr)
            return 1
    args.out.write_bytes(png)
    took = time.perf_counter() - started
    print(f"wrote {args.out} ({len(png) / 1024:.0f} KB) in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
