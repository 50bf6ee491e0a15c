"""GraphSAGE on the user-movie graph (notebooks 02-05 and 07): a movie starts from an id embedding
plus its features, a user from its features alone; each round both hear the mean of their
neighbours, and the output is the mean of all rounds. New users fold in from their ratings."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from helpers.graph import Patterns


class _Product(torch.autograd.Function):
    """``matrix @ x`` whose backward reuses a transpose built once (torch re-sorts it each step)."""

    @staticmethod
    def forward(ctx, x: Tensor, matrix: Tensor, transpose: Tensor) -> Tensor:
        ctx.transpose = transpose
        return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        return torch.sparse.mm(ctx.transpose, grad.contiguous()), None, None


@dataclass(frozen=True)
class Mean:
    """The mean over each node's neighbours as a sparse matrix, with its transpose."""

    matrix: Tensor
    transpose: Tensor

    def __call__(self, x: Tensor) -> Tensor:
        return _Product.apply(x, self.matrix, self.transpose)


class MeanSAGEConv(SAGEConv):
    """PyG's SAGEConv (mean aggregation, same weights and outputs) as one sparse matrix product.

    Why: at 25M ratings PyG's messages need 13 GB per layer (benchmarks/scale.py times this).
    """

    def forward(self, x: tuple[Tensor, Tensor], mean: Mean) -> Tensor:
        return self.lin_l(mean(x[0])) + self.lin_r(x[1])


@dataclass(frozen=True)
class Adjacency:
    """Who hears from whom: the mean over a movie's raters and over a user's movies."""

    to_movie: Mean
    to_user: Mean

    @classmethod
    def of(cls, users: Tensor, movies: Tensor, n_users: int, n_movies: int) -> Adjacency:
        """From the rating edges (user and movie node indices)."""
        return cls.on(Patterns.of(users, movies, n_users, n_movies))

    @classmethod
    def on(cls, patterns: Patterns, power: float = 1.0) -> Adjacency:
        """On the patterns' shared indices (``power=0.5``: sums over sqrt(degree), for the
        neighbourhood rating GNN)."""
        per_user, per_movie = patterns.user_crow.diff(), patterns.movie_crow.diff()
        user_weight, movie_weight = (
            n.clamp(min=1).float() ** -power for n in (per_user, per_movie)
        )
        to_movie = Mean(
            patterns.by_movie(movie_weight.repeat_interleave(per_movie)),
            patterns.by_user(movie_weight[patterns.user_movies]),
        )
        to_user = Mean(
            patterns.by_user(user_weight.repeat_interleave(per_user)),
            patterns.by_movie(user_weight[patterns.movie_users]),
        )
        return cls(to_movie, to_user)


class GraphSAGE(nn.Module):
    """User and movie embeddings: inputs, ``layers`` rounds of messages both ways, their mean."""

    def __init__(
        self,
        num_movies: int,
        channels: int = 128,
        layers: int = 2,
        user_features: int = 0,
        movie_features: int = 0,
    ):
        super().__init__()
        self.movie_ids = nn.Embedding(num_movies, channels)
        nn.init.normal_(self.movie_ids.weight, std=0.1)
        self.movie_features = nn.Linear(movie_features, channels) if movie_features else None
        self.user_features = nn.Linear(user_features, channels) if user_features else None
        self.user_start = nn.Parameter(torch.zeros(channels))  # a user before its movies speak
        self.to_movie = nn.ModuleList(MeanSAGEConv(channels, channels) for _ in range(layers))
        self.to_user = nn.ModuleList(MeanSAGEConv(channels, channels) for _ in range(layers))
        self.movie_bias = nn.Parameter(torch.zeros(num_movies))  # popularity, for lists

    def user_inputs(self, x: Tensor | None, n_users: int) -> Tensor:
        start = self.user_start.expand(n_users, -1)
        return start if self.user_features is None else start + self.user_features(x)

    def movie_inputs(self, x: Tensor | None, known: Tensor) -> Tensor:
        """Id embeddings of ``known`` movies (trained ones), zeros for the others, plus features."""
        ids = self.movie_ids.weight * known.unsqueeze(-1)
        return ids if self.movie_features is None else ids + self.movie_features(x)

    def layers(
        self, users: Tensor, movies: Tensor, adjacency: Adjacency
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Every round's user and movie embeddings, the inputs first."""
        user_layers, movie_layers = [users], [movies]
        for to_movie, to_user in zip(self.to_movie, self.to_user, strict=True):
            movies = to_movie((user_layers[-1], movie_layers[-1]), adjacency.to_movie)
            users = to_user((movie_layers[-1], user_layers[-1]), adjacency.to_user)
            user_layers.append(users)
            movie_layers.append(movies)
        return user_layers, movie_layers

    def forward(
        self, user_x, movie_x, known: Tensor, adjacency: Adjacency
    ) -> tuple[Tensor, Tensor]:
        """Final user and movie embeddings: the mean over the inputs and every round."""
        users = self.user_inputs(user_x, adjacency.to_user.matrix.size(0))
        user_layers, movie_layers = self.layers(users, self.movie_inputs(movie_x, known), adjacency)
        return torch.stack(user_layers).mean(0), torch.stack(movie_layers).mean(0)

    @torch.no_grad()
    def fold_in(self, movie_layers: list[Tensor], user_x: Tensor | None, to_user: Mean) -> Tensor:
        """Embeddings of unseen users from their ratings (``to_user``) and the stored movie
        layers alone: no gradient step, a few small products whatever the size of the graph."""
        users = [self.user_inputs(user_x, to_user.matrix.size(0))]
        for to_user_conv, movies in zip(self.to_user, movie_layers, strict=False):
            users.append(to_user_conv((movies, users[-1]), to_user))
        return torch.stack(users).mean(0)
