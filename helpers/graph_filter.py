"""A graph filter: LightGCN's propagation in closed form, with no embeddings to learn.

Spreading a user's liked movies two hops over the normalised user-movie graph (movie -> the users
who liked it -> their other movies) scores every movie by co-likes, as GF-CF's linear filter does
(Shen et al., 2021, "How Powerful is Graph Convolution for Recommendation?"):
``score(u) = r_u R~^T R~`` with ``R~ = D_user^-1/2 R D_movie^-1/2``. Trained embeddings smooth
such counts into a few hundred dimensions; blending the two gives the GNN back the exact ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.graph import IdMaps, interaction_matrix

MAX_MOVIES = 20_000  # a dense movies x movies matrix, capped as EASE's (1.6 GB of float32 at most)
USERS_PER_BLOCK = 4_096  # the sparse co-like counts of 4,096 users at a time stay small


class GraphFilter:
    """Two-hop normalised co-like scores of every user for the ``max_movies`` most-liked movies."""

    def __init__(self, liked: pd.DataFrame, maps: IdMaps, max_movies: int = MAX_MOVIES):
        if liked.empty:
            raise ValueError("The graph filter needs liked ratings: lower min_rating.")
        users, movies = maps.users.index(liked["userId"]), maps.movies.index(liked["movieId"])
        shape = (len(maps.users), len(maps.movies))
        self.interactions, self.column = interaction_matrix(users, movies, shape, max_movies)
        self._similarity: np.ndarray | None = None

    @property
    def similarity(self) -> np.ndarray:
        """``R~^T R~`` over the kept movies; computed when first needed and never pickled."""
        if self._similarity is None:
            liked = self.interactions
            user_degree = np.asarray(liked.sum(axis=1), np.float32).ravel().clip(min=1)
            movie_degree = np.asarray(liked.sum(axis=0), np.float32).ravel().clip(min=1)
            normalised = liked.multiply(user_degree[:, None] ** -0.5)
            normalised = normalised.multiply(movie_degree[None, :] ** -0.5).tocsr()
            gram = np.zeros((liked.shape[1],) * 2, dtype=np.float32)
            for start in range(0, liked.shape[0], USERS_PER_BLOCK):
                block = normalised[start : start + USERS_PER_BLOCK]
                pairs = (block.T @ block).tocoo()  # one entry per movie pair: exact += below
                gram[pairs.row, pairs.col] += pairs.data
            self._similarity = gram
        return self._similarity

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Scores of user rows x movie columns (kit indices, all known); 0 for movies left out."""
        column = self.column[movies]
        scores = np.zeros((len(users), len(movies)), dtype=np.float32)
        spread = np.asarray(self.interactions[users] @ self.similarity)
        scores[:, column >= 0] = spread[:, column[column >= 0]]
        return scores

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_similarity": None}  # recomputed on load: checkpoints stay small
