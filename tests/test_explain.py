"""The explorer's logic on a hand-made catalogue: filters, rated-movie exclusion, ranking,
explanations and every bad-input message (no browser, no model)."""

import numpy as np
import pandas as pd
import pytest

from helpers.explain import (
    Catalogue,
    ExplorerError,
    Filters,
    RatedIndex,
    UserScores,
    because_you_liked,
    explanation_graph,
    liked_movies,
    rank,
    recommend,
)

MOVIES = pd.DataFrame(
    {
        "movieId": [10, 20, 30, 40, 50, 60],
        "title": [
            "Alien (1979)",
            "Toy Story (1995)",
            "Heat (1995)",
            "Up (2009)",
            "Nameless",
            "Unrated (2000)",
        ],
        "genres": [
            "Horror|Sci-Fi",
            "Animation|Comedy",
            "Action|Crime",
            "Animation|Adventure",
            "(no genres listed)",
            "Drama",
        ],
        "year": pd.array([1979, 1995, 1995, 2009, None, 2000], dtype="Int16"),
    }
)
# User 1 rated Alien 5 and Heat 2; user 2 rated Toy Story 4.5 and Up 3; movie 60 has no rating.
TRAIN = pd.DataFrame(
    {
        "userId": [1, 1, 2, 2, 3, 3, 3],
        "movieId": [10, 30, 20, 40, 10, 20, 50],
        "rating": [5.0, 2.0, 4.5, 3.0, 4.0, 5.0, 1.0],
    }
)
SCORES = np.array([4.9, 4.0, 1.0, 3.5, 2.0], dtype=np.float32)  # Alien, Toy, Heat, Up, Nameless


@pytest.fixture
def catalogue():
    return Catalogue.build(MOVIES, TRAIN)


@pytest.fixture
def rated(catalogue):
    return RatedIndex.build(TRAIN, catalogue)


def titles(catalogue, rated, user=1, **settings):
    positions, _ = rated.of(user)
    return recommend(catalogue, SCORES, positions, Filters(**settings)).table["title"].tolist()


def test_catalogue_keeps_rated_movies_and_splits_titles(catalogue):
    assert catalogue.movie_ids.tolist() == [10, 20, 30, 40, 50]  # 60 has no train rating
    assert catalogue.movies["title"].tolist() == ["Alien", "Toy Story", "Heat", "Up", "Nameless"]
    assert catalogue.genres == (
        "Action",
        "Adventure",
        "Animation",
        "Comedy",
        "Crime",
        "Horror",
        "Sci-Fi",
    )
    assert catalogue.n_ratings.tolist() == [2, 2, 1, 1, 1]
    assert catalogue.year_bounds() == (1979, 2009)


def test_rated_movies_are_hidden_by_default_and_shown_on_request(catalogue, rated):
    assert titles(catalogue, rated) == ["Toy Story", "Up", "Nameless"]
    assert titles(catalogue, rated, hide_rated=False) == [
        "Alien", "Toy Story", "Up", "Nameless", "Heat",
    ]  # fmt: skip


def test_genres_any_and_all(catalogue, rated):
    assert titles(catalogue, rated, 2, genres=("Horror", "Action")) == ["Alien", "Heat"]
    assert titles(catalogue, rated, 2, genres=("Sci-Fi", "Horror"), match="all") == ["Alien"]
    assert titles(catalogue, rated, 3, genres=("Animation", "Adventure"), match="all") == ["Up"]


def test_year_range_drops_movies_without_a_year(catalogue, rated):
    assert titles(catalogue, rated, 2, years=(1970, 1996)) == ["Alien", "Heat"]
    assert "Nameless" in titles(catalogue, rated, 2)  # years=None keeps every movie


def test_minimum_stars_ratings_top_k_and_least_relevant(catalogue, rated):
    assert titles(catalogue, rated, 3, min_stars=3.0) == ["Up"]
    assert titles(catalogue, rated, 2, min_ratings=2) == ["Alien"]
    assert titles(catalogue, rated, 2, k=2) == ["Alien", "Nameless"]
    assert titles(catalogue, rated, 2, order="least", k=2) == ["Heat", "Nameless"]


def test_table_columns_and_rounding(catalogue, rated):
    positions, _ = rated.of(1)
    result = recommend(catalogue, SCORES + 0.123, positions, Filters(k=1))
    assert result.table.columns.tolist() == [
        "rank", "title", "year", "genres", "predicted stars", "ratings",
    ]  # fmt: skip
    row = result.table.iloc[0]
    assert (row["title"], row["year"], row["genres"]) == ("Toy Story", 1995, "Animation, Comedy")
    assert row["predicted stars"] == pytest.approx(4.12)
    assert result.status == "Top 1 of 3 movies that pass the filters."


