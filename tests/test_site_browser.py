"""The course website in a real browser, offline: every page of the built site, served from
127.0.0.1 to headless Chromium with every other request blocked and recorded.

Checks that no page asks the network for anything, that equations are typeset by the bundled
MathJax (not left as raw LaTeX), that code and outputs fit a laptop's 1280 x 800 window and a
1440 x 900 one without sideways scrolling, and that notebook 08's page shows a picture of the
explorer.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and ``playwright``. Without them the test is
skipped with the reason, except under ``CI=true``, where it fails: CI must run it.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import require
from tools.screenshot_explorer import CHROMIUM, FLAGS  # Debian's chromium, run offline

ROOT = Path(__file__).resolve().parents[1]
WINDOW = {"width": 1440, "height": 900}
LAPTOP = {"width": 1280, "height": 800}  # code fits here too (site/_static/course.css)
EXPLORER = ROOT / "notebooks" / "08_explorer.ipynb"
EXPLORER_IMAGE = "notebooks/images/explorer.png"  # a screenshot of the app, shown in 08

# Run in each page once it has loaded: open every solution, wait for MathJax, then measure.
MEASURE = """async () => {
  document.querySelectorAll("details").forEach((details) => { details.open = true; });
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const article = document.querySelector(".bd-article") || document.body;
  const boxes = article.querySelectorAll(
    "pre, div.cell_output > div, div.pst-scrollable-table-container, table"
  );
  const scrolling = [...boxes]
    .filter((box) => box.clientWidth > 0 && box.scrollWidth > box.clientWidth)
    .map((box) => `${box.tagName.toLowerCase()} ${box.scrollWidth} > ${box.clientWidth} px: `
      + JSON.stringify(box.textContent.trim().slice(0, 60)));
  const maths = [...article.querySelectorAll(".math")];
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, script, mjx-container").forEach((node) => node.remove());
  const images = [...article.querySelectorAll("img")].map((img) => ({
    alt: img.alt || "", src: img.getAttribute("src") || "", loaded: img.complete,
    width: img.naturalWidth,
  }));
  return {
    scrolling,
    maths: maths.length,
    typeset: maths.filter((node) => node.querySelector("mjx-container")).length,
    errors: article.querySelectorAll("mjx-merror").length,
    rawLatex: ["$$", "\\\\[", "\\\\begin{"].filter((mark) => prose.textContent.includes(mark)),
    images,
  };
}"""


def missing_tools() -> list[str]:
    """What this test needs and cannot find."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install playwright)")
    return missing


@pytest.fixture(scope="module")
def tools() -> None:
    require(missing_tools(), "The site's browser test")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def served(tools, site: Path):
    """The built site on a free local port, for the module's lifetime."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def pages_of(site: Path) -> list[str]:
    """Every HTML page of the site, as paths relative to its root."""
    pages = [p for p in site.rglob("*.html") if not {"_static", "_sources"} & set(p.parts)]
    return sorted(p.relative_to(site).as_posix() for p in pages)


@pytest.fixture(scope="module")
def visits(served: str, site: Path) -> dict:
    """Open every page at 1440 x 900 and at 1280 x 800; what each measured (``pages`` at 1440,
    ``laptop`` at 1280), and every blocked request."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(served):
            route.continue_()
        else:
            blocked.append(f"{route.request.url} (asked by {route.request.frame.url})")
            route.abort()

    measured = {"pages": {}, "laptop": {}}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        try:
            for key, window in [("pages", WINDOW), ("laptop", LAPTOP)]:
                context = browser.new_context(viewport=window)
                context.route("**/*", only_local)
                page = context.new_page()
                page.set_default_timeout(30_000)
                for name in pages_of(site):
                    page.goto(served + name, wait_until="load")
                    measured[key][name] = page.evaluate(MEASURE)
                context.close()
        finally:
            browser.close()
    return measured | {"blocked": blocked}


def test_no_page_needs_the_network(visits: dict) -> None:
    assert len(visits["pages"]) > 10
    assert visits["blocked"] == [], "pages asked for something off 127.0.0.1"


def test_equations_are_typeset_offline(visits: dict) -> None:
    with_maths = {name: seen for name, seen in visits["pages"].items() if seen["maths"]}
    assert any(name.startswith("notebooks/") for name in with_maths), "no notebook has equations"
    for name, seen in with_maths.items():
        assert seen["typeset"] == seen["maths"], f"{name}: MathJax left equations untypeset"
        assert seen["errors"] == 0, f"{name}: MathJax could not parse an equation"
        assert seen["rawLatex"] == [], f"{name}: raw LaTeX on the page"


@pytest.mark.parametrize("window", ["pages", "laptop"], ids=["1440 px", "1280 px"])
def test_code_and_outputs_fit_the_window(visits: dict, window: str) -> None:
    scrolling = {name: seen["scrolling"] for name, seen in visits[window].items()}
    assert {name: boxes for name, boxes in scrolling.items() if boxes} == {}


def test_the_explorers_page_shows_the_app(visits: dict) -> None:
    name = f"notebooks/{EXPLORER.stem}.html"
    images = visits["pages"][name]["images"]
    shown = [image for image in images if "explorer" in image["alt"].lower()]
    if not shown and not (ROOT / EXPLORER_IMAGE).exists():
        pytest.skip(
            f"{EXPLORER_IMAGE} (a screenshot of the app, alt text naming the explorer) is not in "
            f"{EXPLORER.name} yet: this check turns on when it is"
        )
    assert shown, f"{name} has no image whose alt text says 'explorer': {images}"
    for image in shown:
        assert image["loaded"] and image["width"] > 0, f"{image['src']} did not load"
