"""Protocol metrics against hand-computed cases and PyG's own implementation."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.metrics import LinkPredNDCG, LinkPredRecall

from helpers import metrics


def test_rmse_and_mae_clip_to_the_star_scale():
    predicted = np.array([6.0, 0.0, 3.0])
    actual = np.array([5.0, 0.5, 4.0])
    assert metrics.rmse(predicted, actual) == pytest.approx(np.sqrt(1 / 3))
    assert metrics.mae(predicted, actual) == pytest.approx(1 / 3)


def test_ndcg_by_hand():
    # relevant at ranks 1 and 3 of 3 relevant movies: DCG = 1 + 1/2, IDCG = 1 + 1/log2(3) + 1/2
    hits = np.array([[True, False, True]])
    expected = (1 + 0.5) / (1 + 1 / np.log2(3) + 0.5)
    assert metrics.ndcg_at_k(hits, np.array([3]))[0] == pytest.approx(expected)
    # with more relevant movies than K, the ideal list is K hits long
    assert metrics.ndcg_at_k(np.array([[True, True, True]]), np.array([7]))[0] == pytest.approx(1)
    assert metrics.recall_at_k(hits, np.array([3]))[0] == pytest.approx(2 / 3)
    assert metrics.recall_at_k(hits, np.array([7]))[0] == pytest.approx(2 / 3)


def test_top_k_breaks_ties_by_index():
    scores = np.array([[0.5, 0.9, 0.9, 0.1, 0.9]])
    assert metrics.top_k(scores, 3).tolist() == [[1, 2, 4]]


def test_ndcg_and_recall_agree_with_pyg():
    # With at most K relevant movies per user, PyG's recall (hits / #relevant) is the protocol's.
    rng = np.random.default_rng(0)
    scores = rng.random((20, 50))
    relevant = [rng.choice(50, size=rng.integers(1, 11), replace=False) for _ in range(20)]
    best = metrics.top_k(scores, 10)
    hits = np.array([np.isin(best[u], relevant[u]) for u in range(20)])
    n_relevant = np.array([len(r) for r in relevant])
    truth = torch.tensor([[u, m] for u, movies in enumerate(relevant) for m in movies]).T
    for ours, theirs in [
        (metrics.ndcg_at_k, LinkPredNDCG(10)),
        (metrics.recall_at_k, LinkPredRecall(10)),
    ]:
        theirs.update(torch.from_numpy(best), truth)
        assert ours(hits, n_relevant).mean() == pytest.approx(theirs.compute().item(), abs=1e-6)


def _tiny_split():
    train = pd.DataFrame({"userId": [1, 1, 2, 2], "movieId": [10, 20, 10, 30], "rating": 4.0})
    test = pd.DataFrame({"userId": [1, 2, 2], "movieId": [30, 20, 40], "rating": [5.0, 4.5, 2.0]})
    return train, test


def test_seen_movies_are_never_recommended():
    train, test = _tiny_split()

    def loves_what_you_saw(users, movies):  # scores seen movies highest
        seen = metrics.seen_mask(train, users, movies)
        return np.where(seen, 100.0, 0.0) + movies / 100

    result = metrics.ranking_metrics(loves_what_you_saw, train, test, k=1)
    # catalogue = {10, 20, 30}; unseen best for user 1 is 30 (relevant), for user 2 is 20 (relevant)
    assert result["NDCG@1"] == pytest.approx(1.0)
    assert result["coverage"] == pytest.approx(2 / 3)


def test_only_users_with_a_relevant_test_movie_count():
    train, test = _tiny_split()
    relevant = metrics.relevant_sets(test.assign(rating=[5.0, 3.0, 2.0]))
    assert relevant.index.tolist() == [1]


def test_whole_list_ndcg_cannot_tell_random_from_perfect():
    rng = np.random.default_rng(0)
    actual = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], size=2000)
    assert metrics.whole_list_ndcg(rng.random(2000), actual) > 0.9
    assert metrics.whole_list_ndcg(actual, actual) == pytest.approx(1.0)


def test_seen_index_matches_a_brute_force_scan():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"userId": rng.integers(1, 50, 400), "movieId": rng.integers(1, 80, 400)})
    train = train.drop_duplicates()
    movies = np.sort(rng.choice(np.arange(1, 90), 60, replace=False))  # some train movies absent
    users = np.array([7, 3, 99, 3, 12])  # unsorted, a repeat, an unknown user
    expected = np.array(
        [[((train["userId"] == u) & (train["movieId"] == m)).any() for m in movies] for u in users]
    )
    assert np.array_equal(metrics.seen_mask(train, users, movies), expected)


def test_ranking_metrics_average_over_a_seeded_user_sample_when_there_are_many():
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"userId": np.arange(1, 201), "movieId": 1, "rating": 4.0})
    others = pd.DataFrame({"userId": 999, "movieId": np.arange(2, 6), "rating": 4.0})
    train = pd.concat([train, others], ignore_index=True)  # movies 2-5 join the catalogue
    test = pd.DataFrame(
        {"userId": np.arange(1, 201), "movieId": rng.integers(2, 6, 200), "rating": 5.0}
    )

    def by_movie_id(users, movies):
        return np.broadcast_to(-movies.astype(float), (len(users), len(movies))).copy()

    everyone = metrics.ranking_metrics(by_movie_id, train, test, k=1, max_users=None)
    sample = metrics.ranking_metrics(by_movie_id, train, test, k=1, max_users=50)
    again = metrics.ranking_metrics(by_movie_id, train, test, k=1, max_users=50)
    assert sample == again  # seeded
    assert sample["NDCG@1"] != everyone["NDCG@1"]  # a different (sampled) set of users
    assert abs(sample["NDCG@1"] - everyone["NDCG@1"]) < 0.2
