"""From a trained model to scores and top-K lists over raw MovieLens ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch_geometric.data import HeteroData

from helpers.graph import IdMaps
from helpers.scale import use_sparse_adjacency


class GNNRecommender:
    """Wraps a trained model so it speaks raw ids, like the baselines do.

    Embeddings are computed once here; every later call is a lookup and a matrix product.
    Users or movies missing from the graph fall back to the movie bias or the global mean.
    """

    def __init__(self, model: nn.Module, data: HeteroData, maps: IdMaps, name: str = "GNN"):
        self.model, self.maps, self.name = model.eval(), maps, name
        use_sparse_adjacency(model, data)  # O(edges) message passing, also at 25M ratings
        with torch.no_grad():
            self.z = model.embed(data)

    def _indices(self, users: np.ndarray, movies: np.ndarray) -> tuple[torch.Tensor, ...]:
        u = torch.from_numpy(self.maps.users.index(users, strict=False))
        m = torch.from_numpy(self.maps.movies.index(movies, strict=False))
        return u, m

    @torch.no_grad()
    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._indices(users, movies)
        known = (u >= 0) & (m >= 0)
        stars = self.model.decode(self.z, u.clamp(min=0), m.clamp(min=0))
        fallback = self.model.mean_rating + torch.where(
            m >= 0, self.model.movie_bias(m.clamp(min=0)).squeeze(-1), 0.0
        )
        return torch.where(known, stars, fallback).numpy().astype(np.float64)

    @torch.no_grad()
    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._indices(users, movies)
        scores = self.model.score_all(self.z, u.clamp(min=0), m.clamp(min=0))
        scores[:, m < 0] = -torch.inf
        return scores.numpy().astype(np.float64)


def top_movies(
    model, user_id: int, train: pd.DataFrame, movies: pd.DataFrame, k: int = 10
) -> pd.DataFrame:
    """The user's ``k`` best-scored movies among those it has not rated in train.

    Ranked by ``model.score``; ``predicted_stars`` comes from ``model.predict`` (the same for a
    rating model, the star model behind a ranking model).
    """
    candidates = movies[~movies["movieId"].isin(train.loc[train["userId"] == user_id, "movieId"])]
    scores = model.score(np.array([user_id]), candidates["movieId"].to_numpy())[0]
    order = np.argsort(-scores, kind="stable")[:k]
    table = candidates.iloc[order][["movieId", "title", "genres"]].reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    stars = model.predict(np.full(len(table), user_id), table["movieId"].to_numpy())
    return table.assign(predicted_stars=np.round(np.clip(stars, 0.5, 5.0), 2))
