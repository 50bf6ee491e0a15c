"""How long one explorer update takes: ``python benchmarks/explorer_speed.py``.

An update is what a click costs: a control's value changes, and the explorer filters, ranks and
renders the results table (the "because you liked" picture is timed on its own). Two data sets:

- ml-latest-small: the real movies and protocol train ratings (seed 42);
- MovieLens 25M shape, synthetic: 162,541 users, 62,423 movies, 25M ratings with random ids,
  genres and years.

Scores come from **random embeddings of the right shape** (32-d, plus biases), not a trained
model: an update's cost depends on the shapes only, and this keeps the benchmark to a minute.
At 25M scale scores are computed per user on first use (a matrix-vector product) and cached,
so both a first visit of a user ("cold") and later changes ("warm") are timed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from helpers import data, split
from helpers.explain import Catalogue, RatedIndex, UserScores
from helpers.explorer import Explorer

GENRES = (
    "Action Adventure Animation Children Comedy Crime Documentary Drama Fantasy Film-Noir "
    "Horror IMAX Musical Mystery Romance Sci-Fi Thriller War Western"
).split()


class RandomEmbeddings:
    """A stand-in recommender: stars = mean + biases + <user vector, movie vector>."""

    def __init__(self, user_ids: np.ndarray, movie_ids: np.ndarray, dim: int = 32, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.users, self.movies = pd.Index(user_ids), pd.Index(movie_ids)
        self.user_z = rng.normal(0, 0.3, (len(user_ids), dim)).astype(np.float32)
        self.movie_z = rng.normal(0, 0.3, (len(movie_ids), dim)).astype(np.float32)
        self.user_bias = rng.normal(0, 0.3, len(user_ids)).astype(np.float32)
        self.movie_bias = rng.normal(0, 0.5, len(movie_ids)).astype(np.float32)

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self.users.get_indexer(users), self.movies.get_indexer(movies)
        fit = self.user_z[u] @ self.movie_z[m].T
        return 3.5 + self.user_bias[u][:, None] + self.movie_bias[m][None, :] + fit


def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    """ml-latest-small's movies and protocol train ratings."""
    train = split.protocol_split(data.load_ratings("ml-latest-small"), 42).train
    return data.load_movies("ml-latest-small"), train


