"""GraphSAGE, the kit's inductive GNN: the model and its list step (notebook 02 shows both first),
its star step, the trainers ``train_lists`` / ``train_stars``, new users' fold-in, and the named
models: ids alone (02), with features (03, 04), new users and movies (07), each with its guard."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from helpers import metrics, protocol, recommend
from helpers.baselines import BiasBaseline
from helpers.data import MovieData
from helpers.features import CONTENT, DESCRIBED, NEW_MOVIE, FeatureRecipe, FeatureTables
from helpers.graph import (
    RATED_BY,
    RATES,
    IdMap,
    IdMaps,
    Mean,
    MeanSAGEConv,
    Patterns,
    Practice,
    build_graph,
    mean_adjacency,
)
from helpers.metrics import LIKED
from helpers.protocol import NEW_MOVIES, NEW_USERS
from helpers.recommend import Blend, Both, ColdGuard, Embeddings, GNNRecommender, WarmGuard
from helpers.settings import Settings, device, seed_everything
from helpers.train import History, fit, pair_mse_backward, softmax, with_residuals


class GraphSAGE(nn.Module):
    """User and movie embeddings: inputs, ``layers`` rounds of messages both ways, their mean."""

    def __init__(
        self,
        num_movies: int,
        channels: int = 64,
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
        # a per-movie offset of the list score (notebook 02, exercise 3: not where popularity lives)
        self.movie_bias = nn.Parameter(torch.zeros(num_movies))

    def user_inputs(self, x: Tensor | None, n_users: int) -> Tensor:
        start = self.user_start.expand(n_users, -1)
        return start if self.user_features is None else start + self.user_features(x)

    def movie_inputs(self, x: Tensor | None, known: Tensor) -> Tensor:
        """Id embeddings of ``known`` movies (trained ones), zeros for the others, plus features."""
        ids = self.movie_ids.weight * known.unsqueeze(-1)
        return ids if self.movie_features is None else ids + self.movie_features(x)

    def rounds(self, graph: HeteroData) -> tuple[list[Tensor], list[Tensor]]:
        """Every round's user and movie embeddings, the inputs first."""
        users = [self.user_inputs(graph["user"].get("x"), graph["user"].num_nodes)]
        movies = [self.movie_inputs(graph["movie"].get("x"), graph["movie"].known)]
        for to_movie, to_user in zip(self.to_movie, self.to_user, strict=True):
            heard_by_movies = to_movie((users[-1], movies[-1]), graph[RATES].adj_t)
            users.append(to_user((movies[-1], users[-1]), graph[RATED_BY].adj_t))
            movies.append(heard_by_movies)
        return users, movies

    def forward(self, graph: HeteroData) -> tuple[Tensor, Tensor]:
        """Final user and movie embeddings: the mean over the inputs and every round."""
        users, movies = self.rounds(graph)
        return torch.stack(users).mean(0), torch.stack(movies).mean(0)

    @torch.no_grad()
    def fold_in(self, movie_rounds: list[Tensor], user_x: Tensor | None, to_user: Mean) -> Tensor:
        """Embeddings of unseen users from their ratings (``to_user``) and the stored movie
        rounds alone: no gradient step, a few small products whatever the size of the graph."""
        users = [self.user_inputs(user_x, to_user.matrix.size(0))]
        for to_user_conv, movies in zip(self.to_user, movie_rounds, strict=False):
            users.append(to_user_conv((movies, users[-1]), to_user))
        return torch.stack(users).mean(0)


