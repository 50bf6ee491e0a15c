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


@pytest.mark.parametrize("scale_path", [False, True], ids=["full-softmax", "sampled+batches"])
def test_beats_most_popular_on_held_out_movies(scale_path, monkeypatch):
    if scale_path:  # what MovieLens 25M runs: sampled softmax on random batches of pairs
        monkeypatch.setattr(ranking, "FULL_SOFTMAX_LIMIT", 0)
        monkeypatch.setattr(ranking, "PAIRS_PER_STEP", 128)
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


def test_sampled_softmax_estimates_the_full_softmax():
    torch.manual_seed(0)
    ratings = two_taste_ratings(n_users=30, n_movies=600, per_user=20)
    model, data, _, pairs = setup(ratings)
    with torch.no_grad():
        z = model.embed(data)
        full = ranking.softmax_loss(model, z, pairs, temperature=0.5)
        sampled = ranking.sampled_softmax_loss(model, z, pairs, 0.5, negatives=60_000)
    assert abs(float(sampled) - float(full)) < 0.02 * float(full)


def test_normalized_adjacency_matches_lgconv_on_edge_index():
    from torch_geometric.nn import LGConv

    model, data, maps, _ = setup(two_taste_ratings())
    n_users = len(maps.users)
    users, movies = data["user", "rates", "movie"].edge_index
    edge_index = torch.stack(
        [torch.cat([users, movies + n_users]), torch.cat([movies + n_users, users])]
    )
    x = torch.randn(n_users + len(maps.movies), 8)
    expected = LGConv()(x, edge_index)
    got = LGConv(normalize=False)(x, graph.normalized_adjacency(data))
    assert torch.allclose(expected, got, atol=1e-6)
