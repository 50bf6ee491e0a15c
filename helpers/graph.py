"""The user-movie graph as a PyG ``HeteroData``, and the raw-id <-> node-index maps beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch_geometric.transforms as T
from torch_geometric.data import HeteroData

RATES = ("user", "rates", "movie")
RATED_BY = ("movie", "rev_rates", "user")


@dataclass(frozen=True)
class IdMap:
    """Raw MovieLens ids <-> consecutive node indices 0..n-1 (sorted raw ids, so stable)."""

    ids: np.ndarray

    @classmethod
    def from_ids(cls, ids: np.ndarray | pd.Series) -> IdMap:
        return cls(np.unique(np.asarray(ids)))

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, raw: np.ndarray | pd.Series, strict: bool = True) -> np.ndarray:
        """Node indices of raw ids; unknown ids raise (``strict``) or map to -1."""
        found = pd.Index(self.ids).get_indexer(np.asarray(raw))
        if strict and (found < 0).any():
            unknown = np.asarray(raw)[found < 0][:5].tolist()
            raise KeyError(f"ids {unknown} are not in this graph (it has {len(self):,} nodes).")
        return found

    def raw(self, index: np.ndarray | torch.Tensor) -> np.ndarray:
        """Raw ids of node indices."""
        return self.ids[np.asarray(index)]


@dataclass(frozen=True)
class IdMaps:
    """The two maps of a user-movie graph."""

    users: IdMap
    movies: IdMap

    @classmethod
    def from_tables(cls, ratings: pd.DataFrame, movies: pd.DataFrame) -> IdMaps:
        """Users are the ones who rated; movies are every movie of ``movies.csv`` plus any rated."""
        movie_ids = np.union1d(movies["movieId"].to_numpy(), ratings["movieId"].unique())
        return cls(IdMap.from_ids(ratings["userId"]), IdMap.from_ids(movie_ids))


def rating_edges(ratings: pd.DataFrame, maps: IdMaps) -> torch.Tensor:
    """``edge_index`` [2, n] of user -> movie for the given ratings, in node indices."""
    users = maps.users.index(ratings["userId"])
    movies = maps.movies.index(ratings["movieId"])
    return torch.from_numpy(np.stack([users, movies])).long()


def build_graph(
    train: pd.DataFrame,
    maps: IdMaps,
    user_features: torch.Tensor | None = None,
    movie_features: torch.Tensor | None = None,
    undirected: bool = True,
) -> HeteroData:
    """A ``HeteroData`` from train ratings only: rating edges both ways, typed node features.

    ``undirected=False`` keeps only user -> movie edges: the student notebook's mistake, kept
    so notebook 02 can show what it costs (users then never receive a message).
    """
    data = HeteroData()
    data["user"].num_nodes = len(maps.users)
    data["movie"].num_nodes = len(maps.movies)
    data["user"].node_id = torch.arange(len(maps.users))
    data["movie"].node_id = torch.arange(len(maps.movies))
    if user_features is not None:
        data["user"].x = user_features
    if movie_features is not None:
        data["movie"].x = movie_features
    data[RATES].edge_index = rating_edges(train, maps)
    data[RATES].rating = torch.from_numpy(train["rating"].to_numpy(dtype=np.float32))
    if undirected:
        data = T.ToUndirected()(data)  # adds ("movie", "rev_rates", "user")
        del data[RATED_BY].rating  # a message must not carry the rating it is asked to predict
    return data
