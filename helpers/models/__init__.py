"""The kit's named models (notebooks 02-08, ``python -m helpers.evaluate``,
``benchmarks/seeds.py``): plain functions ``(train, source, settings, seed, progress)`` that
return a fitted recommender. A new model is a function here (or in its family's module) and
one line in :data:`MODELS`."""

from __future__ import annotations

from dataclasses import replace

from helpers import baselines, features
from helpers.models.graphsage import (
    LISTS,
    SHRINKAGES,
    STARS,
    Practice,
    SageConfig,
    train_lists,
    train_stars,
)
from helpers.models.lightgcn import gnn_ranking, lightgcn_alone
from helpers.models.neighbourhood import gnn_rating
from helpers.protocol import NEW_MOVIES, NEW_USERS
from helpers.recommend import Both

CONTENT = features.FeatureRecipe("year and genres", (), ("year", "genres"))  # notebook 03
DESCRIBED = features.FeatureRecipe("described", (), ("year", "genres", "genome", "tags"))  # 04
NEW_MOVIE = features.FeatureRecipe("new movie", (), ("year", "genres", "title", "genome"))  # 07
# Cold-start practice, chosen on seed 42's held-out users and movies (notebook 07); at half the
# learning rate the list weights did not move when perturbed, so they are not averaged.
COLD_LISTS = SageConfig(
    recipe=NEW_MOVIE, practice=Practice(movies=0.2, users=1.0), lr=0.005, average=None
)
COLD_STARS = SageConfig(
    recipe=NEW_MOVIE, practice=Practice(movies=0.5, users=0.5), epochs=100, patience=10,
    check_every=1, average=None,
)  # fmt: skip


def _lists_and_stars(
    train, source, settings, seed, progress, name, *, lists, stars, cold=None
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
    return _lists_and_stars(
        train, source, settings, seed, progress, "GraphSAGE", lists=LISTS, stars=STARS
    )


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
    """Notebook 07's GraphSAGE for new users: practised, and stopped on held-out new users."""
    lists = replace(COLD_LISTS, shrinkages=SHRINKAGES)
    return _lists_and_stars(train, source, settings, seed, progress, "GraphSAGE (new users)",
                            lists=lists, stars=COLD_STARS, cold=NEW_USERS)  # fmt: skip


def graphsage_cold_movies(train, source, settings, seed=42, progress=False) -> Both:
    """Notebook 07's GraphSAGE for new movies: practised, and stopped on held-out new movies."""
    return _lists_and_stars(train, source, settings, seed, progress, "GraphSAGE (new movies)",
                            lists=COLD_LISTS, stars=COLD_STARS, cold=NEW_MOVIES)  # fmt: skip


def global_mean(train, source, settings, seed=42, progress=False) -> baselines.GlobalMean:
    """The floor every model must beat (notebook 02)."""
    return baselines.GlobalMean().fit(train)


def bias(train, source, settings, seed=42, progress=False) -> baselines.BiasBaseline:
    """User + movie bias (notebook 02)."""
    return baselines.BiasBaseline().fit(train)


def most_popular(train, source, settings, seed=42, progress=False) -> baselines.MostPopular:
    """The same list for everyone (notebook 02)."""
    return baselines.MostPopular().fit(train)


def ease(train, source, settings, seed=42, progress=False) -> baselines.EASE:
    """EASE, the item-item yardstick for lists (notebook 02)."""
    return baselines.EASE().fit(train)


def svd(train, source, settings, seed=42, progress=False) -> baselines.SVD:
    """Biased matrix factorisation (notebook 02)."""
    return baselines.SVD().fit(train)


def svdpp(train, source, settings, seed=42, progress=False) -> baselines.SVDpp:
    """SVD++, the classic yardstick for stars (notebook 02)."""
    return baselines.SVDpp().fit(train)


def gnn(train, source, settings, seed=42, progress=False) -> Both:
    """Notebook 06's best GNNs as one: LightGCN + graph filter lists, neighbourhood GNN stars."""
    lists = gnn_ranking(train, source, settings, seed, progress)
    return Both(lists, gnn_rating(train, source, settings, seed, progress), "GNN")


MODELS = {
    "global-mean": global_mean,
    "bias": bias,
    "most-popular": most_popular,
    "ease": ease,
    "svd": svd,
    "svd++": svdpp,
    "graphsage": graphsage,
    "graphsage-content": graphsage_content,
    "graphsage-final": graphsage_final,
    "graphsage-cold-users": graphsage_cold_users,
    "graphsage-cold-movies": graphsage_cold_movies,
    "lightgcn": lightgcn_alone,
    "gnn-ranking": gnn_ranking,
    "gnn-rating": gnn_rating,
    "gnn": gnn,
}
DEFAULT_MODEL = "gnn"  # best on both metrics over seeds 42-44 (benchmarks/seeds.py)
# LightGCN and the graph filter learn one vector per training user, the rating GNN too: they
# cannot take users who join after training (notebook 07).
NO_FOLD_IN = frozenset({"lightgcn", "gnn-ranking", "gnn-rating", "gnn"})
