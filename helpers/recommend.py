"""What a trained GNN serves (notebook 02): its embeddings behind raw ids, a pair of models as one
(lists from one, stars from the other), and a user's top-K table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.graph import IdMaps
from helpers.metrics import Rated, Recommender, best_unrated, clip
from helpers.train import History


@dataclass
class Embeddings:
    """A vector per user and per movie node, and movie biases."""

    users: np.ndarray
    movies: np.ndarray
    bias: np.ndarray

    def pairs(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.users[u], self.movies[m]).astype(np.float64)

    def grid(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        return (self.users[u] @ self.movies[m].T + self.bias[m]).astype(np.float64)


@dataclass
class GNNRecommender:
    """A GNN behind raw ids: lists from ``lists``, stars from ``base`` (a bias model) plus the fit
    of ``stars``; unknown users get popularity scores, unknown movies are never listed.
    ``history``: how its training went."""

    name: str
    maps: IdMaps
    base: Recommender
    lists: Embeddings | None = None
    stars: Embeddings | None = None
    history: History = field(default_factory=History)

    def _index(self, users: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.maps.users.index(users, False), self.maps.movies.index(movies, False)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        stars = np.asarray(self.base.predict(users, movies), dtype=np.float64)
        if self.stars is not None:
            u, m = self._index(users, movies)
            known = (u >= 0) & (m >= 0)
            stars[known] += self.stars.pairs(u[known], m[known])
        return stars

    def movie_vectors(self, movies: np.ndarray) -> np.ndarray:
        """The movies' list embeddings (star embeddings for a star model), for explanations."""
        return (self.lists or self.stars).movies[self.maps.movies.index(movies)]

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._index(users, movies)
        if self.lists is None:  # a star model ranks by its predicted stars
            grid = np.asarray(self.base.score(users, movies), dtype=np.float64)
            if self.stars is not None:
                fit = self.stars.users[np.maximum(u, 0)] @ self.stars.movies[np.maximum(m, 0)].T
                grid += np.where((u >= 0)[:, None] & (m >= 0)[None, :], fit, 0.0)
            return grid
        scores = self.lists.grid(np.maximum(u, 0), np.maximum(m, 0))
        scores[u < 0] = self.lists.bias[np.maximum(m, 0)]
        scores[:, m < 0] = -np.inf
        return scores


@dataclass
class Both:
    """One model's lists and another's stars (for instance the ranking and the rating GNN)."""

    lists: Recommender
    stars: Recommender
    name: str

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.lists.score(users, movies)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.stars.predict(users, movies)

    def fold_in(self, ratings: pd.DataFrame) -> Both:
        return Both(self.lists.fold_in(ratings), self.stars.fold_in(ratings), self.name)

    def movie_vectors(self, movies: np.ndarray) -> np.ndarray:
        return self.lists.movie_vectors(movies)


def top_movies(
    model: Recommender, user: int, rated: Rated, movies: pd.DataFrame, k: int = 10
) -> pd.DataFrame:
    """The user's ``k`` best-scored unrated movies, with stars from ``predict`` (not ``score``)."""
    catalogue = movies.set_index("movieId").loc[rated.catalogue]
    best = best_unrated(model.score, rated, np.array([user]), k)[0]
    table = catalogue.iloc[best][["title", "genres"]].reset_index()
    stars = clip(model.predict(np.full(len(best), user), table["movieId"].to_numpy()))
    table = table.assign(**{"predicted stars": stars.round(2)}).rename_axis("rank")
    return table.rename(index=lambda i: i + 1)
