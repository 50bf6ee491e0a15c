"""The cold-start protocols exactly as protocol.md writes them, and what a model may read."""

import dataclasses

import numpy as np
import pytest

from helpers import baselines, protocol
from helpers.metrics import Ranking
from helpers.models import MODELS
from helpers.recommend import SHRINKAGES


def test_new_users_split_sizes_and_onboarding(course):
    ratings = course["ratings"]
    parts = protocol.new_users_split(ratings, seed=42, k=5)
    ids = np.sort(ratings["userId"].unique())
    new = np.random.default_rng(42).choice(ids, size=round(0.2 * len(ids)), replace=False)
    assert (
        set(parts.onboarding["userId"])
        == set(new)
        == set(parts.test["userId"]) | set(parts.onboarding["userId"])
    )
    assert not parts.train["userId"].isin(new).any()
    assert len(parts.train) + len(parts.onboarding) + len(parts.test) == len(ratings)
    assert (parts.onboarding.groupby("userId").size() == 5).all()
    # the onboarding ratings are each user's first five by (timestamp, movieId), a stable sort
    user = new[0]
    theirs = ratings[ratings["userId"] == user].sort_values(["timestamp", "movieId"], kind="stable")
    assert set(parts.onboarding.loc[parts.onboarding["userId"] == user, "movieId"]) == set(
        theirs["movieId"].head(5)
    )


def test_new_movies_have_no_rating_in_training(course):
    ratings = course["ratings"]
    train, test = protocol.new_movies_split(ratings, seed=42)
    ids = np.sort(ratings["movieId"].unique())
    new = np.random.default_rng(43).choice(ids, size=round(0.2 * len(ids)), replace=False)
    assert set(test["movieId"]) == set(new) and not train["movieId"].isin(new).any()
    assert len(train) + len(test) == len(ratings)


def test_no_onboarding_movie_is_ever_ranked(course):
    ratings = course["ratings"]
    parts = protocol.new_users_split(ratings, seed=42)
    catalogue = np.sort(ratings["movieId"].unique())
    onboarding = set(zip(parts.onboarding["userId"], parts.onboarding["movieId"], strict=True))

    def loves_onboarding(users, movies):  # a model that puts the onboarding movies first
        return np.array([[1e9 if (u, m) in onboarding else 0.0 for m in movies] for u in users])

    shown = Ranking(parts.onboarding, parts.test, catalogue).per_user(loves_onboarding)
    for user, positions in zip(shown["userId"], shown["shown"], strict=True):
        assert not {(user, m) for m in catalogue[positions]} & onboarding


def test_new_movies_are_ranked_only_among_themselves(course):
    train, test = protocol.new_movies_split(course["ratings"], seed=42)
    seen = []

    class Recorder(baselines.Baseline):
        def score(self, users, movies):
            seen.append(movies)
            return np.zeros((len(users), len(movies)))

    protocol.new_movies(Recorder().fit(train), protocol.Split(train, test))
    assert set(np.concatenate(seen)) == set(test["movieId"])


def test_new_users_rank_every_movie_of_the_ratings_they_were_drawn_from(course):
    ratings = course["ratings"]
    parts = protocol.new_users_split(ratings, seed=42)
    seen = []

    class Recorder(baselines.Baseline):
        def score(self, users, movies):
            seen.append(movies)
            return np.zeros((len(users), len(movies)))

    protocol.new_users(Recorder().fit(parts.train), parts)
    assert set(np.concatenate(seen)) == set(ratings["movieId"])  # not only the train part's


def test_a_cold_start_protocol_pairs_its_split_with_its_score(course):
    ratings = course["ratings"]
    for cold, split, score in (
        (protocol.NEW_USERS, protocol.new_users_split, protocol.new_users),
        (protocol.NEW_MOVIES, protocol.new_movies_split, protocol.new_movies),
    ):
        assert (cold.split, cold.score) == (split, score)
    parts = protocol.NEW_USERS.split(ratings, 42)
    assert parts.onboarding.equals(protocol.new_users_split(ratings, 42).onboarding)
    bias = baselines.BiasBaseline().fit(parts.train)
    assert protocol.NEW_USERS.score(bias, parts) == protocol.new_users(bias, parts)


