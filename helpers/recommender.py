"""What every model answers (notebook 02): ``predict(users, movies)`` stars for pairs and
``score(users, movies)`` a users x movies grid of ranking scores, raw ids in; and top-K lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from helpers.data import STARS
from helpers.graph import IdMap, IdMaps

Score = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Recommender(Protocol):
    name: str

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...


def clip(stars: np.ndarray) -> np.ndarray:
    return np.clip(stars, *STARS)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` best scores per row, best first; ties go to the lower index,
    also at the k-th place, where ``argpartition`` alone keeps an arbitrary few of the tied."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    if np.isnan(kth).any():
        raise ValueError("The model scored NaN where a list needs numbers: check its score().")
    for row in np.flatnonzero((scores >= kth).sum(axis=1) > k):  # more tied at the k-th than fit
        best = np.flatnonzero(scores[row] > kth[row])
        part[row] = np.concatenate([best, np.flatnonzero(scores[row] == kth[row])[: k - len(best)]])
    part = np.sort(part, axis=1)  # so the stable sort below leaves tied columns in index order
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def best_unrated(score: Score, rated: Rated, users: np.ndarray, k: int) -> np.ndarray:
    """Catalogue positions of each user's ``k`` best-scored movies that it has not rated."""
    scores = np.asarray(score(users, rated.catalogue), dtype=np.float64)
    scores[rated.mask(users)] = -np.inf
    return top_k(scores, k)


@dataclass(frozen=True)
class Rated:
    """Each user's ratings as positions in a catalogue (CSR by user), looked up fast."""

    catalogue: np.ndarray  # sorted movie ids that lists are drawn from
    user_ids: np.ndarray  # sorted raw ids
    indptr: np.ndarray
    positions: np.ndarray  # catalogue position of each rated movie (-1: not in the catalogue)
    stars: np.ndarray

    @classmethod
    def of(cls, ratings: pd.DataFrame, catalogue: np.ndarray | None = None) -> Rated:
        """``catalogue`` (sorted ids): by default every movie with a rating in ``ratings``."""
        if catalogue is None:
            catalogue = np.sort(ratings["movieId"].unique())
        order = np.argsort(ratings["userId"].to_numpy(), kind="stable")
        user_ids, counts = np.unique(ratings["userId"].to_numpy()[order], return_counts=True)
        positions = IdMap(catalogue).index(ratings["movieId"].to_numpy()[order], strict=False)
        stars = ratings["rating"].to_numpy(np.float32)[order]
        return cls(catalogue, user_ids, np.concatenate([[0], np.cumsum(counts)]), positions, stars)

    def rows(self, users: np.ndarray) -> np.ndarray:
        """Row of each user id (-1 for a user without ratings)."""
        return IdMap(self.user_ids).index(users, strict=False)

    def of_user(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue positions and stars of one user's ratings (empty for an unknown user)."""
        row = self.rows(np.array([user]))[0]
        part = slice(self.indptr[row], self.indptr[row + 1]) if row >= 0 else slice(0)
        return self.positions[part], self.stars[part]

    def mask(self, users: np.ndarray) -> np.ndarray:
        """Boolean [len(users), len(catalogue)]: True where the user rated the movie."""
        mask = np.zeros((len(users), len(self.catalogue)), dtype=bool)
        for i, row in enumerate(self.rows(users)):
            if row >= 0:
                positions = self.positions[self.indptr[row] : self.indptr[row + 1]]
                mask[i, positions[positions >= 0]] = True
        return mask


@dataclass
class Embeddings:
    """What a trained GNN serves: a vector per user and per movie node, and movie biases."""

    users: np.ndarray
    movies: np.ndarray
    bias: np.ndarray

    def pairs(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.users[u], self.movies[m]).astype(np.float64)

    def grid(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        return (self.users[u] @ self.movies[m].T + self.bias[m]).astype(np.float64)


class GNNRecommender:
    """A GNN behind raw ids: lists from ``lists``, stars from ``base`` (a bias model) plus the fit
    of ``stars``; unknown users get popularity scores, unknown movies are never listed."""

    def __init__(self, name: str, maps: IdMaps, base, lists=None, stars=None):
        self.name, self.maps, self.base, self.lists, self.stars = name, maps, base, lists, stars

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