def synthetic_25m(n_users=162_541, n_movies=62_423, n_ratings=25_000_095, seed=0):
    """Movies and ratings with MovieLens 25M's shape: popular movies get most ratings."""
    rng = np.random.default_rng(seed)
    years = rng.integers(1900, 2020, n_movies)
    genre_lists = [
        "|".join(rng.choice(GENRES, size=rng.integers(1, 4), replace=False))
        for _ in range(n_movies)
    ]
    movies = pd.DataFrame(
        {
            "movieId": np.arange(1, n_movies + 1, dtype=np.int32),
            "title": [
                f"Movie {i} ({y})" for i, y in zip(range(1, n_movies + 1), years, strict=True)
            ],
            "genres": genre_lists,
            "year": pd.array(years, dtype="Int16"),
        }
    )
    least = min(20, n_ratings // n_users)  # MovieLens keeps users with at least 20 ratings
    per_user = rng.multinomial(n_ratings - least * n_users, np.full(n_users, 1 / n_users)) + least
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    train = pd.DataFrame(
        {
            "userId": np.repeat(np.arange(1, n_users + 1, dtype=np.int32), per_user),
            "movieId": rng.choice(n_movies, size=n_ratings, p=popularity / popularity.sum()) + 1,
            "rating": rng.integers(1, 11, n_ratings).astype(np.float32) / 2,
        }
    )
    return movies, train


def explorer_for(movies: pd.DataFrame, train: pd.DataFrame) -> tuple[Explorer, float]:
    """An explorer over random embeddings (no picture), and the seconds it took to build."""
    started = time.perf_counter()
    catalogue = Catalogue.build(movies, train)
    rated = RatedIndex.build(train, catalogue)
    model = RandomEmbeddings(rated.user_ids, catalogue.movie_ids)
    scores = UserScores(model.score, rated.user_ids, catalogue.movie_ids)
    app = Explorer(catalogue, rated, scores, vectors=None)
    app.vectors = model.movie_z[model.movies.get_indexer(catalogue.movie_ids)]
    return app, time.perf_counter() - started


def changes(app: Explorer, rng: np.random.Generator, n: int):
    """``n`` random single-control changes a learner might make, as (control, value) pairs."""
    users = app.rated.user_ids
    low, high = app.catalogue.year_bounds()
    for i in range(n):
        kind = i % 6
        if kind == 0:
            yield app.user, str(rng.choice(users))
        elif kind == 1:
            picked = rng.choice(app.catalogue.genres, size=rng.integers(0, 3), replace=False)
            yield app.genres, tuple(sorted(picked))
        elif kind == 2:
            start = int(rng.integers(low, high - 10))
            yield app.years, (start, int(rng.integers(start + 10, high + 1)))
        elif kind == 3:
            yield app.min_stars, float(rng.choice([0.5, 2.0, 3.0, 3.5]))
        elif kind == 4:
            yield app.k, int(rng.integers(5, 51))
        else:
            yield app.order, str(rng.choice(["top", "least relevant"]))


def time_updates(app: Explorer, n: int, seed: int = 0) -> np.ndarray:
    """Milliseconds of each update triggered by setting one control (table only)."""
    vectors, app.vectors = app.vectors, None  # the picture is timed separately
    app.min_stars.value = 0.5
    times = []
    for control, value in changes(app, np.random.default_rng(seed), n):
        started = time.perf_counter()
        control.value = value  # runs Explorer.update through the widget's observer
        times.append(1000 * (time.perf_counter() - started))
        if not app.table.value:  # an empty filter result: the error path, also timed
            app.years.value = (app.years.min, app.years.max)
    app.vectors = vectors
    return np.array(times)


def time_cold_users(app: Explorer, n: int, seed: int = 1) -> np.ndarray:
    """Milliseconds of switching to a user never seen before (scores computed on demand)."""
    vectors, app.vectors = app.vectors, None
    users = np.random.default_rng(seed).choice(app.rated.user_ids, size=n, replace=False)
    times = []
    for user in users:
        app.scores.cache.clear()
        started = time.perf_counter()
        app.user.value = str(user)
        times.append(1000 * (time.perf_counter() - started))
    app.vectors = vectors
    return np.array(times)


def time_picture(app: Explorer, n: int) -> np.ndarray:
    """Milliseconds to explain the top 5 and draw the picture as PNG."""
    from helpers.explorer import _png, draw_explanation

    user = int(app.user.value)
    result = app.results(user, app.filters())
    times = []
    for _ in range(n):
        started = time.perf_counter()
        _png(draw_explanation(app.explain(user, result)))
        times.append(1000 * (time.perf_counter() - started))
    return np.array(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300, help="updates timed per data set")
    parser.add_argument("--ratings", type=int, default=25_000_095, help="synthetic 25M ratings")
    args = parser.parse_args(argv)
    rows = []
    for name, load in [
        ("ml-latest-small", small),
        ("synthetic 25M shape", lambda: synthetic_25m(n_ratings=args.ratings)),
    ]:
        movies, train = load()
        app, setup = explorer_for(movies, train)
        warm = time_updates(app, args.updates)
        cold = time_cold_users(app, 30) if app.scores.matrix is None else None
        picture = time_picture(app, 10)
        rows.append(
            {
                "data": name,
                "users": len(app.rated),
                "movies": len(app.catalogue),
                "ratings": len(train),
                "scores": "matrix, once" if app.scores.matrix is not None else "per user, cached",
                "setup s": round(setup, 1),
                "update median ms": round(float(np.median(warm)), 1),
                "update p95 ms": round(float(np.percentile(warm, 95)), 1),
                "new user median ms": "-" if cold is None else round(float(np.median(cold)), 1),
                "picture median ms": round(float(np.median(picture)), 1),
            }
        )
        del app, movies, train
    print(f"{args.updates} updates per data set (random single-control changes), random embeddings")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
