"""LightGCN (He et al., 2020) and the graph filter, its propagation in closed form (GF-CF,
Shen et al., 2021): the kit's best list models, blended (notebook 06)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch_geometric.nn.models import LightGCN

from helpers.baselines import ItemItem
from helpers.graph import LikedRows, csr

FILTER_MOVIES = 20_000  # a dense movies x movies matrix, capped as EASE's (1.6 GB of float32)
USERS_PER_BLOCK = 4_096  # the sparse co-like counts of 4,096 users at a time stay small
SPREAD_USERS = 256  # users whose scores set the scale of the two scores before blending


def normalised_adjacency(users: torch.Tensor, movies: torch.Tensor, n_users: int, n_movies: int):
    """LightGCN's D^-1/2 A D^-1/2 over users and movies as one graph (movies after users)."""
    rows = torch.cat([users, movies + n_users])
    cols = torch.cat([movies + n_users, users])
    scale = torch.bincount(rows, minlength=n_users + n_movies).clamp(min=1).float().rsqrt()
    return csr(rows, cols, scale[rows] * scale[cols], (n_users + n_movies,) * 2)


class RankingLightGCN(LightGCN):
    """PyG's LightGCN on a normalised sparse adjacency, plus a movie bias for popularity."""

    def __init__(self, n_users: int, n_movies: int, channels: int = 512, layers: int = 4):
        super().__init__(n_users + n_movies, channels, layers, normalize=False)
        # the LightGCN paper's start, normal with std 0.1 (PyG's default is Xavier)
        torch.nn.init.normal_(self.embedding.weight, std=0.1)
        self.n_users = n_users
        self.movie_bias = torch.nn.Parameter(torch.zeros(n_movies))

    def embed(self, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.get_embedding(adjacency)
        return z[: self.n_users], z[self.n_users :]


class GraphFilter(ItemItem):
    """Two-hop normalised co-like scores (raw ids in) over the ``max_movies`` most-liked movies."""

    name, missing = "graph filter", 0.0

    def __init__(self, min_rating: float = 3.5, max_movies: int = FILTER_MOVIES):
        self.min_rating, self.max_movies, self._similarity = min_rating, max_movies, None

    def fit(self, train: pd.DataFrame) -> GraphFilter:
        liked = train[train["rating"] >= self.min_rating]
        if liked.empty:
            raise ValueError("The graph filter needs liked ratings: lower min_rating.")
        self.rows = LikedRows(liked, self.max_movies)
        return self

    @property
    def similarity(self) -> np.ndarray:
        """``R~^T R~`` over the kept movies; computed when first needed and never pickled."""
        if self._similarity is None:
            rows = self.rows.matrix
            user_degree = np.asarray(rows.sum(axis=1), np.float32).ravel().clip(1)
            movie_degree = np.asarray(rows.sum(axis=0), np.float32).ravel().clip(1)
            normalised = rows.multiply(user_degree[:, None] ** -0.5)
            normalised = normalised.multiply(movie_degree[None, :] ** -0.5).tocsr()
            gram = np.zeros((rows.shape[1],) * 2, dtype=np.float32)
            for start in range(0, rows.shape[0], USERS_PER_BLOCK):
                block = normalised[start : start + USERS_PER_BLOCK]
                pairs = (block.T @ block).tocoo()  # one entry per movie pair: exact += below
                gram[pairs.row, pairs.col] += pairs.data
            self._similarity = gram
        return self._similarity

    weights = similarity

    def fold_in(self, ratings: pd.DataFrame) -> GraphFilter:
        joined = super().fold_in(ratings)  # (copying drops the similarity, as pickling does)
        joined._similarity = self.similarity  # the training users' co-likes, not refitted
        return joined

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_similarity": None}  # recomputed on load: files stay small


class Blend:
    """``first`` plus ``share`` times ``second``, each over its spread (so a share is a share)."""

    def __init__(self, first, second, share: float, users: np.ndarray, movies: np.ndarray):
        self.first, self.second, self.share, self.name = first, second, share, first.name
        scores = [model.score(users[:SPREAD_USERS], movies) for model in (first, second)]
        self.spreads = [float(np.std(sample)) or 1.0 for sample in scores]

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        first = self.first.score(users, movies) / self.spreads[0]
        if not self.share:
            return first
        return first + self.share * self.second.score(users, movies) / self.spreads[1]

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.first.predict(users, movies)

    def movie_vectors(self, movies: np.ndarray) -> np.ndarray:
        return self.first.movie_vectors(movies)
