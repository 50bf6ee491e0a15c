"""Training objectives (notebook 02 writes the first two inline): stars or lists.

A star model learns how much a user likes the movies they chose; a list must pick, among
thousands of movies a user never rated, the ones they would choose. The softmax asks every
liked movie to outscore the whole catalogue; BPR asks it to outscore one random movie.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

FULL_SOFTMAX_LIMIT = 50_000_000  # users x movies logits per step (200 MB of float32)
SAMPLED_NEGATIVES = 512  # movies drawn per step when the full softmax is too large


def pair_mse_backward(
    users: Tensor,
    movies: Tensor,
    pairs: tuple[Tensor, Tensor],
    target: Tensor,
    chunk: int = 1 << 20,
) -> float:
    """Mean squared error of ``<users[u], movies[m]>`` against ``target``, backward included.

    The pairs are decoded a million at a time on detached copies of the embeddings, whose
    gradients then flow back through the encoder once: at 25M ratings a [pairs, channels]
    tensor would not fit in memory.
    """
    detached = [z.detach().requires_grad_() for z in (users, movies)]
    total, n = 0.0, len(target)
    for start in range(0, n, chunk):
        u, m = (index[start : start + chunk] for index in pairs)
        fit = (detached[0].index_select(0, u) * detached[1].index_select(0, m)).sum(-1)
        loss = ((fit - target[start : start + chunk]) ** 2).sum() / n
        loss.backward()
        total += loss.item()
    torch.autograd.backward([users, movies], [z.grad for z in detached])
    return total


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
