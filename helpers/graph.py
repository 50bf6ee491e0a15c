"""The user-movie graph (notebook 02): raw-id <-> node-index maps, the ``HeteroData`` every GNN of
the kit trains on and serves from (rating edges both ways, their sparse mean adjacency and the
SAGEConv that reads it), and cold-start practice, the graph an epoch sees (notebook 07)."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
import torch_geometric.transforms as T
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn import SAGEConv

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
    user_x: Tensor | None = None,
    movie_x: Tensor | None = None,
    undirected: bool = True,
) -> HeteroData:
    """A ``HeteroData`` of the (train) ratings with edges both ways, each relation's mean
    adjacency ``adj_t`` (what GraphSAGE hears), and each rating's rank in its user's history.
    The reverse relation keeps its adjacency only, as PyG's ``T.ToSparseTensor`` leaves an edge
    type (its edge list is the forward one flipped: 288 MB at MovieLens 25M).
    ``undirected=False`` is the student notebook's mistake (user -> movie edges only), kept so
    notebook 02 can show what it costs."""
    data = HeteroData()
    data["user"].num_nodes, data["movie"].num_nodes = len(maps.users), len(maps.movies)
    for kind, x in (("user", user_x), ("movie", movie_x)):
        if x is not None:
            data[kind].x = x
    edge_index = torch.empty((2, len(ratings)), dtype=torch.long)  # filled row by row: no copy
    edge_index[0] = torch.from_numpy(maps.users.index(ratings["userId"], strict=False))
    edge_index[1] = torch.from_numpy(maps.movies.index(ratings["movieId"], strict=False))
    data[RATES].edge_index = edge_index
    users, movies = edge_index  # views
    data[RATES].rating = torch.tensor(ratings["rating"].to_numpy(np.float32))
    if not undirected:
        return data
    data[RATES].patterns = patterns = Patterns.of(users, movies, len(maps.users), len(maps.movies))
    data[RATES].adj_t, to_user = mean_adjacency(patterns)
    data = T.ToUndirected()(data)  # adds ("movie", "rev_rates", "user")
    del data[RATED_BY].edge_index, data[RATED_BY].rating  # ratings label the forward edges only
    data[RATED_BY].adj_t = to_user
    by_time = ratings.sort_values(["timestamp", "movieId"], kind="stable").groupby("userId")
    data[RATES].order = torch.tensor(by_time.cumcount().reindex(ratings.index).to_numpy())
    data["movie"].rated = torch.bincount(movies, minlength=len(maps.movies)) > 0
    return data


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


class Patterns(NamedTuple):
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


class _Product(torch.autograd.Function):
    """``matrix @ x`` whose backward reuses a transpose built once (torch re-sorts it each step)."""

    @staticmethod
    def forward(ctx, x: Tensor, matrix: Tensor, transpose: Tensor) -> Tensor:
        ctx.transpose = transpose
        return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        return torch.sparse.mm(ctx.transpose, grad.contiguous()), None, None


class Mean(NamedTuple):
    """A relation's ``adj_t``: the mean over each node's neighbours as a sparse matrix, with
    its transpose for the backward pass (``mean(x)`` is ``matrix @ x``)."""

    matrix: Tensor
    transpose: Tensor

    def __call__(self, x: Tensor) -> Tensor:
        return _Product.apply(x, self.matrix, self.transpose)


class MeanSAGEConv(SAGEConv):
    """PyG's SAGEConv (mean aggregation: the same weights and outputs) on the kit's ``Mean``
    adjacency, whose backward reuses a transpose built once. PyG's own on a sparse ``adj_t``
    re-sorts it every step: 1.8-3.2 times the time and 1.7 times the memory at about MovieLens
    25M's size, 2 threads (``benchmarks/sage_conv.py``, runs in ``benchmarks/README.md``)."""

    def forward(self, x: tuple[Tensor, Tensor], adj_t: Mean) -> Tensor:
        return self.lin_l(adj_t(x[0])) + self.lin_r(x[1])


def mean_adjacency(patterns: Patterns, power: float = 1.0) -> tuple[Mean, Mean]:
    """Who hears from whom: the mean over a movie's raters and over a user's movies
    (``power=0.5``: sums over sqrt(degree), for the neighbourhood rating GNN of notebook 06)."""
    per_user, per_movie = patterns.user_crow.diff(), patterns.movie_crow.diff()
    user_weight, movie_weight = (n.clamp(min=1).float() ** -power for n in (per_user, per_movie))
    to_movie = Mean(
        patterns.by_movie(movie_weight.repeat_interleave(per_movie)),
        patterns.by_user(movie_weight[patterns.user_movies]),
    )
    to_user = Mean(
        patterns.by_user(user_weight.repeat_interleave(per_user)),
        patterns.by_movie(user_weight[patterns.movie_users]),
    )
    return to_movie, to_user


def with_messages(graph: HeteroData, keep: Tensor) -> HeteroData:
    """A shallow copy of ``graph`` whose adjacency carries the ``keep`` edges' messages only
    (cold-start practice hides some); edges, ratings and features stay."""
    users, movies = graph[RATES].edge_index[:, keep]
    sizes = graph["user"].num_nodes, graph["movie"].num_nodes
    practised = copy.copy(graph)  # new stores, the same tensors
    practised[RATES].adj_t, practised[RATED_BY].adj_t = mean_adjacency(
        Patterns.of(users, movies, *sizes)
    )
    return practised


@dataclass(frozen=True)
class Practice:
    """Cold-start practice (notebook 07): each epoch hides the ids and ratings of a share
    ``movies`` of the movies, and cuts a share ``users`` of the users to their first
    1..``onboarding`` ratings."""

    movies: float = 0.0
    users: float = 0.0
    onboarding: int = 8

    def draw(self, graph: HeteroData) -> HeteroData:
        """This epoch's graph: messages only on the edges shown, the ratings asked for
        (``asked``), hidden movies without their ids; ``graph`` itself without practice."""
        if not (self.movies or self.users):
            return graph
        users, movies = graph[RATES].edge_index
        on = users.device
        hidden = torch.rand(graph["movie"].num_nodes, device=on) < self.movies
        practising = torch.rand(graph["user"].num_nodes, device=on) < self.users
        keep = torch.randint(1, self.onboarding + 1, (graph["user"].num_nodes,), device=on)
        shown, cut = graph[RATES].order < keep[users], practising[users]
        practised = with_messages(graph, ~hidden[movies] & (~cut | shown))
        practised[RATES].asked = ~cut | ~shown
        practised["movie"].known = graph["movie"].known & ~hidden
        practised["movie"].hidden = hidden
        return practised
