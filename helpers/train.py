"""Full-graph training with a validation set, early stopping and a loss history.

The graph is embedded once per epoch; the supervised edges are then decoded in chunks whose
gradients are summed on a detached copy of the embeddings, so peak memory stays bounded by the
chunk size however many ratings there are, and the encoder runs backward only once. Message
passing runs as sparse matrix products (:func:`helpers.scale.use_sparse_adjacency`), and
millions of ratings get an epoch budget (:func:`helpers.scale.max_epochs`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from tqdm.auto import tqdm

from helpers import scale
from helpers.graph import IdMaps


@dataclass
class Labels:
    """Supervised (user, movie) node-index pairs and their ratings in stars."""

    users: Tensor
    movies: Tensor
    ratings: Tensor

    @classmethod
    def from_ratings(cls, ratings: pd.DataFrame, maps: IdMaps) -> Labels:
        """Pairs of the given ratings; rows whose user or movie is not in the maps are dropped."""
        users = maps.users.index(ratings["userId"], strict=False)
        movies = maps.movies.index(ratings["movieId"], strict=False)
        known = (users >= 0) & (movies >= 0)
        stars = ratings["rating"].to_numpy(np.float32)[known]
        return cls(
            torch.from_numpy(users[known]).long(),
            torch.from_numpy(movies[known]).long(),
            torch.from_numpy(stars),
        )

    def __len__(self) -> int:
        return len(self.ratings)

    def to(self, device: torch.device) -> Labels:
        return Labels(self.users.to(device), self.movies.to(device), self.ratings.to(device))


@dataclass
class History:
    """Per-epoch train loss (MSE) and validation RMSE, and the epoch that was kept."""

    train_loss: list[float] = field(default_factory=list)
    valid_rmse: list[float] = field(default_factory=list)
    best_epoch: int = 0

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"train MSE": self.train_loss, "validation RMSE": self.valid_rmse},
            index=pd.RangeIndex(1, len(self.train_loss) + 1, name="epoch"),
        )


def chunked_mse_step(model: nn.Module, data: HeteroData, labels: Labels, chunk_size: int) -> float:
    """One backward pass of the mean squared error over all labels, decoded chunk by chunk."""
    z = model.embed(data)
    detached = {kind: value.detach().requires_grad_() for kind, value in z.items()}
    total = 0.0
    for start in range(0, len(labels), chunk_size):
        part = slice(start, start + chunk_size)
        predicted = model.decode(detached, labels.users[part], labels.movies[part])
        loss = ((predicted - labels.ratings[part]) ** 2).sum() / len(labels)
        loss.backward()
        total += loss.item()
    torch.autograd.backward(
        [z[kind] for kind in detached], [detached[kind].grad for kind in detached]
    )
    return total


@torch.no_grad()
def predict_stars(model: nn.Module, data: HeteroData, labels: Labels, chunk_size: int) -> Tensor:
    """Predicted stars of the labelled pairs, chunk by chunk, without gradients."""
    model.eval()
    z = model.embed(data)
    parts = [
        model.decode(z, labels.users[part], labels.movies[part])
        for part in (
            slice(start, start + chunk_size) for start in range(0, len(labels), chunk_size)
        )
    ]
    return torch.cat(parts)


def rmse_of(model: nn.Module, data: HeteroData, labels: Labels, chunk_size: int) -> float:
    predicted = predict_stars(model, data, labels, chunk_size).clamp(0.5, 5.0)
    return float(((predicted - labels.ratings) ** 2).mean().sqrt())


def fit(
    model: nn.Module,
    data: HeteroData,
    train_labels: Labels,
    valid_labels: Labels,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    patience: int = 20,
    chunk_size: int = 1 << 20,
    progress: bool = True,
    sparse: bool = True,
) -> History:
    """Train with Adam on full-graph MSE, keep the weights of the best validation RMSE.

    ``sparse=False`` keeps whatever message passing the graph and model already use (the
    benchmarks compare the paths); by default it is made sparse.
    """
    if sparse:
        scale.use_sparse_adjacency(model, data)
    epochs = scale.max_epochs(len(train_labels), epochs)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = History()
    best_state, best_rmse = None, float("inf")
    bar = tqdm(range(1, epochs + 1), desc="train", disable=not progress)
    for epoch in bar:
        model.train()
        optimizer.zero_grad()
        history.train_loss.append(chunked_mse_step(model, data, train_labels, chunk_size))
        optimizer.step()
        history.valid_rmse.append(rmse_of(model, data, valid_labels, chunk_size))
        bar.set_postfix(valid_rmse=f"{history.valid_rmse[-1]:.4f}")
        if history.valid_rmse[-1] < best_rmse:
            best_rmse, history.best_epoch = history.valid_rmse[-1], epoch
            best_state = copy.deepcopy(model.state_dict())
        elif epoch - history.best_epoch >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
