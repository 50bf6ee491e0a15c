"""Ranking GNNs: embeddings trained to put each user's own movies above the rest.

A model trained for stars learns to tell a 3.5 from a 4.0 among movies the user has already
picked; a top-K list must instead tell the movies a user would pick from the thousands they
never looked at. So these models learn from *which* movies were rated (implicit feedback), with
a loss that compares every rated movie with unseen ones: a softmax over the whole catalogue
(the limit of sampled softmax) or BPR with sampled unseen negatives.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import LGConv, to_hetero
from tqdm.auto import tqdm

from helpers import baselines, metrics, scale
from helpers.data import load_movies
from helpers.graph import IdMaps, build_graph, normalized_adjacency
from helpers.graph_filter import GraphFilter
from helpers.models import GraphSAGE
from helpers.reproducibility import device as compute_device
from helpers.reproducibility import seed_everything
from helpers.split import validation_split

ENCODERS = ("lightgcn", "graphsage")
LOSSES = ("softmax", "bpr")
FULL_SOFTMAX_LIMIT = 50_000_000  # users x movies logits per step (200 MB of float32)
SAMPLED_NEGATIVES = 512  # catalogue sample of the sampled softmax beyond that
PAIRS_PER_STEP = 262_144  # interactions per optimizer step beyond that many (25M: ~16M)
SPREAD_USERS = 256  # users whose scores set the scale of the GNN and graph-filter blend
BLENDS = (0.0, 0.1, 0.25, 0.5)  # graph-filter shares tried on the validation part
# Chosen on the validation part of seed 42 (NDCG@10): liked = rated >= 3.5 in the loss, every
# rating in the graph, a sharp softmax, strong L2 on the 256-d id embeddings, and 4 LightGCN
# layers (validation NDCG@10 0.147 / 0.150 / 0.156 / 0.147 with 2 / 3 / 4 / 6 layers), blended
# with a graph filter at the share of BLENDS that each run finds best on its validation part.
BEST = {
    "channels": 256,
    "layers": 4,
    "min_rating": 3.5,
    "lr": 0.02,
    "l2": 1e-2,
    "temperature": 0.25,
    "graph_filter": True,
}


class LightGCN(nn.Module):
    """LightGCN (He et al., 2020): no weights, no ReLU; the mean of the LGConv layers' outputs."""

    def __init__(self, layers: int = 3):
        super().__init__()
        self.convs = nn.ModuleList(LGConv(normalize=False) for _ in range(layers))

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        """``adjacency``: :func:`helpers.graph.normalized_adjacency` of the graph."""
        outputs = [x]
        for conv in self.convs:
            outputs.append(conv(outputs[-1], adjacency))
        return torch.stack(outputs).mean(0)


class RankingGNN(nn.Module):
    """Scores a (user, movie) pair by <user embedding, movie embedding> + a movie bias.

    ``encoder="lightgcn"`` propagates the id embeddings over the user-movie graph with LGConv
    (symmetric degree normalisation); ``"graphsage"`` runs the kit's two SAGEConv layers instead.
    The movie bias soaks up popularity, so the embeddings can spend themselves on taste.
    """

    def __init__(
        self, data: HeteroData, channels: int = 64, layers: int = 3, encoder: str = "lightgcn"
    ):
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}.")
        self.sizes = {kind: data[kind].num_nodes for kind in ("user", "movie")}
        self.embedding = nn.Embedding(sum(self.sizes.values()), channels)
        nn.init.normal_(self.embedding.weight, std=0.1)
        self.encoder_name = encoder
        if encoder == "lightgcn":
            self.encoder = LightGCN(layers)
        else:
            self.encoder = to_hetero(GraphSAGE(channels, channels), data.metadata(), aggr="sum")
        self.movie_bias = nn.Parameter(torch.zeros(self.sizes["movie"]))

    def embed(self, data: HeteroData) -> dict[str, Tensor]:
        """Embeddings of every user and every movie after message passing."""
        users, movies = self.embedding.weight.split([self.sizes["user"], self.sizes["movie"]])
        if self.encoder_name == "graphsage":
            return self.encoder({"user": users, "movie": movies}, data.edge_index_dict)
        # LightGCN works on one homogeneous graph (movies numbered after the users), normalised
        # once per graph and kept on it.
        if data.get("normalized_adjacency") is None:
            data.normalized_adjacency = normalized_adjacency(data)
        z = self.encoder(self.embedding.weight, data.normalized_adjacency)
        users, movies = z.split([self.sizes["user"], self.sizes["movie"]])
        return {"user": users, "movie": movies}

    def score_all(self, z: dict[str, Tensor], users: Tensor, movies: Tensor) -> Tensor:
        """Scores of every (user, movie) combination: [len(users), len(movies)]."""
        return z["user"][users] @ z["movie"][movies].T + self.movie_bias[movies]

    def l2(self) -> Tensor:
        """Squared norm of the id embeddings (LightGCN regularises the inputs, not the outputs)."""
        return self.embedding.weight.pow(2).sum()


