"""Training objectives (notebook 02 writes the first two inline): stars or lists.

A star model learns how much a user likes the movies they chose; a list must pick, among
thousands of movies a user never rated, the ones they would choose. The softmax asks every
liked movie to outscore the whole catalogue; BPR asks it to outscore one random movie.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from helpers.graph import row_pointers, sorted_csr

FULL_SOFTMAX_LIMIT = 50_000_000  # users x movies logits per step (200 MB of float32)
SAMPLED_NEGATIVES = 512  # movies drawn per step when the full softmax is too large


@dataclass(frozen=True)
class Pairs:
    """Rated (user, movie) pairs as sparse patterns both ways, sorted once (the sort is the cost).

    ``order`` lists the pairs in (user, movie) order; ``transposed`` lists those in (movie, user)
    order, so a value per pair can be laid out for either product without sorting again.
    """

    by_user: Tensor  # CSR pattern [users, movies]
    by_movie: Tensor  # CSR pattern [movies, users]
    order: Tensor
    transposed: Tensor

    @classmethod
    def of(cls, users: Tensor, movies: Tensor, n_users: int, n_movies: int) -> Pairs:
        order = torch.argsort(users * n_movies + movies)
        transposed = torch.argsort(movies[order] * n_users + users[order])
        ones = torch.ones(len(order), device=users.device)
        by_user = sorted_csr(row_pointers(users, n_users), movies[order], ones, (n_users, n_movies))
        by_movie = sorted_csr(
            row_pointers(movies, n_movies), users[order][transposed], ones, (n_movies, n_users)
        )
        return cls(by_user, by_movie, order, transposed)

    def with_values(self, values: Tensor) -> tuple[Tensor, Tensor]:
        """The two patterns holding ``values`` (one per pair, in ``order``)."""
        laid = [(self.by_user, values), (self.by_movie, values[self.transposed])]
        return tuple(
            sorted_csr(p.crow_indices(), p.col_indices(), v, tuple(p.shape)) for p, v in laid
        )


def pair_mse_backward(users: Tensor, movies: Tensor, pairs: Pairs, target: Tensor) -> float:
    """Mean squared error of ``<users[u], movies[m]>`` against ``target``, backward included.

    The fit of every pair is one sampled product (``users @ movies.T`` at the rated entries
    only) and the gradients are two sparse products of the errors with the embeddings: no
    [pairs, channels] tensor is ever gathered (at 25M ratings it would take most of an epoch
    and gigabytes; ``benchmarks/decode.py``).
    """
    u, m = users.detach(), movies.detach()
    fit = torch.sparse.sampled_addmm(pairs.by_user, u, m.T, beta=0.0).values()
    error = fit - target[pairs.order]
    to_users, to_movies = pairs.with_values(error * (2.0 / len(error)))
    torch.autograd.backward([users, movies], [to_users @ m, to_movies @ u])
    return float(error.square().mean())


def softmax(
    users: Tensor, movies: Tensor, bias: Tensor, liked: tuple[Tensor, Tensor], temperature: float
) -> Tensor:
    """Cross-entropy of each liked (user, movie) against every movie (sampled at scale).

    A temperature below 1 sharpens the softmax, so the loss dwells on the unseen movies that
    currently outscore a liked one. Past :data:`FULL_SOFTMAX_LIMIT` logits (MovieLens 25M has
    10 billion) :func:`sampled_softmax` estimates it.
    """
    if len(users) * len(movies) > FULL_SOFTMAX_LIMIT:
        return sampled_softmax(users, movies, bias, liked, temperature)
    logits = (users / temperature) @ movies.T + bias / temperature  # no users x movies division
    return -logits.log_softmax(-1)[liked].mean()


def sampled_softmax(
    users: Tensor,
    movies: Tensor,
    bias: Tensor,
    liked: tuple[Tensor, Tensor],
    temperature: float,
    negatives: int = SAMPLED_NEGATIVES,
) -> Tensor:
    """The softmax over ``negatives`` movies drawn uniformly (shared by all pairs) + the liked one.

    Each drawn movie stands for n_movies / negatives movies, hence the log-ratio correction.
    """
    user_ids, movie_ids = liked
    drawn = torch.randint(0, len(movies), (negatives,), device=movies.device)
    user = users.index_select(0, user_ids)
    positive = (user * movies.index_select(0, movie_ids)).sum(-1) + bias[movie_ids]
    negative = (
        user @ movies[drawn].T + bias[drawn] + math.log(len(movies) / negatives) * temperature
    )
    logits = torch.cat([positive[:, None], negative], dim=1) / temperature
    return -(logits[:, 0] - logits.logsumexp(-1)).mean()


def bpr(users: Tensor, movies: Tensor, bias: Tensor, liked: tuple[Tensor, Tensor]) -> Tensor:
    """BPR: each liked movie should outscore one movie drawn at random (rarely a rated one)."""
    user_ids, movie_ids = liked
    drawn = torch.randint(0, len(movies), (len(movie_ids),), device=movies.device)
    user = users[user_ids]
    positive = (user * movies[movie_ids]).sum(-1) + bias[movie_ids]
    negative = (user * movies[drawn]).sum(-1) + bias[drawn]
    return -F.logsigmoid(positive - negative).mean()
