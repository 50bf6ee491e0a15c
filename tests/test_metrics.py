"""Protocol metrics against hand-computed cases and PyG's own implementation."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.metrics import LinkPredNDCG, LinkPredRecall

from helpers import metrics
from helpers.baselines import MostPopular
from helpers.metrics import Rated, top_k
from helpers.recommend import top_movies


def test_rmse_and_mae_clip_to_the_star_scale():
    predicted, actual = np.array([6.0, 0.0, 3.0]), np.array([5.0, 0.5, 4.0])
    assert metrics.rmse(predicted, actual) == pytest.approx(np.sqrt(1 / 3))
    assert metrics.mae(predicted, actual) == pytest.approx(1 / 3)


def test_top_k_breaks_ties_by_index():
    assert top_k(np.array([[0.5, 0.9, 0.9, 0.1, 0.9]]), 3).tolist() == [[1, 2, 4]]


def test_top_k_gives_ties_at_the_kth_place_to_the_lower_index():
    assert top_k(np.zeros((1, 1000)), 3).tolist() == [[0, 1, 2]]
    scores = np.random.default_rng(0).integers(0, 5, (50, 1000)).astype(float)  # many ties
    scores[0, 5:] = -np.inf  # fewer finite scores than K
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert np.array_equal(top_k(scores, 10), expected)


def test_top_k_refuses_nan_scores():
    with pytest.raises(ValueError, match="NaN"):
        top_k(np.full((2, 20), np.nan), 5)


def _split():
    train = pd.DataFrame({"userId": [1, 1, 2, 2], "movieId": [10, 20, 10, 30], "rating": 4.0})
    test = pd.DataFrame(
        {"userId": [1, 1, 2, 2], "movieId": [30, 40, 20, 40], "rating": [5.0, 4.0, 4.5, 2.0]}
    )
    return train, test


def test_ndcg_by_hand():
    train, test = _split()  # catalogue: 10, 20, 30; user 1 may get 30 only, user 2 only 20
    ranking = metrics.Ranking(train, test)
    table = ranking.per_user(
        lambda users, movies: np.tile(movies.astype(float), (len(users), 1)), k=2
    )
    # user 1: relevant {30, 40}, 40 not in the catalogue; top [30]: DCG 1, IDCG 1 + 1/log2(3)
    assert table.set_index("userId").loc[1, "NDCG@2"] == pytest.approx(1 / (1 + 1 / np.log2(3)))
    assert table.set_index("userId").loc[1, "Recall@2"] == pytest.approx(0.5)
    assert table.set_index("userId").loc[2, "NDCG@2"] == pytest.approx(1.0)


def test_rated_movies_are_never_ranked():
    train, test = _split()
    # a model that loves what the user already rated still only lists unrated movies
    result = metrics.Ranking(train, test).per_user(
        lambda u, m: np.tile([9.0, 9.0, 0.0], (len(u), 1)), k=1
    )
    assert result.set_index("userId").loc[1, "shown"].tolist() == [2]  # movie 30


def test_ndcg_and_recall_agree_with_pyg():
    rng = np.random.default_rng(0)
    movies = np.arange(50)
    liked = [rng.choice(50, size=rng.integers(1, 11), replace=False) for _ in range(20)]
    test = pd.DataFrame(
        [(u, m, 5.0) for u, ms in enumerate(liked) for m in ms],
        columns=["userId", "movieId", "rating"],
    )
    train = pd.DataFrame(
        {"userId": [99] * 50, "movieId": movies, "rating": 1.0}
    )  # defines the catalogue
    scores = rng.random((20, 50))
    table = metrics.Ranking(train, test).per_user(lambda u, m: scores[u])
    truth = torch.tensor([[u, m] for u, ms in enumerate(liked) for m in ms]).T
    best = torch.from_numpy(top_k(scores, 10))
    for column, theirs in (("NDCG@10", LinkPredNDCG(10)), ("Recall@10", LinkPredRecall(10))):
        theirs.update(best, truth)  # at most K relevant: PyG's recall is the protocol's
        assert table[column].mean() == pytest.approx(theirs.compute().item(), abs=1e-6)


def test_random_scores_fool_the_whole_list_ndcg_but_not_the_protocol():
    rng = np.random.default_rng(1)
    actual = rng.choice([1.0, 3.0, 4.0, 5.0], size=2000)
    assert metrics.whole_list_ndcg(rng.random(2000), actual) > 0.9


def test_buckets_name_every_bucket_and_count_every_rating():
    train = pd.DataFrame(
        {
            "userId": np.repeat([1, 2], 25),
            "movieId": np.r_[np.repeat(10, 24), 11, np.arange(100, 125)],
            "rating": 4.0,
        }
    )
    test = pd.DataFrame({"userId": [1, 1, 2], "movieId": [11, 999, 100], "rating": [4.0, 3.0, 5.0]})

    class Constant:
        def predict(self, users, movies):
            return np.full(len(users), 3.0)

        def score(self, users, movies):
            return np.zeros((len(users), len(movies)))

    table = metrics.buckets(Constant(), train, test)
    assert table.loc["movies with 0 train ratings", "test ratings"] == 1
    assert table.loc["movies with 1-4 train ratings", "test ratings"] == 2
    assert table.loc["users with 1-29 train ratings", "test ratings"] == 3
    assert np.isnan(table.loc["movies with 0 train ratings", "NDCG@10"])


def test_buckets_ranks_once_and_judges_each_bucket_as_its_own_ranking_would():
    """One ranking of every user, judged per bucket: each bucket's NDCG@10 is what a Ranking
    of that bucket's test ratings alone gives (a user shown another user's list would not be)."""
    draw = np.random.default_rng(3)
    ratings = pd.DataFrame(
        {
            "userId": draw.integers(1, 120, 6000),
            "movieId": np.minimum(draw.zipf(1.6, 6000), 400),
            "rating": draw.choice([2.0, 3.5, 4.0, 5.0], 6000),
        }
    ).drop_duplicates(["userId", "movieId"])
    train, test = ratings.iloc[: len(ratings) * 4 // 5], ratings.iloc[len(ratings) * 4 // 5 :]
    user_taste = draw.random((200, 500))

    class Taste:
        def score(self, users, movies):
            return user_taste[users][:, movies]

    table = metrics.buckets(Taste(), train, test, ratings=False)
    labels = metrics._bucket(train, test, "movieId", metrics.MOVIE_BUCKETS)
    for name in set(labels) - {"0"}:
        alone = metrics.Ranking(train, test[labels == name])(Taste().score)["NDCG@10"]
        assert table.loc[f"movies with {name} train ratings", "NDCG@10"] == alone
    whole = metrics.Ranking(train, test).per_user(Taste().score).set_index("userId")["NDCG@10"]
    light = test.loc[metrics._bucket(train, test, "userId", metrics.USER_BUCKETS) == "1-29"]
    expected = whole.reindex(light["userId"].unique()).mean()
    assert table.loc["users with 1-29 train ratings", "NDCG@10"] == pytest.approx(expected)


def test_a_test_user_with_no_train_rating_is_not_counted_with_the_heaviest_users():
    train = pd.DataFrame({"userId": [1, 1], "movieId": [10, 11], "rating": 4.0})
    test = pd.DataFrame({"userId": [1, 2], "movieId": [10, 11], "rating": [4.0, 3.0]})

    class Constant:
        def predict(self, users, movies):
            return np.full(len(users), 3.0)

    table = metrics.buckets(Constant(), train, test, ranking=False)
    assert table.loc["users with 0 train ratings", "test ratings"] == 1
    assert table.loc["users with 1-29 train ratings", "test ratings"] == 1
    assert "users with >= 100 train ratings" not in table.index


def test_changes_reads_lower_higher_and_same():
    table = pd.DataFrame({"a": [0.9, 0.5, 0.3], "b": [0.8, 0.6, 0.3001]}, index=["x", "y", "z"])
    words = metrics.changes(table, "RMSE", "a", "b")
    assert words.str.split(":").str[0].tolist() == ["RMSE lower", "RMSE higher", "RMSE the same"]


def test_rated_index_masks_and_looks_up_users():
    ratings = pd.DataFrame({"userId": [5, 3, 5], "movieId": [2, 1, 9], "rating": [4.0, 3.0, 1.0]})
    rated = Rated.of(ratings, np.array([1, 2, 3]))
    assert rated.mask(np.array([5, 3, 7])).tolist() == [
        [False, True, False],
        [True, False, False],
        [False] * 3,
    ]
    positions, stars = rated.of_user(5)
    assert positions.tolist() == [1, -1] and stars.tolist() == [4.0, 1.0]


def test_a_list_for_a_user_without_ratings_is_refused_in_one_sentence():
    """``top_movies`` used to rank every movie for a user it had never seen (a notebook naming
    user 1 on a user sample without it printed a list for nobody); now it names users who have
    ratings, not a range of ids that a sample leaves gaps in."""
    ratings = pd.DataFrame(
        {"userId": [5, 3, 5, 7], "movieId": [2, 1, 9, 9], "rating": [4.0, 3.0, 1.0, 5.0]}
    )
    rated = Rated.of(ratings, np.array([1, 2, 3, 9]))
    assert rated.require_user(3) == 3
    with pytest.raises(ValueError) as refused:
        rated.require_user(4)
    assert str(refused.value) == (
        "User 4 has no training ratings, so there is nothing to recommend from. Pick one of the "
        "3 users who have some, such as 3, 5, 7."
    )
    movies = pd.DataFrame({"movieId": [1, 2, 3, 9], "title": list("abcd"), "genres": list("efgh")})
    popular = MostPopular().fit(ratings)
    assert top_movies(popular, 3, rated, movies, k=2)["movieId"].tolist() == [9, 2]  # by count
    with pytest.raises(ValueError, match="User 4 has no training ratings"):
        top_movies(popular, 4, rated, movies, k=2)
