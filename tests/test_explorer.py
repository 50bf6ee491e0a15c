"""The widget layer without a browser: controls drive the table, status line and picture.

A stand-in model with random embeddings keeps this fast; what is checked is the wiring (a
control change updates the table, errors land in the status line, scores are computed once).
"""

import numpy as np
import pytest
import torch

from helpers import data, split
from helpers.explorer import Explorer, draw_explanation
from helpers.graph import IdMaps


class RandomModel:
    """Anything with ``score``, ``.z`` and ``.maps`` works; this one counts its score calls."""

    def __init__(self, train, movies, dim=8, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.maps = IdMaps.from_tables(train, movies)
        self.z = {
            "user": torch.randn(len(self.maps.users), dim, generator=generator),
            "movie": torch.randn(len(self.maps.movies), dim, generator=generator),
        }
        self.score_calls = 0

    def score(self, users, movies):
        self.score_calls += 1
        u = self.z["user"][self.maps.users.index(users)]
        m = self.z["movie"][self.maps.movies.index(movies)]
        return (3.0 + 0.5 * u @ m.T).numpy()


@pytest.fixture(scope="module")
def tables(shared):
    movies = data.load_movies("ml-latest-small")
    train = split.protocol_split(data.load_ratings("ml-latest-small"), 42).train
    return movies, train


@pytest.fixture
def app(tables):
    movies, train = tables
    model = RandomModel(train, movies)
    explorer = Explorer.from_model(model, train, movies)
    explorer.model = model
    return explorer


def shown_titles(app):
    rows = app.table.value.split("<tbody>")[1].split("<tr>")[1:]
    return [row.split("<td>")[2].split("</td>")[0] for row in rows]


def test_scores_are_computed_once_not_per_change(app):
    calls = app.model.score_calls
    assert calls == 1  # one users x movies matrix for ml-latest-small
    for user in ("2", "3", "4"):
        app.user.value = user
    app.k.value = 20
    assert app.model.score_calls == calls


def test_first_view_shows_top_10_unrated_movies_with_real_titles(app, tables):
    movies, train = tables
    titles = shown_titles(app)
    assert len(titles) == 10
    known = set(app.catalogue.movies["title"])
    assert set(titles) <= known
    rated_titles = set(app.catalogue.movies["title"].iloc[app.rated.of(int(app.user.value))[0]])
    assert not set(titles) & rated_titles
    assert "Top 10 of" in app.status.value and bytes(app.picture.value).startswith(b"\x89PNG")


def test_changing_controls_updates_the_table(app):
    before = shown_titles(app)
    app.user.value = "414"
    assert shown_titles(app) != before and app.status.value.startswith("User 414:")
    app.order.value = "least relevant"
    assert "Least relevant 10" in app.status.value
    app.k.value = 3
    assert len(shown_titles(app)) == 3
    app.genres.value = ("Documentary",)
    app.match.value = "all"
    assert all("Documentary" in g for g in app.results(414, app.filters()).table["genres"])


def test_hide_rated_checkbox_brings_rated_movies_back(app):
    app.user.value = "414"  # rated over 1,000 movies
    rated = set(app.catalogue.movies["title"].iloc[app.rated.of(414)[0]])
    app.hide_rated.value = False
    app.k.value = 50
    assert set(shown_titles(app)) & rated


def test_bad_input_lands_in_the_status_line(app):
    app.user.value = "999999"
    assert "User 999999 has no training ratings" in app.status.value
    assert app.table.value == "" and bytes(app.picture.value) == b""
    app.user.value = "1"
    app.min_stars.value = 5.0
    app.years.value = (1990, 1991)
    app.genres.value = ("Documentary", "Western")
    app.match.value = "all"
    assert "No movie passes the filters" in app.status.value
    app.match.value = "any"  # recovers once a filter is relaxed
    app.min_stars.value = 0.5
    app.years.value = (app.years.min, app.years.max)
    assert app.table.value.count("<tr>") == 10  # body rows (the header row has a style)


def test_searching_users_by_a_loved_movie(app):
    app.loved.value = "Toy Story (1995)"
    fans = app.rated.loved_by(app.catalogue.find("Toy Story (1995)"))
    assert list(app.user.options) == [str(u) for u in fans]
    assert app.user.value == str(fans[0])
    app.loved.value = "No Such Movie Anywhere"
    assert "No movie title contains" in app.status.value
    app.loved.value = ""
    assert len(app.user.options) == len(app.rated)


def test_explanation_picture_draws(app):
    result = app.results(1, app.filters())
    graph = app.explain(1, result)
    assert graph.number_of_nodes() >= 6
    ax = draw_explanation(graph)
    assert len(ax.texts) >= graph.number_of_nodes()  # a label per node, plus column titles
    assert np.isfinite(ax.figure.get_size_inches()).all()


def test_ranking_model_orders_the_list_and_its_star_model_fills_the_stars(tables):
    movies, train = tables
    ranker, star_model = RandomModel(train, movies, seed=1), RandomModel(train, movies, seed=2)
    ranker.stars = star_model
    app = Explorer.from_model(ranker, train, movies)
    result = app.results(1, app.filters())
    scores = app.scores(1)
    assert (np.diff(scores[result.positions]) <= 0).all()  # ranked by the ranking model
    expected = np.clip(star_model.score(np.array([1]), app.catalogue.movie_ids)[0], 0.5, 5.0)
    shown = result.table["predicted stars"].to_numpy()
    assert np.allclose(shown, np.round(expected[result.positions], 2))
    assert not np.allclose(shown, np.round(np.clip(scores[result.positions], 0.5, 5.0), 2))
