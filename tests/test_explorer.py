"""The explorer without a browser: plain functions, then the widget's wiring (a stand-in model
with random embeddings keeps it fast)."""

import numpy as np
import pandas as pd
import pytest

from helpers.explorer import logic
from helpers.explorer.logic import ExplorerError, Filters
from helpers.explorer.widget import Explorer, draw_explanation, explanation_graph, wrapped


class RandomModel:
    """Scores users by random embeddings; a folded-in user is the mean of its rated movies."""

    def __init__(self, train, dim=8, seed=0):
        rng = np.random.default_rng(seed)
        self.users, self.movies = (
            np.sort(train["userId"].unique()),
            np.sort(train["movieId"].unique()),
        )
        self.u, self.m = rng.normal(size=(len(self.users), dim)), rng.normal(size=(10**6, dim))
        self.score_calls, self.extra = 0, {}

    def _user(self, user):
        return self.extra[user] if user in self.extra else self.u[np.searchsorted(self.users, user)]

    def score(self, users, movies):
        self.score_calls += 1
        return np.stack([self._user(u) for u in users]) @ self.m[movies].T

    def predict(self, users, movies):
        return 3.0 + np.tanh(
            np.einsum("ij,ij->i", np.stack([self._user(u) for u in users]), self.m[movies])
        )

    def movie_vectors(self, movies):
        return self.m[movies]

    def fold_in(self, ratings):
        joined = RandomModel.__new__(RandomModel)
        joined.__dict__ = self.__dict__ | {
            "extra": {u: self.m[r["movieId"]].mean(0) for u, r in ratings.groupby("userId")}
        }
        return joined


@pytest.fixture(scope="module")
def tables(course):
    return course["source"].movies, course["train"]


@pytest.fixture(scope="module")
def catalogue(tables):
    movies, train = tables
    return logic.Catalogue.of(movies, train)


def test_catalogue_titles_years_and_search(catalogue):
    assert catalogue.find("Toy Story (1995)") == catalogue.labels().tolist().index(
        "Toy Story (1995)"
    )
    assert catalogue.movies.loc[catalogue.find("shawshank"), "title"] == "Shawshank Redemption, The"
    with pytest.raises(ExplorerError, match="No movie title contains 'zzzz'"):
        catalogue.find("zzzz")
    with pytest.raises(ExplorerError, match="titles contain 'star wars'.*pick one"):
        catalogue.find("star wars")


def test_filters_rank_and_explain_an_empty_result(catalogue):
    scores = np.arange(len(catalogue), dtype=float)
    stars = np.full(len(catalogue), 4.0)
    rated = np.array([len(catalogue) - 1])
    result = logic.recommend(catalogue, scores, rated, Filters(k=3), stars)
    assert result.positions.tolist() == [len(catalogue) - 2, len(catalogue) - 3, len(catalogue) - 4]
    least = logic.recommend(catalogue, scores, rated, Filters(k=2, order="least"), stars)
    assert least.positions.tolist() == [0, 1] and least.status.startswith("Least likely 2")
    comedies = logic.recommend(
        catalogue, scores, rated, Filters(genres=("Comedy", "Romance"), match="all", k=50), stars
    )
    assert all("Comedy" in g and "Romance" in g for g in comedies.table["genres"])
    with pytest.raises(
        ExplorerError, match=r"-> 0 released 2015-2018.*Relax the filter 'released 2015-2018'"
    ):
        logic.recommend(
            catalogue, scores, rated, Filters(genres=("Film-Noir",), years=(2015, 2018)), stars
        )
    with pytest.raises(ExplorerError, match="Unknown genre"):
        logic.recommend(catalogue, scores, rated, Filters(genres=("Space Opera",)), stars)


def test_your_ratings_accept_and_refuse_with_sentences(catalogue):
    yours = logic.YourRatings(catalogue)
    yours.add("Alien (1979)", 5)
    yours.add("toy story (1995)", 4.5)
    assert list(yours.stars.values()) == [5.0, 4.5]
    for stars in (0, 5.5, 3.3):
        with pytest.raises(ExplorerError, match="0.5 to 5 stars in half stars"):
            yours.add("Alien (1979)", stars)
    with pytest.raises(ExplorerError, match="You have not rated"):
        yours.remove("Jumanji (1995)")
    yours.remove("Alien (1979)")
    assert len(yours.stars) == 1


