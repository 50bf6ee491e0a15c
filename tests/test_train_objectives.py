"""The training objectives: the sampled softmax estimates the full one; the sparse MSE is exact."""

import pytest
import torch

from helpers import train
from helpers.graph import Patterns


def test_sampled_softmax_estimates_the_full_softmax():
    torch.manual_seed(0)
    users, movies, bias = torch.randn(50, 8), torch.randn(2000, 8), torch.zeros(2000)
    liked = (torch.randint(0, 50, (500,)), torch.randint(0, 2000, (500,)))
    full = train.softmax(users, movies, bias, liked, 1.0)
    sampled = torch.stack(
        [train.sampled_softmax(users, movies, bias, liked, 1.0, 512) for _ in range(20)]
    ).mean()
    assert abs(float(sampled - full)) < 0.05 * float(full)


def test_pair_mse_backward_gives_the_gradient_of_the_plain_mse():
    torch.manual_seed(0)
    weights = torch.randn(10, 4, requires_grad=True)
    users, movies = weights[:4] * 2, weights[4:] + 1
    pairs = torch.cartesian_prod(torch.arange(4), torch.arange(6))[torch.randperm(24)[:20]].T
    target = torch.randn(20)
    value = train.pair_mse_backward(users, movies, Patterns.of(*pairs, 4, 6), target)
    sparse = weights.grad.clone()
    weights.grad = None
    plain = (
        ((weights[:4][pairs[0]] * 2 * (weights[4:][pairs[1]] + 1)).sum(-1) - target).pow(2).mean()
    )
    plain.backward()
    assert abs(value - float(plain.detach())) < 1e-5
    assert torch.allclose(sparse, weights.grad, atol=1e-5)


@pytest.mark.parametrize("full_softmax_limit", [10**9, 0], ids=["full", "sampled"])
def test_softmax_learns_from_at_most_pairs_per_step_liked_pairs(monkeypatch, full_softmax_limit):
    monkeypatch.setattr(train, "PAIRS_PER_STEP", 8)
    monkeypatch.setattr(train, "FULL_SOFTMAX_LIMIT", full_softmax_limit)
    torch.manual_seed(0)
    users = torch.randn(100, 4, requires_grad=True)
    movies, bias = torch.randn(50, 4), torch.zeros(50)
    liked = (torch.arange(100), torch.randint(0, 50, (100,)))  # one liked pair per user
    train.softmax(users, movies, bias, liked, 1.0).backward()
    assert int((users.grad.abs().sum(-1) > 0).sum()) == 8  # only the drawn pairs' users learn
