"""The ranking GNN: it learns, beats popularity on a graph with taste, and scores raw ids."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import baselines, graph, metrics, ranking


def two_taste_ratings(n_users: int = 40, n_movies: int = 40, per_user: int = 10, seed: int = 0):
    """Half the users rate only even movies, half only odd ones; odd movies are more popular
    overall (more odd fans), so most-popular recommends the wrong half to the even fans."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        parity = 0 if user < n_users // 3 else 1
        pool = np.arange(parity, n_movies, 2)
        for movie in rng.choice(pool, per_user, replace=False):
            rows.append((user + 1, movie + 1000, 5.0))
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating"])


def setup(ratings: pd.DataFrame, encoder: str = "lightgcn"):
    movies = pd.DataFrame({"movieId": np.sort(ratings["movieId"].unique())})
    maps = graph.IdMaps.from_tables(ratings, movies)
    data = graph.build_graph(ratings, maps)
    torch.manual_seed(0)
    model = ranking.RankingGNN(data, channels=16, layers=2, encoder=encoder)
    return model, data, maps, ranking.Interactions.from_ratings(ratings, maps)


@pytest.mark.parametrize("loss", ranking.LOSSES)
@pytest.mark.parametrize("encoder", ranking.ENCODERS)
def test_loss_decreases(loss, encoder):
    model, data, _, pairs = setup(two_taste_ratings(), encoder)
    history = ranking.fit_ranking(
        model, data, pairs, lambda m: 0.0, loss=loss, epochs=40, lr=0.02, progress=False
    )
    assert np.mean(history.train_loss[-5:]) < 0.9 * np.mean(history.train_loss[:5])


def test_beats_most_popular_on_held_out_movies():
    ratings = two_taste_ratings()
    held_out = ratings.groupby("userId").tail(3)
    train_part = ratings.drop(held_out.index)
    model, data, maps, pairs = setup(train_part)
    ranking.fit_ranking(model, data, pairs, lambda m: 0.0, epochs=60, lr=0.05, progress=False)
    stars = baselines.GlobalMean().fit(train_part)
    ranker = ranking.RankingRecommender(model, data, maps, stars, "test")
    gnn = metrics.ranking_metrics(ranker.score, train_part, held_out)["NDCG@10"]
    popular = baselines.MostPopular().fit(train_part)
    assert gnn > metrics.ranking_metrics(popular.score, train_part, held_out)["NDCG@10"] + 0.1


def test_score_shapes_and_unknown_ids():
    ratings = two_taste_ratings()
    model, data, maps, _ = setup(ratings)
    ranker = ranking.RankingRecommender(model, data, maps, baselines.GlobalMean().fit(ratings), "t")
    users = np.array([1, 2, 99999])  # the last one is unknown
    movies = np.array([1000, 1001, 1002, 5])  # so is the last one
    scores = ranker.score(users, movies)
    assert scores.shape == (3, 4)
    assert np.isneginf(scores[:, -1]).all()
    assert np.isfinite(scores[:, :-1]).all()
    assert ranker.predict(users, movies[:3]).shape == (3,)


def test_bad_arguments_are_reported():
    ratings = two_taste_ratings()
    _, data, _, pairs = setup(ratings)
    with pytest.raises(ValueError, match="encoder"):
        ranking.RankingGNN(data, encoder="gat")
    model = ranking.RankingGNN(data, channels=4)
    with pytest.raises(ValueError, match="loss"):
        ranking.fit_ranking(model, data, pairs, lambda m: 0.0, loss="hinge", progress=False)