def test_your_list_is_folded_in_and_never_holds_what_you_rated(tables, catalogue):
    movies, train = tables
    model = RandomModel(train)
    yours = logic.YourRatings(catalogue)
    with pytest.raises(ExplorerError, match="Rate a movie"):
        logic.for_you(model, catalogue, yours, Filters())
    yours.add("Alien (1979)", 5)
    first, rated = logic.for_you(model, catalogue, yours, Filters(k=10))
    assert catalogue.find("Alien (1979)") not in first.positions and rated.tolist() == [
        catalogue.find("Alien (1979)")
    ]
    yours.add("Toy Story (1995)", 5)
    second, _ = logic.for_you(model, catalogue, yours, Filters(k=10))
    assert second.positions.tolist() != first.positions.tolist()


def test_because_you_liked_picks_the_nearest_liked_movie():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9], [-1.0, -1.0]])
    because = logic.because_you_liked(
        vectors, np.array([2, 3]), np.array([0, 1]), np.array([5.0, 4.0])
    )
    assert because["liked"].tolist() == [0, 1]


def test_because_you_liked_says_what_it_lacks():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    with pytest.raises(ExplorerError, match="pass at least one catalogue row"):
        logic.because_you_liked(vectors, np.array([], int), np.array([0]), np.array([5.0]))
    for rated in (np.array([-1]), np.array([], int)):  # not in the catalogue, or none at all
        with pytest.raises(ExplorerError, match="no rated movie is in the catalogue"):
            logic.because_you_liked(vectors, np.array([2]), rated, np.ones(len(rated)))


def test_scores_are_cached_per_user_at_scale(tables):
    _, train = tables
    model = RandomModel(train)
    users, movies = np.sort(train["userId"].unique()), np.sort(train["movieId"].unique())
    scores = logic.Scores(model.score, users, movies, cache=2)
    scores.matrix = None  # as at MovieLens 25M: rows on demand
    calls = model.score_calls
    scores(users[0]), scores(users[0]), scores(users[1])
    assert model.score_calls == calls + 2
    with pytest.raises(ExplorerError, match="pick a user"):
        scores(-5)


@pytest.fixture
def app(tables):
    movies, train = tables
    model = RandomModel(train)
    return Explorer(model, model, train, movies)


def test_widget_updates_on_every_control_and_shows_errors_in_the_status(app):
    assert "explorer-results" in app.table.value and app.status.value.startswith("User 1:")
    app.user.value = "414"
    assert app.status.value.startswith("User 414: Top 10")
    app.user.value = "999999"
    assert "has no training ratings" in app.status.value and app.table.value == ""
    app.user.value = "1"
    app.order.value = "least likely"
    assert app.status.value.startswith("User 1: Least likely 10")


def test_clearing_who_loved_brings_the_table_back(app):
    app.loved.value = "zzzz"
    assert "No movie title contains" in app.status.value and app.table.value == ""
    app.loved.value = ""
    assert "explorer-results" in app.table.value and "No movie" not in app.status.value
    app.loved.value = "Shawshank Redemption, The (1994)"
    assert app.user.value in app.user.options


def test_you_mode_adds_removes_and_explains(app):
    app.mode.value = "you"
    assert "Rate a movie" in app.status.value
    app.title.value, app.your_stars.value = "Alien (1979)", 5.0
    app.add.click()
    assert app.status.value.startswith("You: Top 10") and "Alien (1979): 5" in app.your_list.value
    assert app.picture.value != b""
    app.title.value = "Alien (1979)"
    app.remove.click()
    assert "Rate a movie" in app.status.value
    app.title.value = "Jumanji (1995)"
    app.remove.click()
    assert "You have not rated" in app.status.value


def test_explanation_picture_draws(app):
    rated, stars = app.rated.of_user(1)
    result = logic.recommend(app.catalogue, app.scores(1), rated, Filters(k=5), app.stars(1))
    because = logic.because_you_liked(app.vectors["users"], result.positions, rated, stars)
    figure = draw_explanation(explanation_graph(app.catalogue, "user 1", because, rated, stars))
    assert len(figure.axes[0].texts) >= 5


def test_movies_that_share_a_title_and_year_can_each_be_rated():
    movies = pd.DataFrame(
        {
            "movieId": [1, 2, 3],
            "title": ["Emma (1996)", "Emma (1996)", "Alien (1979)"],
            "genres": ["Drama", "Comedy", "Horror"],
            "year": pd.array([1996, 1996, 1979], dtype="Int16"),
        }
    )
    train = pd.DataFrame({"userId": [1, 1, 2], "movieId": [1, 2, 3], "rating": [4.0, 3.0, 5.0]})
    catalogue = logic.Catalogue.of(movies, train)
    labels = catalogue.labels().tolist()
    assert labels == ["Emma (1996) #1", "Emma (1996) #2", "Alien (1979)"]
    yours = logic.YourRatings(catalogue)
    assert [yours.add(label, 4.0) for label in labels[:2]] == [0, 1]
    with pytest.raises(logic.ExplorerError, match="2 titles contain 'Emma'"):
        catalogue.find("Emma")


