"""The training loop with early stopping (notebook 02 writes it inline first), and the cold-start
practice it can train with (notebook 07)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm


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
    A budget shorter than that window (MovieLens 25M's 10 epochs) keeps the weights as they are:
    an average of so few steps would mostly be the first, untrained ones."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    averaged = None
    if average is not None and epochs * (1 - average) >= 1:
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


@dataclass(frozen=True)
class Practice:
    """Cold-start practice: each epoch hides the ids and ratings of a share ``movies`` of the
    movies, and cuts a share ``users`` of the users to their first 1..``onboarding`` ratings."""

    movies: float = 0.0
    users: float = 0.0
    onboarding: int = 8

    def __bool__(self) -> bool:
        return bool(self.movies or self.users)

    def draw(
        self, users: Tensor, movies: Tensor, order: Tensor, n_users: int, n_movies: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Edges that carry messages, ratings asked for, and movies that keep their id; ``order``
        is each edge's rank in its user's history."""
        hidden = torch.rand(n_movies, device=users.device) < self.movies
        practising = torch.rand(n_users, device=users.device) < self.users
        keep = torch.randint(1, self.onboarding + 1, (n_users,), device=users.device)
        shown = order < keep[users]
        cut = practising[users]
        messages = ~hidden[movies] & (~cut | shown)
        asked = ~cut | ~shown
        return messages, asked, ~hidden