@dataclass
class Interactions:
    """The (user, movie) node-index pairs a ranking model learns from."""

    users: Tensor
    movies: Tensor

    @classmethod
    def from_ratings(cls, ratings: pd.DataFrame, maps: IdMaps, min_rating: float = 0.0):
        """Every rating at or above ``min_rating`` counts as an interaction."""
        kept = ratings[ratings["rating"] >= min_rating]
        users = maps.users.index(kept["userId"], strict=False)
        movies = maps.movies.index(kept["movieId"], strict=False)
        known = (users >= 0) & (movies >= 0)
        return cls(torch.from_numpy(users[known]).long(), torch.from_numpy(movies[known]).long())

    def __len__(self) -> int:
        return len(self.users)

    def batch(self, size: int) -> Interactions:
        """All pairs when there are at most ``size``, else ``size`` of them drawn at random."""
        if len(self) <= size:
            return self
        chosen = torch.randperm(len(self), device=self.users.device)[:size]
        return Interactions(self.users[chosen], self.movies[chosen])

    def to(self, device: torch.device) -> Interactions:
        return Interactions(self.users.to(device), self.movies.to(device))


def softmax_loss(
    model: RankingGNN, z: dict[str, Tensor], pairs: Interactions, temperature: float = 1.0
) -> Tensor:
    """Cross-entropy of each rated movie against the whole catalogue (full sampled softmax).

    A temperature below 1 sharpens the softmax, so the loss concentrates on the unseen movies
    that currently outscore a rated one: the hard negatives. Past :data:`FULL_SOFTMAX_LIMIT`
    logits (MovieLens 25M has 10 billion) the catalogue is sampled instead.
    """
    if model.sizes["user"] * model.sizes["movie"] > FULL_SOFTMAX_LIMIT:
        return sampled_softmax_loss(model, z, pairs, temperature)
    users = torch.arange(model.sizes["user"], device=z["user"].device)
    movies = torch.arange(model.sizes["movie"], device=z["movie"].device)
    log_probs = (model.score_all(z, users, movies) / temperature).log_softmax(-1)
    return -log_probs[pairs.users, pairs.movies].mean()


def sampled_softmax_loss(
    model: RankingGNN,
    z: dict[str, Tensor],
    pairs: Interactions,
    temperature: float = 1.0,
    negatives: int = SAMPLED_NEGATIVES,
) -> Tensor:
    """The softmax over ``negatives`` movies drawn uniformly (shared by all pairs) + the rated one.

    Each sampled logit stands for n_movies / negatives movies, hence the log-ratio correction:
    the loss then estimates the full-catalogue softmax at a fraction of its cost.
    """
    n_movies = model.sizes["movie"]
    sampled = torch.randint(0, n_movies, (negatives,), device=pairs.movies.device)
    user = z["user"].index_select(0, pairs.users)
    positive = (user * z["movie"].index_select(0, pairs.movies)).sum(-1)
    positive = positive + model.movie_bias[pairs.movies]
    negative = user @ z["movie"][sampled].T + model.movie_bias[sampled]
    weight = math.log(n_movies / negatives) * temperature  # log(n/K), before the division by T
    logits = torch.cat([positive[:, None], negative + weight], dim=1) / temperature
    return -(logits[:, 0] - logits.logsumexp(-1)).mean()