def list_step(model: GraphSAGE, graph: HeteroData, config: SageConfig) -> float:
    """One step for lists: each liked rating's movie should outscore every movie the graph
    knows (a softmax), plus an L2 penalty on the inputs; backward included."""
    practised = config.practice.draw(graph)  # the graph itself without practice (notebook 07)
    edges = practised[RATES]
    liked = edges.rating >= LIKED
    chosen = torch.nonzero(liked & edges.asked if "asked" in edges else liked).squeeze(-1)
    users, movies = model(practised)
    pairs = (edges.edge_index[0, chosen], edges.edge_index[1, chosen])
    bias = model.movie_bias.masked_fill(~graph["movie"].known, -torch.inf)  # unknown: unlisted
    loss = softmax(users, movies, bias, pairs, config.temperature)
    inputs = [model.movie_ids, model.movie_features, model.user_features]
    penalty = sum(m.weight.pow(2).sum() for m in inputs if m is not None)
    loss = loss + config.l2 * penalty / len(users)
    loss.backward()
    return loss.item()


def star_step(model: GraphSAGE, graph: HeteroData, config: SageConfig) -> float:
    """One step for stars: the MSE of ``<user, movie>`` against each rating's residual on the
    bias model (a hidden movie's residual keeps its movie bias: it is new to the bias model)."""
    practised = config.practice.draw(graph)
    edges = practised[RATES]
    users, movies = model(practised)
    if "asked" not in edges:  # every rating is asked for: the patterns sorted once
        return pair_mse_backward(users, movies, edges.patterns, edges.residual)
    target = edges.residual + edges.movie_bias * practised["movie"].hidden[edges.edge_index[1]]
    pairs = Patterns.of(*edges.edge_index[:, edges.asked], *edges.patterns.size)
    return pair_mse_backward(users, movies, pairs, target[edges.asked])


@dataclass(frozen=True, kw_only=True)
class SageConfig:
    """Everything a GraphSAGE run is set with; the defaults are the warm list model's, chosen on
    the validation part of seed 42. Warm lists validate and keep the average of the weights
    (``fit(average=...)``): without it, another CPU's rounding moved NDCG@10 by 0.02. Star models,
    warm and cold-start, average too, over about 10 epochs: their last weights' luck fooled the
    blend (README)."""

    channels: int = 64
    layers: int = 2
    lr: float = 0.01
    l2: float = 1e-4  # on the input embeddings, for lists
    temperature: float = 0.25  # of the list softmax
    epochs: int = 300
    patience: int = 60
    check_every: int = 5
    average: float | None = 0.99
    recipe: FeatureRecipe | None = None  # node features (notebooks 03-05); None: ids only
    practice: Practice = field(default_factory=Practice)
    guard: recommend.Guard | None = None  # what training ends with: WarmGuard, ColdGuard; None
    channels_tried: tuple[int, ...] = ()  # other widths, and learning rates, trained as well
    lrs_tried: tuple[float, ...] = ()  # (one change at a time): the best on validation is kept


LISTS = SageConfig(guard=WarmGuard(recommend.popularity))  # not below most popular on validation
STARS = SageConfig(epochs=100, patience=10, check_every=1, average=0.9, channels_tried=(32, 128),
                   lrs_tried=(0.005,), guard=WarmGuard(recommend.bias_model))  # fmt: skip


@dataclass(kw_only=True)
class SageRecommender(GNNRecommender):
    """A trained GraphSAGE served on a graph of its train ratings, ready for new users."""

    model: GraphSAGE
    movie_rounds: list[Tensor]
    tables: FeatureTables
    shrinkage: float = 0.0  # new users' vectors lean to the average user (see fold_in)
    shrinkages: dict[float, float] = field(default_factory=dict)  # held-out NDCG@10 or RMSE

    def fold_in(self, ratings: pd.DataFrame) -> GNNRecommender:
        """The recommender for users who joined after training, from their ``ratings`` alone."""
        new = IdMap.from_ids(ratings["userId"])
        maps = IdMaps(new, self.maps.movies)
        users, movies = maps.pairs(ratings)
        to_user = mean_adjacency(Patterns.of(users, movies, len(new), len(maps.movies)))[1]
        user_x = self.tables.on(ratings, maps)[0] if self.tables.users is not None else None
        vectors = self.model.fold_in(self.movie_rounds, user_x, to_user).numpy()
        known = self.lists or self.stars
        if self.shrinkage:  # few ratings: lean to the average user
            n = np.bincount(users.numpy(), minlength=len(new)).astype(np.float32)[:, None]
            average = known.users.mean(0)  # the mean of the training users' vectors
            vectors = (n * vectors + self.shrinkage * average) / (n + self.shrinkage)
        joined = Embeddings(vectors, known.movies, known.bias)
        lists, stars = (joined, None) if self.lists is not None else (None, joined)
        return GNNRecommender(self.name, maps, self.base.fold_in(ratings), lists, stars)


