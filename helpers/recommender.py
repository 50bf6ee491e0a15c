"""What every model in the kit answers (raw MovieLens ids in, numbers out), and top-K lists.

``predict(users, movies)`` gives stars for pairs; ``score(users, movies)`` a users x movies grid
of ranking scores. Baselines and GNNs answer alike, so :mod:`helpers.metrics` and the explorer
treat them alike. Notebook 02 introduces it; :class:`Rated` (who rated what) feeds every list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from helpers.graph import IdMaps

STARS = (0.5, 5.0)  # MovieLens' rating scale: every prediction shown or scored is clipped to it


class Recommender(Protocol):
    name: str

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...


def clip(stars: np.ndarray) -> np.ndarray:
    """Predicted stars on MovieLens' scale."""
    return np.clip(stars, *STARS)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` best scores per row, best first; ties go to the lower index."""
    k = min(k, scores.shape[1])
    part = np.sort(np.argpartition(-scores, k - 1, axis=1)[:, :k], axis=1)
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


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
        movies = ratings["movieId"].to_numpy()[order]
        position = np.searchsorted(catalogue, movies).clip(max=max(len(catalogue) - 1, 0))
        known = catalogue[position] == movies if len(catalogue) else np.zeros(len(movies), bool)
        stars = ratings["rating"].to_numpy(np.float32)[order]
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return cls(catalogue, user_ids, indptr, np.where(known, position, -1), stars)

    def rows(self, users: np.ndarray) -> np.ndarray:
        """Row of each user id (-1 for a user without ratings)."""
        row = np.searchsorted(self.user_ids, users).clip(max=max(len(self.user_ids) - 1, 0))
        return np.where(self.user_ids[row] == users, row, -1) if len(self.user_ids) else row - 1

    def of_user(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue positions and stars of one user's ratings (empty for an unknown user)."""
        row = self.rows(np.array([user]))[0]
        if row < 0:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        part = slice(self.indptr[row], self.indptr[row + 1])
        return self.positions[part], self.stars[part]

    def mask(self, users: np.ndarray) -> np.ndarray:
        """Boolean [len(users), len(catalogue)]: True where the user rated the movie."""
        rows = self.rows(users)
        starts = np.where(rows >= 0, self.indptr[rows], 0)
        counts = np.where(rows >= 0, self.indptr[rows + 1] - starts, 0)
        owner = np.repeat(np.arange(len(users)), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        positions = self.positions[np.repeat(starts, counts) + offset]
        mask = np.zeros((len(users), len(self.catalogue)), dtype=bool)
        mask[owner[positions >= 0], positions[positions >= 0]] = True
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
    """A GNN behind raw ids: lists from ``lists`` embeddings, stars from ``base`` (a bias
    model) plus the fit of the ``stars`` embeddings (both optional).

    A user the graph does not know gets the popularity part of the scores; a movie it does not
    know is never listed (-inf) and gets the base model's stars.
    """

    def __init__(self, name: str, maps: IdMaps, base, lists=None, stars=None):
        self.name, self.maps, self.base, self.lists, self.stars = name, maps, base, lists, stars

    def _index(self, users: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        users, movies = np.asarray(users), np.asarray(movies)
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
    """The user's ``k`` best-scored movies of the catalogue among those it has not rated.

    Ranked by ``score``; ``predicted stars`` from ``predict`` (a ranking model's scores are not
    on the star scale).
    """
    catalogue = movies.set_index("movieId").loc[rated.catalogue]
    scores = model.score(np.array([user]), rated.catalogue)
    scores[rated.mask(np.array([user]))] = -np.inf
    best = top_k(scores, k)[0]
    table = catalogue.iloc[best][["title", "genres"]].reset_index()
    stars = clip(model.predict(np.full(len(best), user), table["movieId"].to_numpy()))
    return (
        table.assign(**{"predicted stars": stars.round(2)})
        .rename_axis("rank")
        .rename(index=lambda i: i + 1)
    )
