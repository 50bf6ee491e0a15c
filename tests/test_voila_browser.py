"""Notebook 08 as a web app: Voilà serves it, headless Chromium changes controls, the table updates.

Needs Debian's ``chromium`` (``/usr/bin/chromium``), ``playwright`` and ``voila``. Without them
the test is skipped with the reason, except under ``CI=true``, where it fails: CI must run it.
The browser gets no network beyond 127.0.0.1 (the page links CDN stylesheets).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "08_explorer.ipynb"
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
# The page appears once the notebook ran in its kernel, which loads the small models the `models`
# fixture trained (3 epochs each) into a temporary artifacts folder: no full training run.
WIDGET_TIMEOUT_S = float(os.environ.get("VOILA_TEST_TIMEOUT", 240))
EPOCHS = "3"
RESULTS = "table.explorer-results"


def missing_tools() -> list[str]:
    """What this test needs and cannot find."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    for module, package in [("playwright.sync_api", "playwright"), ("voila", "voila")]:
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the {package} package (pip install {package})")
    return missing


@pytest.fixture(scope="module")
def tools():
    missing = missing_tools()
    if missing:
        reason = "The Voilà browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so it must run here.")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def models(tools, shared, tmp_path_factory) -> dict[str, str]:
    """The environment under which notebook 08 finds its three models already trained (briefly)."""
    from helpers import Settings, checkpoint, data, protocol
    from helpers.models import graphsage_cold_users
    from helpers.models.lightgcn import gnn_ranking
    from helpers.models.neighbourhood import gnn_rating

    env = os.environ | {
        "MOVIELENS_ARTIFACTS": str(tmp_path_factory.mktemp("artifacts")),
        "MOVIELENS_MAX_EPOCHS": EPOCHS,
    }
    settings = Settings.from_env(env)
    ratings, source = data.load_ratings(settings), data.load_movie_data(settings)
    train = protocol.protocol_split(ratings, 42).train
    for build in (gnn_ranking, gnn_rating):
        checkpoint.load_or_train(build, train, source, settings)
    checkpoint.load_or_train(
        graphsage_cold_users, protocol.new_users_split(ratings, 42).train, source, settings
    )
    return env


@pytest.fixture(scope="module")
def voila(models, tmp_path_factory):
    """A Voilà server for notebook 08 on a free local port; SIGTERM stops it and its kernels."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    command = [
        sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
        "--Voila.ip=127.0.0.1", f"--VoilaExecutor.timeout={int(WIDGET_TIMEOUT_S)}",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=models
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
                    pytest.fail(f"Voilà did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url, log_path
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def page(voila):
    """The explorer page in headless Chromium, loaded once for the module's tests."""
    from playwright.sync_api import sync_playwright

    url, log_path = voila
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        context = browser.new_context()
        context.route(lambda u: not u.startswith("http://127.0.0.1"), lambda route: route.abort())
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(url, wait_until="domcontentloaded", timeout=int(WIDGET_TIMEOUT_S * 1000))
        try:
            page.locator(RESULTS).first.wait_for(timeout=int(WIDGET_TIMEOUT_S * 1000))
        except Exception as error:
            pytest.fail(f"No results table ({error}). Voilà log:\n{log_path.read_text()[-3000:]}")
        yield page
        browser.close()


@pytest.fixture(scope="module")
def real_titles(models) -> set[str]:
    from helpers import Settings, data

    titles = data.load_movies(Settings.from_env(models))["title"].astype(str)
    return set(titles.str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True))


def shown_titles(page) -> list[str]:
    return page.locator(f"{RESULTS} tbody tr td:nth-child(2)").all_inner_texts()


def set_user(page, user: str) -> None:
    box = page.get_by_placeholder("type a user id")
    box.fill(user)
    box.press("Enter")


def test_changing_user_and_order_updates_the_table(page, real_titles):
    before = shown_titles(page)
    assert len(before) == 10 and set(before) <= real_titles, before
    set_user(page, "414")
    page.get_by_text(re.compile(r"^User 414: Top 10 of")).wait_for()
    after = shown_titles(page)
    assert len(after) == 10 and set(after) <= real_titles, after
    assert after != before
    page.get_by_role("button", name="least likely").click()
    page.get_by_text(re.compile(r"^User 414: Least likely 10 of")).wait_for()
    least = shown_titles(page)
    assert set(least) <= real_titles and not set(least) & set(after)
    page.get_by_role("button", name="top", exact=True).click()


def test_unknown_user_shows_a_message_not_a_traceback(page):
    from playwright.sync_api import expect

    set_user(page, "999999")
    # the status line (a span); the notebook's own printed demo of this message is a <pre>
    unknown = re.compile("User 999999 has no training ratings")
    page.locator("span").filter(has_text=unknown).wait_for()
    expect(page.locator(RESULTS)).to_have_count(0)
    set_user(page, "1")
    page.locator(RESULTS).first.wait_for()
    assert "Traceback" not in page.content()


def test_you_mode_rates_a_movie_and_gets_a_list(page, real_titles):
    page.get_by_role("button", name="you", exact=True).click()
    page.locator("span").filter(has_text=re.compile("Rate a movie")).wait_for()
    title = page.get_by_placeholder("search a title")
    title.fill("Alien (1979)")
    page.locator(".widget-dropdown select").select_option(label="5.0")
    page.get_by_role("button", name="Add").click()
    page.get_by_text(re.compile(r"^You: Top 10 of")).wait_for()
    listed = shown_titles(page)
    assert len(listed) == 10 and set(listed) <= real_titles and "Alien" not in listed
    page.get_by_role("button", name="Remove").click()
    page.locator("span").filter(has_text=re.compile("Rate a movie")).wait_for()
    title.fill("zzzz")
    page.get_by_role("button", name="Add").click()
    page.locator("span").filter(has_text=re.compile("No movie title contains")).wait_for()
    assert "Traceback" not in page.content()
    page.get_by_role("button", name="a MovieLens user").click()