def test_k_larger_than_what_remains_shows_what_there_is(catalogue, rated):
    positions, _ = rated.of(1)
    result = recommend(catalogue, SCORES, positions, Filters(k=50))
    assert len(result.table) == 3
    assert result.status == "Only 3 movies pass the filters (you asked for 50): all shown."


def test_empty_result_names_the_filter_to_relax(catalogue, rated):
    positions, _ = rated.of(1)
    with pytest.raises(ExplorerError) as error:
        recommend(catalogue, SCORES, positions, Filters(genres=("Animation",), min_stars=4.5))
    message = str(error.value)
    assert message.startswith("No movie passes the filters: 5 movies in the catalogue")
    assert "2 in Animation" in message
    assert "Relax the filter 'predicted at least 4.5 stars'" in message


@pytest.mark.parametrize(
    "settings, fragment",
    [
        ({"genres": ("Western",)}, "Unknown genre(s) ['Western']"),
        ({"match": "some"}, "must be 'any' or 'all'"),
        ({"order": "middle"}, "must be 'top' or 'least'"),
        ({"k": 0}, "K must be at least 1"),
        ({"years": (2000, 1990)}, "put the earlier year first"),
    ],
)
def test_bad_settings_get_a_clear_message(catalogue, settings, fragment):
    with pytest.raises(ExplorerError) as error:
        recommend(catalogue, SCORES, np.array([], dtype=int), Filters(**settings))
    assert fragment in str(error.value)


@pytest.mark.parametrize(
    "user, fragment",
    [(99, "User 99 has no training ratings"), ("abc", "'abc' is not a user id"), (" 2 ", None)],
)
def test_unknown_users_get_a_clear_message(rated, user, fragment):
    if fragment is None:
        assert rated.row(user) == 1
        return
    with pytest.raises(ExplorerError, match=fragment):
        rated.row(user)


def test_rated_index_and_loved_by(catalogue, rated):
    positions, stars = rated.of(3)
    assert catalogue.movie_ids[positions].tolist() == [10, 20, 50]
    assert stars.tolist() == [4.0, 5.0, 1.0]
    assert rated.loved_by(catalogue.find("toy story")).tolist() == [2, 3]
    assert rated.loved_by(catalogue.find("Alien")).tolist() == [1]
    with pytest.raises(ExplorerError, match="No movie title contains"):
        catalogue.find("Casablanca")


def test_rank_breaks_ties_by_catalogue_order():
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    mask = np.array([True, True, True, True, True])
    assert rank(scores, mask, 2).tolist() == [1, 2]
    assert rank(scores, mask, 10, "least").tolist() == [0, 3, 1, 2, 4]


def test_user_scores_precomputed_and_on_demand_agree():
    calls = []

    def score(users, movies):
        calls.append(len(users))
        return users[:, None] * 10.0 + movies[None, :]

    users, movies = np.array([3, 1, 2]), np.array([5, 6])
    matrix = UserScores(score, users, movies, precompute=True, chunk=2)
    lazy = UserScores(score, users, movies, precompute=False, cache_size=1)
    assert calls == [2, 1]
    for user in (1, 2, 3, 2):
        np.testing.assert_allclose(matrix(user), lazy(user))
    assert calls == [2, 1, 1, 1, 1, 1] and len(lazy.cache) == 1
    with pytest.raises(ExplorerError, match="User 4 has no scores"):
        lazy(4)


def test_because_you_liked_picks_the_nearest_liked_movie(catalogue, rated):
    vectors = np.array([[1, 0], [0, 1], [1, 0.1], [0.1, 1], [-1, 0]], dtype=np.float32)
    positions, stars = rated.of(3)  # liked: Alien (4) and Toy Story (5); Nameless (1) is not
    because = because_you_liked(catalogue, vectors, np.array([2, 3, 4]), positions, stars)
    assert because["because you liked"].tolist() == ["Alien", "Toy Story", "Toy Story"]
    assert because["similarity"].iloc[0] == pytest.approx(1.0, abs=0.01)
    liked = liked_movies(catalogue, positions, stars, n=2)
    assert liked["title"].tolist() == ["Toy Story", "Alien"]
    graph = explanation_graph(3, liked, because)
    assert graph.nodes[("user", 3)]["layer"] == 0
    assert graph.has_edge(("movie", 0), ("movie", 2))  # Alien -> Heat
    assert graph.nodes[("movie", 3)]["label"] == "Up" and graph.nodes[("movie", 3)]["layer"] == 2


def test_because_you_liked_falls_back_to_the_best_rated(catalogue, rated):
    vectors = np.eye(5, dtype=np.float32)
    positions, stars = rated.of(1)
    low = np.array([2.0, 1.0], dtype=np.float32)
    because = because_you_liked(catalogue, vectors, np.array([1]), positions, low)
    assert because["because you liked"].tolist() == ["Alien"]
    with pytest.raises(ExplorerError, match="Nothing to explain"):
        because_you_liked(catalogue, vectors, np.array([1]), positions[:0], stars[:0])
