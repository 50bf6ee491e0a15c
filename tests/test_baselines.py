"""The classic recommenders: EASE's item cap, and folding in users who joined after training."""

import numpy as np
import pandas as pd

from helpers import baselines
from helpers.baselines import GraphFilter


def _ratings(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"userId": rng.integers(1, 40, 600), "movieId": (rng.zipf(1.6, 600) % 50) + 1}
    )
    frame = frame.drop_duplicates().reset_index(drop=True)
    return frame.assign(rating=rng.choice([1.0, 3.0, 4.0, 5.0], len(frame)))


def test_ease_item_cap_models_the_most_rated_movies_only():
    ratings = _ratings()
    ids, counts = np.unique(ratings["movieId"], return_counts=True)
    top = ids[np.argsort(-counts, kind="stable")[:10]]
    capped = baselines.EASE(reg=5.0, max_items=10).fit(ratings)
    restricted = baselines.EASE(reg=5.0).fit(ratings[ratings["movieId"].isin(top)])
    users, movies = np.sort(ratings["userId"].unique()), np.sort(ratings["movieId"].unique())
    scores = capped.score(users, movies)
    modelled = np.isin(movies, top)
    assert np.isneginf(scores[:, ~modelled]).all()
    assert np.allclose(scores[:, modelled], restricted.score(users, movies[modelled]), atol=1e-5)


def test_ease_weights_are_steck_s_closed_form():
    """B = I - P / diag(P) with P = (X^T X + reg I)^-1 (Steck, 2019), its diagonal 0: what
    ``EASE.fit``'s Cholesky steps, each matrix let go as the next is made, must still compute."""
    model = baselines.EASE(reg=5.0).fit(_ratings(2))
    x = model.rows.matrix.toarray().astype(np.float64)
    inverse = np.linalg.inv(x.T @ x + 5.0 * np.eye(x.shape[1]))
    expected = -inverse / np.diag(inverse)
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(model.weights, expected, atol=1e-6)


def test_folded_in_ease_scores_a_new_users_row_times_the_weights():
    ratings = _ratings(1)
    model = baselines.EASE(reg=5.0).fit(ratings)
    newcomer = pd.DataFrame({"userId": [999, 999], "movieId": [1, 2], "rating": [5.0, 4.0]})
    joined = model.fold_in(newcomer)
    row = np.zeros(len(model.rows.columns))
    row[model.rows.columns.index([1, 2])] = 1.0
    movies = model.rows.columns.ids
    assert np.allclose(joined.score(np.array([999]), movies)[0], row @ model.weights, atol=1e-6)
    assert np.allclose(model.score(np.array([999]), movies), 0.0)  # the original is unchanged


def test_folded_in_bias_is_the_shrunk_mean_of_the_new_users_residuals():
    ratings = _ratings(2)
    model = baselines.BiasBaseline().fit(ratings)
    newcomer = pd.DataFrame({"userId": [999] * 3, "movieId": [1, 2, 3], "rating": [5.0, 5.0, 4.0]})
    joined = model.fold_in(newcomer)
    movie_bias = model.movie_bias[model.movies.index([1, 2, 3])]
    expected = (newcomer["rating"].to_numpy() - model.mean - movie_bias).sum() / (
        model.reg_user + 3
    )
    assert np.isclose(
        joined.predict(np.array([999]), np.array([1]))[0], model.mean + expected + movie_bias[0]
    )
    assert np.allclose(
        joined.predict(ratings["userId"].to_numpy(), ratings["movieId"].to_numpy()),
        model.predict(ratings["userId"].to_numpy(), ratings["movieId"].to_numpy()),
    )


def test_graph_filter_folds_in_without_refitting_its_similarity():
    ratings = _ratings(3)
    model = GraphFilter(min_rating=3.5).fit(ratings)
    before = model.similarity.copy()
    movies = model.rows.columns.ids
    joined = model.fold_in(pd.DataFrame({"userId": [999], "movieId": [movies[0]], "rating": [5.0]}))
    assert np.array_equal(joined.similarity, before)
    assert np.allclose(joined.score(np.array([999]), movies)[0], before[0])


def test_svd_is_seeded():
    ratings = _ratings(4)
    first = (
        baselines.SVD(factors=5, epochs=3)
        .fit(ratings)
        .predict(ratings["userId"].to_numpy(), ratings["movieId"].to_numpy())
    )
    second = (
        baselines.SVD(factors=5, epochs=3)
        .fit(ratings)
        .predict(ratings["userId"].to_numpy(), ratings["movieId"].to_numpy())
    )
    assert np.array_equal(first, second)
