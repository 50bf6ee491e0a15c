"""Training objectives for stars (a sparse MSE) and lists (the softmax notebook 02 writes inline:
every liked movie should outscore the whole catalogue)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from helpers.graph import Patterns

FULL_SOFTMAX_LIMIT = 50_000_000  # users x movies logits per step (200 MB of float32)


def pair_mse_backward(users: Tensor, movies: Tensor, pairs: Patterns, target: Tensor) -> float:
    """Mean squared error of ``<users[u], movies[m]>`` against ``target`` (one per edge of
    ``pairs``), backward included: one sampled product and two sparse ones, no [pairs, channels]
    gather (benchmarks/decode.py)."""
    u, m = users.detach(), movies.detach()
    wanted = target[pairs.order]
    pattern = pairs.by_user(wanted)  # its values are ignored: beta=0 keeps only the pattern
    fit = torch.sparse.sampled_addmm(pattern, u, m.T, beta=0.0).values()
    error = fit - wanted
    gradient = error * (2.0 / len(error))
    to_users, to_movies = pairs.by_user(gradient), pairs.by_movie(gradient[pairs.transposed])
    torch.autograd.backward([users, movies], [to_users @ m, to_movies @ u])
    return float(error.square().mean())


def softmax(
    users: Tensor, movies: Tensor, bias: Tensor, liked: tuple[Tensor, Tensor], temperature: float
) -> Tensor:
    """Cross-entropy of each liked (user, movie) against every movie, sharpened by a temperature
    below 1; past :data:`FULL_SOFTMAX_LIMIT` logits, :func:`sampled_softmax` estimates it."""
    if len(users) * len(movies) > FULL_SOFTMAX_LIMIT:
        return sampled_softmax(users, movies, bias, liked, temperature)
    logits = (users / temperature) @ movies.T + bias / temperature  # no users x movies division
    return -logits.log_softmax(-1)[liked].mean()


def sampled_softmax(
    users: Tensor, movies: Tensor, bias: Tensor, liked: tuple, temperature: float, negatives=512
) -> Tensor:
    """The softmax over ``negatives`` movies drawn uniformly (shared by all pairs) + the liked one;
    each drawn movie stands for n_movies / negatives movies, hence the log-ratio correction."""
    user_ids, movie_ids = liked
    drawn = torch.randint(0, len(movies), (negatives,), device=movies.device)
    user = users.index_select(0, user_ids)
    positive = (user * movies.index_select(0, movie_ids)).sum(-1) + bias[movie_ids]
    correction = math.log(len(movies) / negatives) * temperature
    negative = user @ movies[drawn].T + bias[drawn] + correction
    logits = torch.cat([positive[:, None], negative], dim=1) / temperature
    return -(logits[:, 0] - logits.logsumexp(-1)).mean()
