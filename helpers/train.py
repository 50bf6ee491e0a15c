"""How every GNN of the kit trains (notebook 02 writes the loop inline first): one ``fit`` with
early stopping on a validation number, and the two objectives, stars (a sparse MSE) and lists
(a softmax: every liked movie should outscore the whole catalogue)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from helpers.baselines import BiasBaseline
from helpers.graph import RATES, Patterns

FULL_SOFTMAX_LIMIT = 50_000_000  # users x movies logits per step (200 MB of float32)
PAIRS_PER_STEP = 262_144  # liked pairs a list model learns from per step (25M: ~12 million)


@dataclass
class History:
    """Train loss per epoch, the validation number at each check, and the epoch that was kept."""

    loss: list[float] = field(default_factory=list)
    valid: dict[int, float] = field(default_factory=dict)
    best_epoch: int = 0
    stopped: int = 0
    budget: int = 0

    def frame(self) -> pd.DataFrame:
        """One row per epoch: train loss, and the validation number where it was checked."""
        table = pd.DataFrame({"train loss": self.loss}, index=range(1, len(self.loss) + 1))
        return table.join(pd.Series(self.valid, name="validation")).rename_axis("epoch")


def fit(
    model: nn.Module,
    step: Callable[[], float],
    validate: Callable[[], float],
    *,
    epochs: int,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    patience: int = 30,
    check_every: int = 5,
    progress: bool = False,
    average: float | None = None,
) -> History:
    """Adam on ``step()`` (loss, backward included); keeps the weights of the best ``validate()``
    (higher is better), checked every ``check_every`` epochs and on the last; stops after
    ``patience`` epochs without a better check.

    ``average``: validate and keep an exponential moving average of the weights with this
    decay (0.99: about the last 100 epochs) instead of the last step's weights. Full-batch Adam
    wanders from step to step, so the last weights amplify a rounding difference (another CPU's)
    into another model; their average does not (README, "Stored outputs on another machine").
    A budget no longer than that window (MovieLens 25M's 10 epochs) keeps the weights as they
    are: an average of so few steps would mostly be the first, untrained ones."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    averaged = None
    if average is not None and epochs * (1 - average) > 1 + 1e-9:  # 1e-9: rounding's margin
        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(average))
    history, best_state = History(budget=epochs), None
    bar = tqdm(range(1, epochs + 1), desc="train", disable=not progress)
    for epoch in bar:
        model.train()
        optimizer.zero_grad()
        history.loss.append(step())
        optimizer.step()
        if averaged is not None:
            averaged.update_parameters(model)
        history.stopped = epoch
        if epoch % check_every and epoch != epochs:
            continue
        model.eval()
        live = _swap_in(model, averaged)
        with torch.no_grad():
            history.valid[epoch] = validate()
        bar.set_postfix(valid=f"{history.valid[epoch]:.4f}")
        if history.valid[epoch] > history.valid.get(history.best_epoch, -float("inf")):
            history.best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
        if live is not None:
            model.load_state_dict(live)
        if epoch - history.best_epoch >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def _swap_in(model: nn.Module, averaged: AveragedModel | None) -> dict | None:
    """Load the averaged weights into ``model``; return its own weights to restore (or None)."""
    if averaged is None:
        return None
    live = copy.deepcopy(model.state_dict())
    model.load_state_dict(averaged.module.state_dict())
    return live


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
    below 1, for at most :data:`PAIRS_PER_STEP` liked pairs drawn at random (only large data
    sets have more; the sampled softmax's memory grows with pairs x (channels + negatives));
    past :data:`FULL_SOFTMAX_LIMIT` logits, :func:`sampled_softmax` estimates it."""
    if len(liked[0]) > PAIRS_PER_STEP:
        kept = torch.randperm(len(liked[0]), device=liked[0].device)[:PAIRS_PER_STEP]
        liked = (liked[0][kept], liked[1][kept])
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


def with_residuals(graph: HeteroData, base: BiasBaseline, ratings: pd.DataFrame) -> HeteroData:
    """``graph`` (of ``ratings``) with what ``star_step`` fits: each rating less the bias
    model's prediction, and the movie bias in that prediction."""
    users, movies = ratings["userId"].to_numpy(), ratings["movieId"].to_numpy()
    expected = base.predict(users, movies)
    graph[RATES].residual = graph[RATES].rating - torch.from_numpy(expected).float()
    unbiased = base.predict(users, -np.ones(len(ratings)))
    graph[RATES].movie_bias = torch.from_numpy(expected - unbiased).float()
    return graph
