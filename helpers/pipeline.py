"""The kit's named models, end to end: train ratings in, a fitted recommender out.

``python -m helpers.evaluate --model NAME`` and the notebooks' leaderboard rows use these, so a
model is trained the same way wherever its numbers appear.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from torch import Tensor

from helpers import baselines, data, graph, models, train
from helpers.metrics import Recommender
from helpers.recommend import GNNRecommender
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
    features = {"user_features": user_x, "movie_features": movie_x}
    fit_graph = graph.build_graph(fit_part, maps, **features)
    config = {"hidden": 64, "out": 32, "dropout": 0.2} | hyper.pop("model", {})
    model = models.RatingGNN(fit_graph, mean_rating=float(fit_part["rating"].mean()), **config)
    train.fit(
        model,
        fit_graph,
        train.Labels.from_ratings(fit_part, maps),
        train.Labels.from_ratings(valid_part, maps),
        progress=progress,
        **({"epochs": 300, "lr": 0.01, "patience": 20} | hyper),
    )
    return GNNRecommender(model, graph.build_graph(train_part, maps, **features), maps, name)


MODELS: dict[str, Factory] = {
    "global-mean": _baseline(baselines.GlobalMean),
    "bias": _baseline(baselines.BiasBaseline),
    "most-popular": _baseline(baselines.MostPopular),
    "ease": _baseline(baselines.EASE),
    "svd": _baseline(baselines.SVD),
    "svd++": _baseline(baselines.SVDpp),
    "graphsage": train_graphsage,
}
DEFAULT_MODEL = "graphsage"


def build(
    name: str, train_part: pd.DataFrame, dataset: str | None = None, seed: int = 42, progress=False
) -> Recommender:
    """Train the model called ``name`` on ``train_part``."""
    if name not in MODELS:
        raise KeyError(f"Unknown model {name!r}; choose one of: {', '.join(MODELS)}.")
    return MODELS[name](train_part, dataset, seed, progress)