def test_titles_with_dollar_signs_draw_as_text_not_math():
    import io

    import networkx as nx

    graph = nx.DiGraph()
    graph.add_node("user", label="You", layer=0)
    graph.add_node("rated", label=r"$\frac$ (2001) (5★)", layer=1)
    graph.add_node("listed", label="Money $$$ and $x^{$ (1999)", layer=2)
    graph.add_edge("user", "rated", kind="rated")
    graph.add_edge("rated", "listed", kind="because", similarity=0.5)
    figure = draw_explanation(graph)
    figure.savefig(io.BytesIO(), format="png")  # the labels are laid out here
    assert r"$\frac$ (2001) (5★)" in [text.get_text() for text in figure.axes[0].texts]


def test_a_typo_in_your_ratings_keeps_your_list_and_picture(app):
    app.mode.value = "you"
    app.title.value, app.your_stars.value = "Alien (1979)", 5.0
    app.add.click()
    table, picture = app.table.value, app.picture.value
    app.title.value = "Alein (1979)"
    app.add.click()
    assert "No movie title contains" in app.status.value and "explorer-error" in app.status.value
    assert app.table.value == table and app.picture.value == picture != b""
    assert app.picture.layout.display != "none"


def test_empty_states_show_no_broken_image_and_the_first_prompt_is_not_red(app):
    app.mode.value = "you"
    assert "Rate a movie" in app.status.value
    assert "explorer-error" not in app.status.value and "#b00020" not in app.status.value
    assert app.picture.layout.display == "none"
    app.mode.value = "a MovieLens user"
    assert app.picture.layout.display != "none" and app.picture.value != b""
    app.user.value = "999999"
    assert "explorer-error" in app.status.value and app.picture.layout.display == "none"


def test_the_table_has_one_header_row_and_says_what_its_numbers_are(app):
    page = app.table.value
    assert page.count("<tr") == 1 + 10  # the header, then the ten movies: no row for "rank" alone
    for column in ["rank", "title", "predicted ★", "# ratings"]:
        assert f"<th>{column}</th>" in page
    assert not app.years.readout and app.years_readout.value == "{} – {}".format(*app.years.value)
    app.years.value = (1990, 1999)
    assert app.years_readout.value == "1990 – 1999"


def test_your_ratings_have_a_column_of_their_own(app):
    app.mode.value = "you"
    top = app.widget().children[0]
    assert app.your_list in top.children and app.your_list.layout.overflow == "auto"
    assert app.your_list.layout.display != "none"
    app.mode.value = "a MovieLens user"
    assert app.your_list.layout.display == "none"


def test_wrapped_titles_keep_their_stars():
    short = wrapped("Indiana Jones and the Last Crusade (4★)", 30)
    assert short == "Indiana Jones and the Last\nCrusade (4★)"
    long = wrapped("Raiders of the Lost Ark (Indiana Jones and the Raiders) (4.5★)", 20)
    lines = long.splitlines()
    assert len(lines) == 2 and lines[-1].endswith("… (4.5★)") and len(lines[-1]) <= 20
    assert wrapped("Alien", 30) == "Alien"


def test_no_line_of_the_explanation_crosses_a_title(app):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rated, stars = app.rated.of_user(1)
    result = logic.recommend(app.catalogue, app.scores(1), rated, Filters(k=5), app.stars(1))
    for positions in (result.positions, result.positions[:1]):  # a fan from one, and a list
        because = logic.because_you_liked(app.vectors["users"], positions, rated, stars)
        graph = explanation_graph(app.catalogue, "User 1", because, rated, stars)
        figure = draw_explanation(graph)
        FigureCanvasAgg(figure).draw()
        ax = figure.axes[0]
        boxes = [text.get_window_extent().expanded(1.0, 1.0) for text in ax.texts]
        for line in ax.lines:
            start, end = ax.transData.transform(line.get_xydata()[[0, -1]])  # a straight line
            points = start + (end - start) * np.linspace(0, 1, 200)[:, None]
            for box in boxes:
                assert not any(box.contains(x, y) for x, y in points), "a line crosses a title"
