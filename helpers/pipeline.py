"""The kit's named models, end to end: train ratings in, a fitted recommender out.

``python -m helpers.evaluate --model NAME`` and the notebooks' leaderboard rows use these, so a
model is trained the same way wherever its numbers appear.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pandas as pd
from torch import Tensor

from helpers import baselines, data, features, graph, models, ranking, train
from helpers.metrics import Recommender
from helpers.recommend import GNNRecommender
from helpers.reproducibility import device as compute_device
from helpers.reproducibility import seed_everything
from helpers.split import validation_split

# A factory gets the train part, the data set (a release name or a folder) and the seed.
Factory = Callable[[pd.DataFrame, str | None, int, bool], Recommender]
# A featurizer turns train ratings (and the data set's other tables) into node feature
# matrices whose row i belongs to node i of the maps: (user features, movie features).
Featurizer = Callable[[pd.DataFrame, graph.IdMaps, str | None], tuple[Tensor | None, Tensor | None]]


def _baseline(cls: type[baselines.Baseline]) -> Factory:
    def factory(train_part, dataset, seed, progress):
        return cls().fit(train_part)

    return factory


def train_graphsage(
    train_part: pd.DataFrame,
    dataset: str | None = None,
    seed: int = 42,
    progress: bool = False,
    featurize: Featurizer | None = None,
    name: str = "GraphSAGE (ids)",
    model_class: type = models.RatingGNN,
    **hyper,
) -> GNNRecommender:
    """Notebook 02's model: GraphSAGE over id embeddings (plus node features from ``featurize``).

    Early stopping watches a validation part carved from the train part; the final embeddings
    are computed on the graph of all train ratings.
    """
    seed_everything(seed)
    movies = data.load_movies(dataset)
    maps = graph.IdMaps.from_tables(train_part, movies)
    fit_part, valid_part = validation_split(train_part, seed)
    user_x, movie_x = featurize(train_part, maps, dataset) if featurize else (None, None)
    node_features = {"user_features": user_x, "movie_features": movie_x}
    fit_graph = graph.build_graph(fit_part, maps, **node_features)
    defaults = {"hidden": 64, "out": 32, "dropout": 0.2} if model_class is models.RatingGNN else {}
    config = defaults | hyper.pop("model", {})
    model = model_class(fit_graph, mean_rating=float(fit_part["rating"].mean()), **config)
    device = compute_device()  # train on a GPU when there is one, serve from the CPU
    history = train.fit(
        model.to(device),
        fit_graph.to(device),
        train.Labels.from_ratings(fit_part, maps).to(device),
        train.Labels.from_ratings(valid_part, maps).to(device),
        progress=progress,
        **({"epochs": 300, "lr": 0.01, "patience": 20} | hyper),
    )
    full_graph = graph.build_graph(train_part, maps, **node_features)
    recommender = GNNRecommender(model.cpu(), full_graph, maps, name)
    recommender.history = history  # the loss curve, for notebooks that plot it
    return recommender


def train_gnn(
    train_part: pd.DataFrame, dataset: str | None = None, seed: int = 42, progress: bool = False
) -> Recommender:
    """The kit's best GNNs together: the ranking GNN's top-K lists, the rating GNN's stars."""
    stars = MODELS["gnn-rating"](train_part, dataset, seed, progress)
    return MODELS["gnn-ranking"](train_part, dataset, seed, progress, stars=stars, name="GNN")


MODELS: dict[str, Factory] = {
    "global-mean": _baseline(baselines.GlobalMean),
    "bias": _baseline(baselines.BiasBaseline),
    "most-popular": _baseline(baselines.MostPopular),
    "ease": _baseline(baselines.EASE),
    "svd": _baseline(baselines.SVD),
    "svd++": _baseline(baselines.SVDpp),
    "graphsage": train_graphsage,
    "sage-features": partial(
        train_graphsage, featurize=features.rich_features, name="sage-features"
    ),
    "sage-genome": partial(train_graphsage, featurize=features.genome_features, name="sage-genome"),
    "sage-tags": partial(train_graphsage, featurize=features.tag_features, name="sage-tags"),
    "sage-temporal": partial(
        train_graphsage, featurize=features.temporal_features, name="sage-temporal"
    ),
    "gnn-rating": partial(
        train_graphsage,
        model_class=models.NeighbourhoodRatingGNN,
        name="GNN (rating)",
        epochs=600,
        lr=0.03,
        weight_decay=1e-3,
        patience=30,
    ),
    "gnn-ranking": partial(ranking.train_ranking_gnn, **ranking.BEST),
    "lightgcn": partial(  # gnn-ranking without its graph filter: what the filter adds
        ranking.train_ranking_gnn,
        **ranking.BEST | {"graph_filter": False, "name": "LightGCN alone"},
    ),
    "gnn": train_gnn,
    "sage-ranking": partial(
        ranking.train_ranking_gnn,
        **ranking.BEST | {"encoder": "graphsage", "name": "GraphSAGE (ranking)"},
    ),
}
DEFAULT_MODEL = "gnn"  # best on both metrics over seeds 42-44 (benchmarks/seeds.py)


def build(
    name: str, train_part: pd.DataFrame, dataset: str | None = None, seed: int = 42, progress=False
) -> Recommender:
    """Train the model called ``name`` on ``train_part``."""
    if name not in MODELS:
        raise KeyError(f"Unknown model {name!r}; choose one of: {', '.join(MODELS)}.")
    return MODELS[name](train_part, dataset, seed, progress)