@dataclass
class _Run:
    """One GraphSAGE run: its settings, the parts it fits and checks on, features and graph."""

    train: pd.DataFrame
    settings: Settings
    config: SageConfig
    name: str
    all_ids: bool  # every movie keeps its id (warm lists), else only the rated ones
    maps: IdMaps
    fit_part: pd.DataFrame
    valid_part: pd.DataFrame
    held_out: tuple | None  # the cold-start split played inside the train part
    tables: FeatureTables
    graph: HeteroData
    base: BiasBaseline

    @classmethod
    def of(cls, train, source: MovieData, settings, config, seed, cold, name, all_ids) -> _Run:
        maps = IdMaps.from_tables(train, source.movies)
        fit_part, valid_part = protocol.validation_split(train, seed)
        held_out = cold.split(train, seed + 1000) if cold is not None else None
        fit_part = held_out.train if held_out is not None else fit_part
        tables = FeatureTables.fit(config.recipe, fit_part, maps, source)
        graph = _graph(fit_part, maps, tables, all_ids)
        base = BiasBaseline().fit(fit_part)
        return cls(train, settings, config, name, all_ids, maps, fit_part, valid_part, held_out,
                   tables, graph, base)  # fmt: skip

    @property
    def parts(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """All train ratings, the part fitted on and the validation part."""
        return self.train, self.fit_part, self.valid_part

    def model(self, model_class: type[GraphSAGE]) -> GraphSAGE:
        widths = [t.raw.shape[1] if t else 0 for t in (self.tables.users, self.tables.movies)]
        return model_class(len(self.maps.movies), self.config.channels, self.config.layers, *widths)

    def served(self, model: GraphSAGE, stars: bool) -> SageRecommender:
        """The model as it stands, served on the fit part's graph (what validation scores)."""
        return serve(model, self.graph, self.maps, self.tables, self.base, self.name, stars=stars)

    def fitted(self, model, step, validate, progress: bool) -> History:
        """Fit ``model`` with ``step`` on the fit part's graph (on a GPU if there is one)."""
        graph, model = self.graph.to(device()), model.to(device())
        config = self.config
        history = fit(
            model, lambda: step(model, graph, config), validate, progress=progress,
            epochs=self.settings.epochs(config.epochs, len(self.fit_part)), lr=config.lr,
            patience=config.patience, check_every=config.check_every, average=config.average,
        )  # fmt: skip
        self.graph.to("cpu")
        return history

    def on_train(self, model, stars: bool, history: History) -> SageRecommender:
        """The fitted ``model``, back on the CPU, served on the graph of all train ratings."""
        served_on = _graph(self.train, self.maps, self.tables, self.all_ids)
        base = BiasBaseline().fit(self.train)
        return serve(model.cpu(), served_on, self.maps, self.tables, base, self.name, stars=stars,
                     history=history)  # fmt: skip


def _graph(ratings: pd.DataFrame, maps: IdMaps, tables: FeatureTables, all_ids: bool):
    """The graph of ``ratings`` with the tables' features; which movies keep their id (_Run)."""
    graph = build_graph(ratings, maps, *tables.on(ratings, maps))
    graph["movie"].known = graph["movie"].rated | all_ids
    return graph


@torch.no_grad()
def serve(model, graph, maps, tables, base, name, *, stars: bool, history=None) -> SageRecommender:
    """The recommender of ``model``'s embeddings of ``graph`` for lists, or for ``stars``: then a
    model of ids alone leaves a movie the graph has no rating of to the bias model."""
    user_rounds, movie_rounds = model.rounds(graph)
    means = [torch.stack(x).mean(0).cpu().numpy() for x in (user_rounds, movie_rounds)]
    vectors = Embeddings(*means, model.movie_bias.cpu().numpy())
    if stars and model.movie_features is None:
        vectors.movies[~graph["movie"].known.cpu().numpy()] = 0.0
    lists, stars_ = (None, vectors) if stars else (vectors, None)
    return SageRecommender(
        name=name, maps=maps, base=base, lists=lists, stars=stars_, model=model,
        movie_rounds=[m.cpu() for m in movie_rounds], tables=tables, history=history or History(),
    )  # fmt: skip


def train_lists(
    train: pd.DataFrame,
    source: MovieData,
    settings: Settings,
    *,
    config: SageConfig = LISTS,
    seed: int = 42,
    cold: protocol.ColdStart | None = None,
    name: str = "GraphSAGE (lists)",
    model_class: type[GraphSAGE] = GraphSAGE,
    step: Callable[[GraphSAGE, HeteroData, SageConfig], float] = list_step,
    progress: bool = False,
) -> SageRecommender | Blend:
    """GraphSAGE for top-K lists: kept at its best validation NDCG@10 (or on ``cold`` played in
    the train part), served on the fit part's graph it was checked on (README; cold: on all train
    ratings, its fit part lacks a fifth of the users or movies), then to ``config.guard`` if set."""
    seed_everything(seed)
    all_ids = not (config.practice.movies or config.practice.users)
    run = _Run.of(train, source, settings, config, seed, cold, name, all_ids)
    model = run.model(model_class)
    ranking = metrics.Ranking(run.fit_part, run.valid_part) if cold is None else None

    def validate() -> float:
        served = run.served(model, stars=False)
        scores = ranking(served.score) if cold is None else cold.score(served, run.held_out)
        return scores["NDCG@10"]

    history = run.fitted(model, step, validate, progress)
    on_fit = replace(run.served(model.cpu(), stars=False), history=history)
    recommender = on_fit if cold is None else run.on_train(model, False, history)
    if config.guard is None:
        return recommender
    return config.guard(recommender, on_fit, cold, run.parts, source, seed, stars=False)


def train_stars(
    train: pd.DataFrame,
    source: MovieData,
    settings: Settings,
    *,
    config: SageConfig = STARS,
    seed: int = 42,
    cold: protocol.ColdStart | None = None,
    name: str = "GraphSAGE (stars)",
    model_class: type[GraphSAGE] = GraphSAGE,
    progress: bool = False,
) -> SageRecommender | Blend:
    """GraphSAGE for stars, a residual on the bias model, trained with each setting ``config``
    tries; the best on validation is served on all of ``train``, then handed to ``config.guard``
    if it names one (as for :func:`train_lists`)."""
    seed_everything(seed)
    first = _Run.of(train, source, settings, config, seed, cold, name, all_ids=False)
    with_residuals(first.graph, first.base, first.fit_part)
    base = replace(config, channels_tried=(), lrs_tried=())
    configs = [base, *(replace(base, channels=c) for c in config.channels_tried)]
    configs += [replace(base, lr=lr) for lr in config.lrs_tried]
    runs = {f"{c.channels} channels, lr {c.lr:g}": replace(first, config=c) for c in configs}
    score = cold.score if cold is not None else metrics.rating_metrics
    checked = first.held_out if cold is not None else first.valid_part
    fitted = {}  # label -> (model, history); only the best is served on all train ratings
    for label, run in runs.items():
        seed_everything(seed)
        model = run.model(model_class)

        def validate(run=run, model=model) -> float:
            return -score(run.served(model, stars=True), checked)["RMSE"]

        fitted[label] = model, run.fitted(model, star_step, validate, progress)
    rmse = {label: -max(history.valid.values()) for label, (_, history) in fitted.items()}
    (model, history), run = fitted[best := min(rmse, key=rmse.get)], runs[best]
    recommender = replace(run.on_train(model, True, history), tried=rmse)
    if config.guard is None:
        return recommender
    on_fit = run.served(model, stars=True)
    return config.guard(recommender, on_fit, cold, first.parts, source, seed, stars=True)


# Cold-start practice, chosen on seed 42's held-out users and movies (notebook 07); at half the
# learning rate the list weights did not move when perturbed, so they are not averaged. The
# cold-start stars average as the warm ones do: on 13 cuts, new movies' test RMSE lower on 11 and
# new users' stars behind the folded-in bias model in 1 of 104 (cut, K) comparisons, not 6 (README).
COLD_LISTS = replace(LISTS, recipe=NEW_MOVIE, practice=Practice(movies=0.2, users=1.0),
                     lr=0.005, average=None, guard=None)  # fmt: skip
COLD_STARS = replace(STARS, recipe=NEW_MOVIE, practice=Practice(movies=0.5, users=0.5),
                     channels_tried=(), lrs_tried=(),
                     guard=ColdGuard(recommend.bias_model))  # fmt: skip
NEW_USER_LISTS = replace(COLD_LISTS, guard=ColdGuard(recommend.popularity, recommend.SHRINKAGES))
NEW_MOVIE_LISTS = replace(COLD_LISTS, guard=ColdGuard(recommend.genre_profile_with_recency))


def _lists_and_stars(
    train, source, settings, seed, progress, name, lists, stars, cold=None
) -> Both:
    """GraphSAGE trained twice, for lists with ``lists`` and for stars with ``stars``."""
    return Both(
        train_lists(train, source, settings, config=lists, seed=seed, cold=cold,
                    name=f"{name} (lists)", progress=progress),
        train_stars(train, source, settings, config=stars, seed=seed, cold=cold,
                    name=f"{name} (stars)"),
        name,
    )  # fmt: skip


def graphsage(train, source, settings, seed=42, progress=False) -> Both:
    """Notebook 02's GraphSAGE of ids alone."""
    return _lists_and_stars(train, source, settings, seed, progress, "GraphSAGE", LISTS, STARS)


def graphsage_content(train, source, settings, seed=42, progress=False) -> Both:
    """Notebook 03's GraphSAGE, with each movie's year and genres."""
    lists, stars = replace(LISTS, recipe=CONTENT), replace(STARS, recipe=CONTENT)
    name = "GraphSAGE + year, genres"
    return _lists_and_stars(train, source, settings, seed, progress, name, lists=lists, stars=stars)


def graphsage_final(train, source, settings, seed=42, progress=False) -> Both:
    """Notebook 04's GraphSAGE, with the genome and user tags as well."""
    lists, stars = replace(LISTS, recipe=DESCRIBED), replace(STARS, recipe=DESCRIBED)
    name = "GraphSAGE + genome, tags"
    return _lists_and_stars(train, source, settings, seed, progress, name, lists=lists, stars=stars)


def graphsage_cold_users(train, source, settings, seed=42, progress=False) -> Both:
    """Notebook 07's GraphSAGE for new users: practised; stopped, shrunk and guarded held out."""
    stars = replace(COLD_STARS, guard=ColdGuard(recommend.bias_model, recommend.SHRINKAGES))
    return _lists_and_stars(train, source, settings, seed, progress, "GraphSAGE (new users)",
                            lists=NEW_USER_LISTS, stars=stars, cold=NEW_USERS)  # fmt: skip


def graphsage_cold_movies(train, source, settings, seed=42, progress=False) -> Both:
    """Notebook 07's GraphSAGE for new movies: practised; stopped and guarded held out."""
    return _lists_and_stars(train, source, settings, seed, progress, "GraphSAGE (new movies)",
                            lists=NEW_MOVIE_LISTS, stars=COLD_STARS, cold=NEW_MOVIES)  # fmt: skip