def test_anchors_reproduce_protocol_md(course):
    ratings, movies = course["ratings"], course["source"].movies
    joining = protocol.new_users_split(ratings, seed=42)
    popular = protocol.new_users(baselines.MostPopular().fit(joining.train), joining)
    assert popular["NDCG@10"] == pytest.approx(0.304, abs=0.001)
    bias = protocol.new_users(baselines.BiasBaseline().fit(joining.train), joining)
    assert bias["RMSE"] == pytest.approx(0.914, abs=0.002)
    unseen = protocol.new_movies_split(ratings, seed=42)
    profile = protocol.new_movies(baselines.GenreProfile(movies, 0.01).fit(unseen.train), unseen)
    assert profile["NDCG@10"] == pytest.approx(0.050, abs=0.002)
    assert profile["RMSE"] == pytest.approx(0.924, abs=0.002)


def test_inductive_graphsage_answers_for_users_it_never_saw(course, small_folder):
    from helpers import Settings, data, features

    settings = Settings.from_env().replace(
        dataset=str(small_folder), cache=course["settings"].cache, max_epochs=3
    )
    ratings = data.load_ratings(settings)
    parts = protocol.new_users_split(ratings, seed=42)
    model = MODELS["graphsage-cold-users"](parts.train, data.load_movie_data(settings), settings)
    result = protocol.new_users(model, parts)
    assert np.isfinite([result["RMSE"], result["NDCG@10"]]).all()
    for part in (model.lists, model.stars):  # no tag of a new movie may be used (protocol.md)
        assert features.tags_block not in part.model.tables.recipe.movie_blocks
        # blended with its fallback at the share that did best on held-out new users, per bucket
        assert set(part.shares) == set(protocol.ONBOARDING_TRIED)
        for low, share in part.shares.items():  # the lowest within the noise of the best
            assert share <= part.choices[str(low)].idxmax()
    joined = model.fold_in(parts.onboarding)
    assert not np.allclose(
        joined.score(parts.onboarding["userId"].unique()[:2], np.array([1, 2, 3])), 0.0
    )
    # the shrinkage was chosen on held-out users (lists: the best NDCG@10, stars: the lowest RMSE),
    # and it pulls a newcomer's vector toward the average training user, (n z + c z_mean) /
    # (n + c): one rating moves it less than five
    lists, stars = model.lists.model, model.stars.model
    assert set(lists.shrinkages) == set(stars.shrinkages) == set(SHRINKAGES)
    assert lists.shrinkage == max(lists.shrinkages, key=lists.shrinkages.get)
    assert stars.shrinkage == min(stars.shrinkages, key=stars.shrinkages.get)
    for served, vectors in ((lists, "lists"), (stars, "stars")):
        plain = dataclasses.replace(served, shrinkage=0.0).fold_in(parts.onboarding)
        shrunk = dataclasses.replace(served, shrinkage=2.0).fold_in(parts.onboarding)
        n = parts.onboarding.groupby("userId").size().reindex(plain.maps.users.ids).to_numpy()
        average = getattr(served, vectors).users.mean(0)
        before, after = getattr(plain, vectors).users, getattr(shrunk, vectors).users
        expected = (n[:, None] * before + 2.0 * average) / (n[:, None] + 2.0)
        np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)


def test_a_model_with_temporal_user_features_folds_in_new_users(course, small_folder):
    from helpers import Settings, data, features
    from helpers.models.graphsage import STARS, train_stars

    settings = Settings.from_env().replace(
        dataset=str(small_folder), cache=course["settings"].cache, max_epochs=2
    )
    parts = protocol.new_users_split(data.load_ratings(settings), seed=42)
    model = train_stars(
        parts.train,
        data.load_movie_data(settings),
        settings,
        config=dataclasses.replace(STARS, recipe=features.temporal_features),
        seed=42,
    )
    assert features.user_temporal in model.model.tables.recipe.user_blocks  # guarded: a MovieBlend
    joined = model.fold_in(parts.onboarding)  # every user block, recomputed from the onboarding
    users = parts.onboarding["userId"].to_numpy()
    assert np.isfinite(joined.predict(users, parts.onboarding["movieId"].to_numpy())).all()
