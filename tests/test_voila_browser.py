"""The explorer web app: Voilà serves ``apps/explorer.ipynb``, headless Chromium at 1280x800 sees
the controls and the results table above the fold and nothing of notebook 08's lesson, changes
controls, and the table updates.

Needs Debian's ``chromium`` (``/usr/bin/chromium``), ``playwright`` and ``voila``. Without them
the test is skipped with the reason, except under ``CI=true``, where it fails: CI must run it.
The browser gets no network beyond 127.0.0.1, and the page works without it. Voilà and Chromium
start as ``tools/screenshot_explorer.py`` starts them for notebook 08's picture of the app.
"""

from __future__ import annotations

import os
import re

import nbformat
import pytest

from conftest import require
from tools import screenshot_explorer as app

ROOT = app.ROOT
LESSON = ROOT / "notebooks" / "08_explorer.ipynb"
# The page appears once the app notebook ran in its kernel, which loads the small models the
# `models` fixture trained (3 epochs each) into a temporary artifacts folder: no full training run.
WIDGET_TIMEOUT_S = float(os.environ.get("VOILA_TEST_TIMEOUT", 240))
EPOCHS = "3"
RESULTS = app.RESULTS
FOLD = app.VIEWPORT["height"]
# Voilà's lab template links Font Awesome from a CDN although its own bundle carries the same
# stylesheet: offline these two requests fail and nothing on the page changes.
VOILA_CDN_LINKS = {
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@^5/css/v4-shims.min.css",
}
# Where the results table's tenth row ends, in px from the top, once the table has ten rows.
TENTH_ROW_BOTTOM = """table => {
    const rows = document.querySelectorAll(`${table} tbody tr`);
    return rows.length === 10 && rows[9].getBoundingClientRect().bottom;
}"""


def missing_tools() -> list[str]:
    """What this test needs and cannot find."""
    missing = []
    if not app.CHROMIUM.exists():
        missing.append(f"Debian's chromium at {app.CHROMIUM} (apt-get install chromium)")
    for module, package in [("playwright.sync_api", "playwright"), ("voila", "voila")]:
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the {package} package (pip install {package})")
    return missing


@pytest.fixture(scope="module")
def tools():
    require(missing_tools(), "The Voilà browser test")


@pytest.fixture(scope="module")
def models(tools, shared, tmp_path_factory) -> dict[str, str]:
    """The environment under which the app finds its three models already trained (briefly)."""
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
    """A Voilà server for the app on a free local port, and the path of its log."""
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    try:
        with app.voila(models, log_path, WIDGET_TIMEOUT_S) as url:
            yield url, log_path
    except app.AppError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def refused() -> list[str]:
    """The requests the app page made beyond 127.0.0.1 (each refused)."""
    return []


@pytest.fixture(scope="module")
def page(voila, refused):
    """The app page in headless Chromium at 1280x800, loaded once for the module's tests."""
    url, log_path = voila
    try:
        with app.app_page(url, log_path, WIDGET_TIMEOUT_S, refused) as page:
            yield page
    except app.AppError as error:
        pytest.fail(str(error))


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


def lesson_headings() -> list[str]:
    """The headings of notebook 08's markdown (its title, sections, exercises, solutions)."""
    cells = nbformat.read(LESSON, as_version=4).cells
    lines = [line for c in cells if c.cell_type == "markdown" for line in c.source.splitlines()]
    headings = [line.lstrip("#").strip() for line in lines if line.startswith("#")]
    summaries = [s for line in lines for s in re.findall(r"<summary>(.*?)</summary>", line)]
    return headings + summaries


def test_the_app_shows_its_controls_and_table_above_the_fold(page):
    assert page.evaluate("window.scrollY") == 0
    shown = {
        "title": page.get_by_role("heading", name="Movie recommendation explorer"),
        "List for": page.get_by_role("button", name="a MovieLens user"),
        "User id": page.get_by_placeholder("type a user id"),
        "Genres": page.locator(".widget-select-multiple select"),
        "Released": page.get_by_text("Released", exact=True),
        "Top K": page.get_by_text("Top K", exact=True),
        "Show": page.get_by_role("button", name="least likely"),
        "hide rated": page.get_by_text("hide movies already rated"),
        "status": page.get_by_text(re.compile(r"^User \d+: Top 10 of")),
        "results table": page.locator(RESULTS),
    }
    for name, locator in shown.items():
        box = locator.bounding_box()
        assert box is not None, f"{name} is not on the page"
        assert box["y"] >= 0 and box["y"] + box["height"] <= FOLD, f"{name} is not above the fold"
    assert page.locator(f"{RESULTS} tbody tr").count() == 10


def test_the_app_needs_no_network(page, refused):
    from urllib.parse import unquote

    assert page.locator(RESULTS).count() > 0  # it rendered with every off-host request refused
    unexpected = {unquote(url) for url in refused} - VOILA_CDN_LINKS
    assert not unexpected, f"the app page reached beyond this machine: {sorted(unexpected)}"


def test_the_app_shows_nothing_of_the_lesson(page):
    text = page.locator("body").inner_text()
    for words in [*lesson_headings(), "Expected", "Exercises", "Pitfall", "scored once"]:
        assert words not in text, f"notebook 08's {words!r} is on the app page"
    assert page.locator("h1, h2, h3, h4").count() == 1  # the title line, nothing else
    assert page.locator(".jp-OutputArea-output pre").count() == 0  # no printed demo output
    assert "Traceback" not in text


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
    # the status line: a span
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


def test_your_ratings_do_not_push_the_table_below_the_fold(page):
    """Notebook 08's five ratings: your list grows in a column of its own, the ten rows stay."""
    page.get_by_role("button", name="you", exact=True).click()
    title = page.get_by_placeholder("search a title")
    five = ["Alien (1979)", "Matrix, The (1999)", "Toy Story (1995)", "Titanic (1997)"]
    five.append("Heat (1995)")
    for count, name in enumerate(five, start=1):
        title.fill(name)
        page.get_by_role("button", name="Add").click()
        page.get_by_text(f"Your ratings ({count})").wait_for()
    page.get_by_text(re.compile(r"^You: Top 10 of")).wait_for()
    # Your list grows before the table is drawn again, so the table on the page may still be the
    # one for four ratings, replaced at any moment: count its rows and measure the tenth inside
    # the page, in one step, so neither table is measured after it is gone.
    bottom = page.wait_for_function(TENTH_ROW_BOTTOM, arg=RESULTS).json_value()
    assert bottom <= FOLD, f"the table is pushed down: its tenth row ends at {bottom:.0f} px"
    shots = os.environ.get("VOILA_TEST_SCREENSHOTS")  # a folder: save the page, to look at it
    if shots:
        page.screenshot(path=os.path.join(shots, "you-mode.png"))
        page.locator(".widget-image").last.screenshot(path=os.path.join(shots, "picture.png"))
    for count, name in reversed(list(enumerate(five))):
        title.fill(name)
        page.get_by_role("button", name="Remove").click()
        page.get_by_text(f"Your ratings ({count})").wait_for()
    page.locator("span").filter(has_text=re.compile("Rate a movie")).wait_for()
    page.get_by_role("button", name="a MovieLens user").click()
