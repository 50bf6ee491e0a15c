"""The classic recommenders: EASE's item cap keeps its closed form on a frequent-item subset."""

import numpy as np
import pandas as pd

from helpers import baselines


def _ratings(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = rng.integers(1, 40, 600)
    movies = (rng.zipf(1.6, 600) % 50) + 1  # a long tail of rarely rated movies
    frame = pd.DataFrame({"userId": users, "movieId": movies}).drop_duplicates()
    return frame.assign(rating=4.0).reset_index(drop=True)


def test_ease_item_cap_models_the_most_rated_movies_only():
    ratings = _ratings()
    counts = ratings["movieId"].value_counts(sort=False).sort_index()
    top = counts.sort_values(ascending=False, kind="stable").index[:10]
    capped = baselines.EASE(reg=5.0, max_items=10).fit(ratings)
    restricted = baselines.EASE(reg=5.0).fit(ratings[ratings["movieId"].isin(top)])
    users = np.sort(ratings["userId"].unique())
    movies = np.sort(ratings["movieId"].unique())
    scores = capped.score(users, movies)
    modelled = np.isin(movies, top)
    assert np.isneginf(scores[:, ~modelled]).all()
    expected = restricted.score(users, movies[modelled])
    expected[np.isneginf(expected)] = 0.0  # users with no frequent movie score 0 in both
    assert np.allclose(scores[:, modelled], expected, atol=1e-5)


def test_ease_without_cap_uses_every_movie():
    ratings = _ratings(1)
    model = baselines.EASE(reg=5.0).fit(ratings)
    scores = model.score(np.array([1, 2]), np.sort(ratings["movieId"].unique()))
    assert np.isfinite(scores).all()
    assert model.weights.shape == (ratings["movieId"].nunique(),) * 2
