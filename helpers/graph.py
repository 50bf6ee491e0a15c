"""The user-movie graph (notebook 02): raw-id <-> node-index maps, a ``HeteroData`` with edges
both ways, and the sparse matrices message passing and item-item models run on."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch_geometric.transforms as T
from scipy import sparse
from torch import Tensor
from torch_geometric.data import HeteroData

RATES = ("user", "rates", "movie")
RATED_BY = ("movie", "rev_rates", "user")


@dataclass(frozen=True)
class IdMap:
    """Raw MovieLens ids <-> node indices 0..n-1 (sorted raw ids, so stable; a binary search)."""

    ids: np.ndarray

    @classmethod
    def from_ids(cls, ids: np.ndarray | pd.Series) -> IdMap:
        return cls(np.unique(np.asarray(ids)))

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, raw: np.ndarray | pd.Series, strict: bool = True) -> np.ndarray:
        """Node indices of raw ids; unknown ids raise (``strict``) or map to -1."""
        raw, n = np.asarray(raw), len(self.ids)
        position = np.searchsorted(self.ids, raw).clip(max=max(n - 1, 0))
        found = np.where(self.ids[position] == raw, position, -1) if n else np.full(raw.shape, -1)
        if strict and (found < 0).any():
            unknown = raw[found < 0][:5].tolist()
            raise KeyError(f"ids {unknown} are not in this graph (it has {len(self):,} nodes).")
        return found

    def raw(self, index: np.ndarray | Tensor) -> np.ndarray:
        return self.ids[np.asarray(index)]


@dataclass(frozen=True)
class IdMaps:
    users: IdMap
    movies: IdMap

    @classmethod
    def from_tables(cls, ratings: pd.DataFrame, movies: pd.DataFrame) -> IdMaps:
        """Users are the ones who rated; movies are every movie of ``movies.csv`` plus any rated."""
        movie_ids = np.union1d(movies["movieId"].to_numpy(), ratings["movieId"].unique())
        return cls(IdMap.from_ids(ratings["userId"]), IdMap.from_ids(movie_ids))

    def pairs(self, ratings: pd.DataFrame) -> tuple[Tensor, Tensor]:
        """(user, movie) node indices of the ratings; -1 for ids the maps do not know."""
        users = self.users.index(ratings["userId"], strict=False)
        movies = self.movies.index(ratings["movieId"], strict=False)
        return torch.from_numpy(users).long(), torch.from_numpy(movies).long()


def build_graph(
    ratings: pd.DataFrame,
    maps: IdMaps,
    user_features: Tensor | None = None,
    movie_features: Tensor | None = None,
    undirected: bool = True,
) -> HeteroData:
    """A ``HeteroData`` of the (train) ratings; ``undirected=False`` is the student notebook's
    mistake (user -> movie edges only), kept so notebook 02 can show what it costs."""
    data = HeteroData()
    for kind, ids, x in (
        ("user", maps.users, user_features),
        ("movie", maps.movies, movie_features),
    ):
        data[kind].num_nodes = len(ids)
        if x is not None:
            data[kind].x = x
    users, movies = maps.pairs(ratings)
    data[RATES].edge_index = torch.stack([users, movies])
    data[RATES].rating = torch.tensor(ratings["rating"].to_numpy(np.float32))
    if undirected:
        data = T.ToUndirected()(data)  # adds ("movie", "rev_rates", "user")
        del data[RATED_BY].rating  # ratings are labels on the forward edges only
    return data


def csr(rows: Tensor, cols: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A torch sparse CSR matrix of unordered entries."""
    order = torch.argsort(rows * size[1] + cols)
    return sorted_csr(row_pointers(rows, size[0]), cols[order], values[order], size)


def row_pointers(rows: Tensor, n_rows: int) -> Tensor:
    """CSR's ``crow_indices``: where each row's entries start (and, last, how many there are)."""
    crow = torch.zeros(n_rows + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.bincount(rows, minlength=n_rows).cumsum(0)
    return crow


def sorted_csr(crow: Tensor, cols: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A CSR matrix of entries already in row order, without torch's "beta" warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, cols, values, size=size, check_invariants=False)


@dataclass(frozen=True)
class Patterns:
    """The rating edges sorted once by (user, movie) and once by (movie, user): the two sparsity
    patterns every matrix over them shares (at 25M ratings the sort is what a matrix costs).

    ``order``: the edge of each by-user entry; ``transposed``: the by-user position of each
    by-movie entry (both int32, which halves their memory)."""

    user_crow: Tensor
    user_movies: Tensor  # the movie of each by-user entry
    movie_crow: Tensor
    movie_users: Tensor  # the user of each by-movie entry
    order: Tensor
    transposed: Tensor

    @classmethod
    def of(cls, users: Tensor, movies: Tensor, n_users: int, n_movies: int) -> Patterns:
        order = torch.argsort(users * n_movies + movies)
        transposed = torch.argsort(movies[order] * n_users + users[order])
        by_user, by_movie = movies[order], users[order][transposed]
        crows = row_pointers(users, n_users), row_pointers(movies, n_movies)
        return cls(crows[0], by_user, crows[1], by_movie, order.int(), transposed.int())

    @property
    def size(self) -> tuple[int, int]:  # (users, movies)
        return len(self.user_crow) - 1, len(self.movie_crow) - 1

    def by_user(self, values: Tensor) -> Tensor:
        """The [users, movies] matrix holding ``values`` (one per entry, in by-user order)."""
        return sorted_csr(self.user_crow, self.user_movies, values, self.size)

    def by_movie(self, values: Tensor) -> Tensor:
        """The [movies, users] matrix holding ``values`` (one per entry, in by-movie order)."""
        return sorted_csr(self.movie_crow, self.movie_users, values, self.size[::-1])


class LikedRows:
    """Each user's liked movies as a sparse row over the ``max_movies`` most-liked movies (item-
    item models need a dense movies x movies matrix); ``with_users`` keeps the fitted columns."""

    def __init__(self, liked: pd.DataFrame, max_movies: int | None = None, columns=None):
        if columns is None:
            ids, counts = np.unique(liked["movieId"].to_numpy(), return_counts=True)
            columns = IdMap.from_ids(ids[np.argsort(-counts, kind="stable")[:max_movies]])
        self.columns, self.liked = columns, liked[["userId", "movieId"]]
        self.users = IdMap.from_ids(liked["userId"])
        column = columns.index(liked["movieId"], strict=False)
        rows = self.users.index(liked["userId"])[column >= 0]
        self.matrix = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, column[column >= 0])),
            shape=(len(self.users), len(columns)),
        )

    def with_users(self, liked: pd.DataFrame) -> LikedRows:
        both = pd.concat([self.liked, liked[["userId", "movieId"]]])
        return LikedRows(both, columns=self.columns)

    def of(self, users: np.ndarray) -> sparse.csr_matrix:
        """The rows of ``users`` (raw ids; an unknown user gets an empty row)."""
        u = self.users.index(users, strict=False)
        return self.matrix[np.maximum(u, 0)].multiply((u >= 0)[:, None]).tocsr()