def bpr_loss(
    model: RankingGNN, z: dict[str, Tensor], pairs: Interactions, temperature: float = 1.0
) -> Tensor:
    """BPR: each rated movie should outscore one movie drawn from those the user has not rated.

    (``temperature`` is accepted so both losses share one signature; BPR does not use it.)
    """
    n_movies = model.sizes["movie"]
    seen = pairs.users * n_movies + pairs.movies
    device = pairs.movies.device
    negatives = torch.randint(0, n_movies, (len(pairs),), device=device)
    for _ in range(3):  # redraw the few negatives that hit a rated movie
        clash = torch.isin(pairs.users * n_movies + negatives, seen)
        if not clash.any():
            break
        negatives[clash] = torch.randint(0, n_movies, (int(clash.sum()),), device=device)
    user = z["user"][pairs.users]
    positive = (user * z["movie"][pairs.movies]).sum(-1) + model.movie_bias[pairs.movies]
    negative = (user * z["movie"][negatives]).sum(-1) + model.movie_bias[negatives]
    return -F.logsigmoid(positive - negative).mean()


class RankingRecommender:
    """A trained ranking model behind the raw-id interface of :mod:`helpers.metrics`.

    ``score`` ranks with the GNN, plus ``blend`` times a :class:`GraphFilter`'s scores when it
    has one (both divided by their spread, so ``blend`` is a share); ``predict`` (stars) falls
    back to ``stars``, because ranking scores are not on the star scale.
    """

    def __init__(
        self,
        model: RankingGNN,
        data: HeteroData,
        maps: IdMaps,
        stars,
        name: str,
        graph_filter: GraphFilter | None = None,
        blend: float = 0.0,
    ):
        self.model, self.maps, self.stars, self.name = model.eval(), maps, stars, name
        self.graph_filter, self.blend = graph_filter, blend
        with torch.no_grad():  # computed where the model lives, served from the CPU
            self.z = {kind: value.cpu() for kind, value in model.embed(data).items()}
            self.movie_bias = model.movie_bias.detach().cpu()
        if graph_filter is not None:  # the blend's scales; the checks while training need none
            sample = np.arange(min(SPREAD_USERS, len(maps.users)))
            every_movie = np.arange(len(maps.movies))
            self.spread = float(self._gnn_scores(sample, every_movie).std())
            self.filter_spread = float(graph_filter.score(sample, every_movie).std()) or 1.0

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.stars.predict(users, movies)

    @torch.no_grad()
    def _gnn_scores(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        scores = self.z["user"][users] @ self.z["movie"][movies].T + self.movie_bias[movies]
        return scores.numpy().astype(np.float64)

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u = self.maps.users.index(users, strict=False)
        m = self.maps.movies.index(movies, strict=False)
        known_u, known_m = np.maximum(u, 0), np.maximum(m, 0)
        scores = self._gnn_scores(known_u, known_m)
        if self.blend:
            filtered = self.graph_filter.score(known_u, known_m) / self.filter_spread
            scores = scores / self.spread + self.blend * filtered
        scores[u < 0] = self.movie_bias[known_m].numpy()  # unknown user: popularity
        scores[:, m < 0] = -np.inf
        return scores


@dataclass
class RankingHistory:
    """Train loss per epoch, validation NDCG@10 at each check and per graph-filter blend."""

    train_loss: list[float] = field(default_factory=list)
    valid_ndcg: dict[int, float] = field(default_factory=dict)
    best_epoch: int = 0
    blend_ndcg: dict[float, float] = field(default_factory=dict)


def fit_ranking(
    model: RankingGNN,
    data: HeteroData,
    pairs: Interactions,
    valid_ndcg,
    loss: str = "softmax",
    epochs: int = 300,
    lr: float = 0.05,
    l2: float = 1e-3,
    temperature: float = 1.0,
    check_every: int = 5,
    patience: int = 6,
    progress: bool = True,
) -> RankingHistory:
    """Full-batch Adam on the ranking loss; keep the weights of the best validation NDCG@10.

    ``valid_ndcg(model)`` returns the validation NDCG@10; it is checked every ``check_every``
    epochs and training stops after ``patience`` checks without improvement.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")
    if len(pairs) == 0:
        raise ValueError("No training interactions: lower min_rating or check the split.")
    objective = softmax_loss if loss == "softmax" else bpr_loss
    epochs = scale.max_epochs(len(pairs), epochs)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, best_state = RankingHistory(), None
    bar = tqdm(range(1, epochs + 1), desc=f"train ({loss})", disable=not progress)
    for epoch in bar:
        model.train()
        optimizer.zero_grad()
        value = objective(model, model.embed(data), pairs.batch(PAIRS_PER_STEP), temperature)
        (value + l2 * model.l2() / model.sizes["user"]).backward()
        optimizer.step()
        history.train_loss.append(float(value.detach()))
        if epoch % check_every and epoch != epochs:  # the last epoch is always checked
            continue
        model.eval()
        history.valid_ndcg[epoch] = valid_ndcg(model)
        bar.set_postfix(valid_ndcg=f"{history.valid_ndcg[epoch]:.4f}")
        if history.valid_ndcg[epoch] > history.valid_ndcg.get(history.best_epoch, -1.0):
            history.best_epoch, best_state = epoch, copy.deepcopy(model.state_dict())
        elif epoch - history.best_epoch >= patience * check_every:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def train_ranking_gnn(
    train_part: pd.DataFrame,
    dataset: str | None = None,
    seed: int = 42,
    progress: bool = False,
    encoder: str = "lightgcn",
    channels: int = 64,
    layers: int = 3,
    min_rating: float = 0.0,
    graph_min_rating: float = 0.0,
    name: str = "LightGCN (ranking)",
    refit: bool = True,
    stars: metrics.Recommender | None = None,
    graph_filter: bool = False,
    **fit_kwargs,
) -> RankingRecommender:
    """Train a ranking GNN on the train part, early-stopped on a validation part carved from it.

    With ``refit`` the model is then trained again on the whole train part for the number of
    epochs that was best on validation (as EASE and SVD also learn from every train rating).
    ``stars`` answers ``predict`` (default: a user + movie bias model fitted here). With
    ``graph_filter`` the scores are blended with a :class:`GraphFilter` over the liked ratings,
    at the share of ``BLENDS`` that is best on validation (0 included: it can only help there).
    """
    seed_everything(seed)
    device = compute_device()  # a GPU when there is one; the recommender serves from the CPU
    maps = IdMaps.from_tables(train_part, load_movies(dataset))
    fit_part, valid_part = validation_split(train_part, seed)
    # Messages may flow along every rating while the loss only rewards the liked ones.
    liked = lambda part: part[part["rating"] >= graph_min_rating]  # noqa: E731
    fit_graph = build_graph(liked(fit_part), maps).to(device)
    model = RankingGNN(fit_graph, channels, layers, encoder).to(device)
    stars = stars or baselines.BiasBaseline().fit(train_part)

    def valid_ndcg(ranker: RankingRecommender) -> float:
        if not (valid_part["rating"] >= metrics.RELEVANT).any():
            return 0.0  # nothing liked to find: keep the first check (tiny data sets)
        return metrics.ranking_metrics(ranker.score, fit_part, valid_part)["NDCG@10"]

    def check(current: RankingGNN) -> float:
        return valid_ndcg(RankingRecommender(current, fit_graph, maps, stars, name))

    pairs = Interactions.from_ratings(fit_part, maps, min_rating).to(device)
    history = fit_ranking(model, fit_graph, pairs, check, progress=progress, **fit_kwargs)
    positives = lambda part: part[part["rating"] >= min_rating]  # noqa: E731  (as in the loss)
    if graph_filter:
        ranker = RankingRecommender(
            model, fit_graph, maps, stars, name, GraphFilter(positives(fit_part), maps)
        )
        for share in BLENDS:
            ranker.blend = share
            history.blend_ndcg[share] = valid_ndcg(ranker)
    train_graph = build_graph(liked(train_part), maps).to(device)
    if refit:  # the validation ratings are 10 % of what we know: learn them too, same epochs
        seed_everything(seed)
        model = RankingGNN(train_graph, channels, layers, encoder).to(device)
        settings = fit_kwargs | {"epochs": history.best_epoch, "check_every": history.best_epoch}
        fit_ranking(
            model,
            train_graph,
            Interactions.from_ratings(train_part, maps, min_rating).to(device),
            lambda current: 0.0,
            progress=progress,
            **settings,
        )
    blend = max(history.blend_ndcg, key=history.blend_ndcg.get, default=0.0)
    final_filter = GraphFilter(positives(train_part), maps) if graph_filter else None
    recommender = RankingRecommender(model, train_graph, maps, stars, name, final_filter, blend)
    recommender.model = model.cpu()  # picklable and servable without the GPU
    recommender.history = history
    return recommender
