"""The graph filter: exact two-hop co-like scores, capped, small to pickle, a blend that helps."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import baselines, graph, graph_filter, metrics, ranking
from tests.test_ranking import setup, two_taste_ratings


def random_likes(seed: int = 0) -> tuple[pd.DataFrame, graph.IdMaps]:
    rng = np.random.default_rng(seed)
    pairs = {(int(u), int(m)) for u, m in rng.integers(0, [30, 25], size=(200, 2))}
    liked = pd.DataFrame(sorted(pairs), columns=["userId", "movieId"]).assign(rating=4.0)
    movies = pd.DataFrame({"movieId": np.arange(30)})  # movies 25-29 nobody liked
    return liked, graph.IdMaps.from_tables(liked, movies)


def brute_force(liked: pd.DataFrame, maps: graph.IdMaps) -> np.ndarray:
    r = np.zeros((len(maps.users), len(maps.movies)))
    r[maps.users.index(liked["userId"]), maps.movies.index(liked["movieId"])] = 1.0
    normalised = r / np.sqrt(r.sum(1, keepdims=True).clip(1)) / np.sqrt(r.sum(0).clip(1))
    return r @ normalised.T @ normalised


def test_scores_are_two_hops_over_the_normalised_graph(monkeypatch):
    monkeypatch.setattr(graph_filter, "USERS_PER_BLOCK", 7)  # several blocks add up
    liked, maps = random_likes()
    scores = graph_filter.GraphFilter(liked, maps).score(
        np.arange(len(maps.users)), np.arange(len(maps.movies))
    )
    np.testing.assert_allclose(scores, brute_force(liked, maps), rtol=1e-5, atol=1e-6)


def test_only_the_most_liked_movies_are_kept():
    liked, maps = random_likes()
    capped = graph_filter.GraphFilter(liked, maps, max_movies=5)
    counts = np.bincount(maps.movies.index(liked["movieId"]), minlength=len(maps.movies))
    kept = capped.column >= 0
    assert kept.sum() == 5 and counts[kept].min() >= counts[~kept].max()
    scores = capped.score(np.arange(len(maps.users)), np.arange(len(maps.movies)))
    assert (scores[:, ~kept] == 0).all() and (scores[:, kept] > 0).any()


def test_pickle_leaves_out_the_dense_matrix_and_recomputes_it():
    liked, maps = random_likes()
    built = graph_filter.GraphFilter(liked, maps)
    users, movies = np.arange(4), np.arange(len(maps.movies))
    before = built.score(users, movies)
    loaded = pickle.loads(pickle.dumps(built))
    assert loaded._similarity is None
    np.testing.assert_array_equal(loaded.score(users, movies), before)


def test_no_liked_ratings_is_a_clear_error():
    liked, maps = random_likes()
    with pytest.raises(ValueError, match="min_rating"):
        graph_filter.GraphFilter(liked.iloc[:0], maps)


def test_the_filter_alone_ranks_by_taste_and_the_blend_keeps_the_score_interface():
    ratings = two_taste_ratings()
    held_out = ratings.groupby("userId").tail(3)
    train_part = ratings.drop(held_out.index)
    model, data, maps, _ = setup(train_part)
    filtered = graph_filter.GraphFilter(train_part, maps)
    stars = baselines.GlobalMean().fit(train_part)
    only_gnn = ranking.RankingRecommender(model, data, maps, stars, "t", filtered, blend=0.0)
    blended = ranking.RankingRecommender(model, data, maps, stars, "t", filtered, blend=1e6)
    popular = baselines.MostPopular().fit(train_part)
    ndcg = {
        name: metrics.ranking_metrics(scorer, train_part, held_out)["NDCG@10"]
        for name, scorer in {"blend": blended.score, "popular": popular.score}.items()
    }
    assert ndcg["blend"] > ndcg["popular"] + 0.1  # untrained GNN, so the filter does the work
    users, movies = np.array([1, 99999]), np.array([1000, 1001, 5])
    scores = blended.score(users, movies)
    assert np.isneginf(scores[:, -1]).all() and np.isfinite(scores[:, :-1]).all()
    with torch.no_grad():
        z = model.embed(data)
        expected = (z["user"][0] @ z["movie"][:2].T + model.movie_bias[:2]).numpy()
    np.testing.assert_allclose(only_gnn.score(users[:1], movies[:2])[0], expected, rtol=1e-5)
