"""LightGCN (He et al., 2020) for lists, blended with the graph filter, its propagation in closed
form (GF-CF, Shen et al., 2021): the kit's best list model (notebook 06)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData
from torch_geometric.nn.models import LightGCN

from helpers import metrics, protocol
from helpers.baselines import BiasBaseline, GraphFilter
from helpers.data import MovieData
from helpers.graph import RATES, IdMaps, build_graph, row_pointers, sorted_csr
from helpers.metrics import LIKED
from helpers.recommend import Embeddings, GNNRecommender, Recommender
from helpers.settings import Settings, device, seed_everything
from helpers.train import History, fit, softmax

BLENDS = (0.0, 0.1, 0.25, 0.5)  # graph-filter shares tried on the validation part
SPREAD_USERS = 256  # users whose scores set the scale of the two scores before blending


@dataclass(frozen=True, kw_only=True)
class LightGCNConfig:
    """Chosen on seed 42's validation part (4 layers: 0.147 / 0.150 / 0.156 / 0.147 validation
    NDCG@10 with 2 / 3 / 4 / 6; 512 channels: 0.162, against 0.158 with 256 and 1024)."""

    channels: int = 512
    layers: int = 4
    lr: float = 0.02
    l2: float = 1e-2
    temperature: float = 0.25
    epochs: int = 300
    patience: int = 30
    check_every: int = 5
    blends: tuple[float, ...] = BLENDS  # (0.0,): LightGCN alone


LIGHTGCN = LightGCNConfig()


def normalised_adjacency(graph: HeteroData) -> torch.Tensor:
    """LightGCN's D^-1/2 A D^-1/2 over users and movies as one graph (movies after users)."""
    users, movies = graph[RATES].edge_index
    n_users = graph["user"].num_nodes
    rows, cols = torch.cat([users, movies + n_users]), torch.cat([movies + n_users, users])
    size = n_users + graph["movie"].num_nodes
    scale = torch.bincount(rows, minlength=size).clamp(min=1).float().rsqrt()
    order = torch.argsort(rows * size + cols)
    values = (scale[rows] * scale[cols])[order]
    return sorted_csr(row_pointers(rows, size), cols[order], values, (size, size))


class RankingLightGCN(LightGCN):
    """PyG's LightGCN on a normalised sparse adjacency, plus a movie bias for popularity."""

    def __init__(self, n_users: int, n_movies: int, channels: int = 512, layers: int = 4):
        super().__init__(n_users + n_movies, channels, layers, normalize=False)
        # normal with std 0.1, as in the authors' PyTorch code (the paper and PyG use Xavier)
        torch.nn.init.normal_(self.embedding.weight, std=0.1)
        self.n_users = n_users
        self.movie_bias = torch.nn.Parameter(torch.zeros(n_movies))

    def embed(self, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.get_embedding(adjacency)
        return z[: self.n_users], z[self.n_users :]


@dataclass
class Blend:
    """``first`` plus ``share`` times ``second``, each over its spread (so a share is a share);
    ``shares``: the validation NDCG@10 of every share tried, ``history``: LightGCN's training."""

    first: Recommender
    second: Recommender
    share: float
    spreads: list[float]
    shares: dict[float, float] = field(default_factory=dict)
    history: History = field(default_factory=History)

    @classmethod
    def of(cls, first, second, share: float, users: np.ndarray, movies: np.ndarray, **results):
        scores = [model.score(users[:SPREAD_USERS], movies) for model in (first, second)]
        return cls(first, second, share, [float(np.std(s)) or 1.0 for s in scores], **results)

    @property
    def name(self) -> str:
        return self.first.name

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        first = self.first.score(users, movies) / self.spreads[0]
        if not self.share:
            return first
        return first + self.share * self.second.score(users, movies) / self.spreads[1]

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.first.predict(users, movies)

    def movie_vectors(self, movies: np.ndarray) -> np.ndarray:
        return self.first.movie_vectors(movies)


def _run(train, maps, config, model_class, epochs, ranking=None, progress=False):
    """LightGCN trained on ``train`` for ``epochs`` (early-stopped on ``ranking`` if given)."""
    on, graph = device(), build_graph(train, maps)
    users, movies = graph[RATES].edge_index.to(on)
    model = model_class(len(maps.users), len(maps.movies), config.channels, config.layers)
    model, adjacency = model.to(on), normalised_adjacency(graph).to(on)
    liked = (graph[RATES].rating >= LIKED).to(on)
    base = BiasBaseline().fit(train)

    def step() -> float:
        z_users, z_movies = model.embed(adjacency)
        pairs = (users[liked], movies[liked])
        loss = softmax(z_users, z_movies, model.movie_bias, pairs, config.temperature)
        loss = loss + config.l2 * model.embedding.weight.pow(2).sum() / len(maps.users)
        loss.backward()
        return loss.item()

    def served() -> GNNRecommender:
        with torch.no_grad():
            vectors = [z.cpu().numpy() for z in (*model.embed(adjacency), model.movie_bias)]
        return GNNRecommender("LightGCN", maps, base, Embeddings(*vectors))

    check = (lambda: ranking(served().score)["NDCG@10"]) if ranking is not None else (lambda: 0.0)
    history = fit(
        model, step, check, epochs=epochs, lr=config.lr, patience=config.patience,
        check_every=config.check_every if ranking is not None else epochs, progress=progress,
    )  # fmt: skip
    return served(), history


def train_lightgcn(
    train: pd.DataFrame,
    source: MovieData,
    settings: Settings,
    *,
    config: LightGCNConfig = LIGHTGCN,
    seed: int = 42,
    model_class: type[RankingLightGCN] = RankingLightGCN,
    progress: bool = False,
) -> Blend:
    """LightGCN with a softmax loss, early-stopped on validation and refitted on all of ``train``
    for the best epoch count; blended with the graph filter at the share best on validation."""
    seed_everything(seed)
    maps = IdMaps.from_tables(train, source.movies)
    fit_part, valid_part = protocol.validation_split(train, seed)
    ranking = metrics.Ranking(fit_part, valid_part)
    epochs = settings.epochs(config.epochs, len(fit_part))
    first, history = _run(fit_part, maps, config, model_class, epochs, ranking, progress)
    shares = {0.0: max(history.valid.values())}  # 0: LightGCN alone, the filter kept if it helps
    if len(config.blends) > 1:
        candidates, ids = GraphFilter().fit(fit_part), ranking.rated.catalogue
        for share in config.blends[1:]:
            blend = Blend.of(first, candidates, share, ranking.users, ids)
            shares[share] = ranking(blend.score)["NDCG@10"]
    seed_everything(seed)
    final, _ = _run(train, maps, config, model_class, history.best_epoch, progress=progress)
    share = max(shares, key=shares.get)
    users, catalogue = np.sort(train["userId"].unique()), np.sort(train["movieId"].unique())
    graph_filter = GraphFilter().fit(train)
    return Blend.of(final, graph_filter, share, users, catalogue, shares=shares, history=history)


def lightgcn_alone(train, source, settings, seed=42, progress=False) -> Blend:
    """LightGCN alone (notebook 06's peer for the blend)."""
    config = LightGCNConfig(blends=(0.0,))
    return train_lightgcn(train, source, settings, config=config, seed=seed, progress=progress)


def gnn_ranking(train, source, settings, seed=42, progress=False) -> Blend:
    """LightGCN blended with the graph filter (notebook 06)."""
    return train_lightgcn(train, source, settings, seed=seed, progress=progress)
