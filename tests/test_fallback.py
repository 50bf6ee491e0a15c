"""A model blended with its fallback (``Blend``) and the share chosen on held-out data: never
below the fallback where the fallback is better, the model alone where it is."""

import numpy as np
import pandas as pd
import pytest

from helpers import baselines, protocol, recommend
from helpers.metrics import Ranking, top_k
from helpers.recommend import Blend


class Shifted(baselines.Baseline):
    """The bias model's stars plus ``noise`` (a fixed draw per pair); lists: noise alone."""

    name = "shifted"

    def __init__(self, base: baselines.BiasBaseline, noise: float):
        self.base, self.noise = base, noise

    def _draw(self, users, movies):
        return np.random.default_rng(users * 100_003 + movies).normal(size=len(users))

    def predict(self, users, movies):
        return self.base.predict(users, movies) + self.noise * self._draw(users, movies)

    def score(self, users, movies):
        return np.random.default_rng(0).normal(size=(len(users), len(movies)))


class Oracle(baselines.Baseline):
    """Knows the test ratings: the best a model can be."""

    name = "oracle"

    def __init__(self, test: pd.DataFrame, base: baselines.BiasBaseline):
        self.known = test.set_index(["userId", "movieId"])["rating"]
        self.base = base

    def predict(self, users, movies):
        found = self.known.reindex(pd.MultiIndex.from_arrays([users, movies]))
        return found.fillna(pd.Series(self.base.predict(users, movies), found.index)).to_numpy()


@pytest.fixture(scope="module")
def split(course):
    return protocol.new_users_split(course["ratings"], seed=42, k=5)


def blend(model, rule, share: float) -> Blend:
    return Blend(model, rule, {0: share}, pd.Series(dtype=float), "blend")


def test_share_0_is_the_fallback_and_share_1_the_model(course, split):
    rule = baselines.MostPopular().fit(split.train)
    model = Shifted(baselines.BiasBaseline().fit(split.train), noise=0.5)
    users, movies = np.array([1, 2, 3]), np.sort(course["ratings"]["movieId"].unique())[:500]
    for share, alone in ((0.0, rule), (1.0, model)):
        both = blend(model, rule, share)
        np.testing.assert_allclose(
            both.predict(users, movies[:3]), alone.predict(users, movies[:3])
        )
        ranked, expected = (
            top_k(both.score(users, movies), 10),
            top_k(alone.score(users, movies), 10),
        )
        np.testing.assert_array_equal(ranked, expected)


def test_the_share_follows_the_users_count_of_ratings():
    both = Blend(None, None, {1: 0.2, 5: 0.9}, pd.Series({7: 1, 8: 4, 9: 5, 10: 40}), "blend")
    np.testing.assert_allclose(both.share(np.array([7, 8, 9, 10, 11])), [0.2, 0.2, 0.9, 0.9, 0.2])


def test_a_worse_model_gets_share_0_and_a_better_one_share_1(split):
    base = baselines.BiasBaseline().fit(split.train)
    splits = {5: [split]}
    ask = protocol.NEW_USERS.asked
    noisy = recommend.choose_shares(blend(Shifted(base, 2.0), base, 1.0), splits, ask, True)
    assert noisy.shares == {5: 0.0}  # the noise only hurts: the fallback answers alone
    assert noisy.values[5].idxmax() == 0.0
    oracle = recommend.choose_shares(blend(Oracle(split.test, base), base, 1.0), splits, ask, True)
    assert oracle.shares == {5: 1.0} and oracle.values[5].idxmax() == 1.0


def test_a_guarded_noisy_model_answers_as_its_fallback(course, split):
    """``ColdGuard`` end to end: held-out new users drawn from the train part, each bucket of
    onboarding ratings chosen; a model that only adds noise keeps share 0 everywhere."""
    base = baselines.BiasBaseline().fit(split.train)
    noisy = Shifted(base, 2.0)
    parts = split.train, protocol.new_users_split(split.train, 42 + 1000).train, split.test[:0]
    guard = recommend.ColdGuard(recommend.bias_model)
    guarded = guard(noisy, noisy, protocol.NEW_USERS, parts, course["source"], 42, stars=True)
    assert guarded.shares == {1: 0.0, 5: 0.0}
    assert guarded.choices.columns.tolist() == ["1", "5"]
    users, movies = split.test["userId"].to_numpy(), split.test["movieId"].to_numpy()
    joined = guarded.fold_in(split.onboarding)
    expected = base.fold_in(split.onboarding).predict(users, movies)
    np.testing.assert_allclose(joined.predict(users, movies), expected)


def test_warm_stars_are_guarded_per_bucket_of_the_movies_ratings(course):
    """Warm (no cold start): the validation part by bucket of the movie's fit-part ratings; a
    model that is noise on movies with fewer than 5 ratings and exact on the others keeps
    share 0 below 5 ratings and 1 from 5 on, and a movie's share follows its train ratings."""
    train, test = protocol.protocol_split(course["ratings"], seed=42)
    fit_part, valid_part = protocol.validation_split(train, seed=42)
    base = baselines.BiasBaseline().fit(fit_part)
    rare = fit_part["movieId"].value_counts().reindex(valid_part["movieId"]).fillna(0) < 5
    known = pd.concat([valid_part[~rare.to_numpy()], test])
    model = Oracle(known, Shifted(base, 2.0))  # exact where it knows, else noisy
    parts = train, fit_part, valid_part
    guard = recommend.WarmGuard(recommend.bias_model)
    guarded = guard(model, model, None, parts, course["source"], 42, stars=True)
    assert isinstance(guarded, recommend.MovieBlend)
    assert guarded.shares == {0: 0.0, 1: 0.0, 5: 1.0}
    assert guarded.choices.columns.tolist() == ["0", "1", "5"]
    counts = train["movieId"].value_counts()
    movies = np.array([counts.index[counts == 1][0], counts.index[counts >= 5][0], -1])
    np.testing.assert_allclose(guarded.share(movies), [0.0, 1.0, 0.0])
    pairs = (np.full(3, train["userId"].iloc[0]), movies)
    expected = [guarded.fallback.predict(*pairs)[0], model.predict(*pairs)[1]]
    np.testing.assert_allclose(guarded.predict(*pairs)[:2], expected)


def test_a_bucket_without_validation_ratings_gets_the_fallback(course):
    ratings = course["ratings"]
    fit_part, valid_part = protocol.validation_split(ratings, seed=42)
    seen = valid_part[valid_part["movieId"].isin(fit_part["movieId"])]
    assert 0 not in protocol.by_bucket(fit_part, seen, "movieId")
    oracle = Oracle(seen, baselines.BiasBaseline().fit(fit_part))
    parts = ratings, fit_part, seen
    guard = recommend.WarmGuard(recommend.bias_model)
    guarded = guard(oracle, oracle, None, parts, course["source"], 42, stars=True)
    assert guarded.shares[0] == 0.0 and guarded.shares[5] == 1.0


def test_a_share_within_the_noise_of_the_best_counts_as_good_as_the_best():
    """The rule that keeps the lowest share: a gap smaller than one standard error of the paired
    differences is noise (a few users), a steady gap over many users is not."""
    draw = np.random.default_rng(0)
    best = pd.Series(draw.normal(size=100))
    noisy = best - 0.01 + pd.Series(draw.normal(scale=0.5, size=100))
    steady = best - 0.01 + pd.Series(draw.normal(scale=0.001, size=100))
    assert recommend.within_noise(noisy, best) and not recommend.within_noise(steady, best)
    assert recommend.within_noise(best, best)


def test_a_new_user_gets_the_share_of_their_onboarding_count(split):
    base = baselines.BiasBaseline().fit(split.train)
    both = Blend(Shifted(base, 1.0), base, {1: 0.0, 5: 1.0}, pd.Series(dtype=float), "blend")
    two = split.onboarding.groupby("userId").head(2)  # every new user with 2 ratings: share 0
    joined = both.fold_in(two)
    users, movies = split.test["userId"].to_numpy(), split.test["movieId"].to_numpy()
    np.testing.assert_allclose(
        joined.predict(users, movies), base.fold_in(two).predict(users, movies)
    )
    assert (both.fold_in(split.onboarding).share(users) == 1.0).all()


def test_warm_lists_leave_a_bucket_without_ranked_users_to_the_fallback(course):
    """Warm lists (no cold start) by bucket of the user's ratings: a bucket whose validation
    users have no relevant movie cannot judge a share, so it is left out and gets the rule."""
    train, _ = protocol.protocol_split(course["ratings"], seed=42)
    fit_part, valid_part = protocol.validation_split(train, seed=42)
    disliked = valid_part[valid_part["rating"] < 4]  # nothing relevant to rank
    base = baselines.MostPopular().fit(fit_part)
    choice = recommend.choose_shares(
        blend(base, base, 1.0),
        {1: [protocol.Split(fit_part, disliked)]},
        protocol.warm_asked,
        stars=False,
        errors=0.0,
    )
    assert choice.shares == {} and choice.values.empty
    parts = train, fit_part, disliked
    guard = recommend.WarmGuard(recommend.popularity)
    guarded = guard(base, base, None, parts, course["source"], 42, stars=False)
    assert type(guarded) is Blend and guarded.shares == {0: 0.0, 1: 0.0, 5: 0.0}


class ListOracle(baselines.Baseline):
    """Lists: the movies each user liked in ``known`` first, the rest in a fixed random order."""

    name = "list oracle"

    def __init__(self, known: pd.DataFrame):
        liked = known[known["rating"] >= 4]
        self.liked = liked["userId"].to_numpy() * 10**7 + liked["movieId"].to_numpy()

    def score(self, users, movies):
        noise = np.random.default_rng(0).normal(scale=0.1, size=(len(users), len(movies)))
        return noise + np.isin(users[:, None] * 10**7 + movies[None, :], self.liked)


def test_warm_lists_keep_the_better_of_the_model_and_most_popular(course):
    """Warm lists (``LISTS`` names most popular): by validation NDCG@10, a model that knows what
    each user likes keeps share 1, a model of noise share 0, so it lists what most popular lists."""
    train, test = protocol.protocol_split(course["ratings"], seed=42)
    fit_part, valid_part = protocol.validation_split(train, seed=42)
    parts, source = (train, fit_part, valid_part), course["source"]
    rule = recommend.popularity(train, source)
    oracle = ListOracle(pd.concat([valid_part, test]))
    noise = Shifted(baselines.BiasBaseline().fit(train), noise=1.0)
    kept = {}
    for name, model in (("oracle", oracle), ("noise", noise)):
        guarded = recommend.WarmGuard(recommend.popularity)(
            model, model, None, parts, source, 42, stars=False
        )
        kept[name] = guarded.shares[5]
        if name == "noise":
            users, movies = test["userId"].unique()[:20], np.sort(train["movieId"].unique())
            np.testing.assert_array_equal(
                top_k(guarded.score(users, movies), 10), top_k(rule.score(users, movies), 10)
            )
    assert kept == {"oracle": 1.0, "noise": 0.0}
    from helpers.models.graphsage import COLD_LISTS, LISTS  # the kit's warm lists are guarded

    assert LISTS.guard == recommend.WarmGuard(recommend.popularity) and COLD_LISTS.guard is None


class Offset(baselines.Baseline):
    """Stars: 3 plus a fixed offset per user (0 for a user it does not know)."""

    name = "offset"

    def __init__(self, offsets: pd.Series):
        self.offsets = offsets

    def predict(self, users, movies):
        return 3.0 + self.offsets.reindex(users).fillna(0.0).to_numpy()


def test_a_user_asked_in_several_splits_counts_once():
    """New users are asked at K = 1, 2 and 4 onboarding ratings, and their answers are alike: a
    user asked three times is one draw, not three. 50 users, 30 of whom the model gets right and
    20 wrong: the best share (0.2) beats the fallback by less than one standard error over 50
    users, not over 150 draws, so the fallback alone is kept however often they are asked."""
    users = np.arange(1, 51)
    test = pd.DataFrame({"userId": users, "movieId": 1, "rating": 4.0})
    model = Offset(pd.Series(np.where(users <= 30, 1.0, -1.0), index=users))
    both = blend(model, Offset(pd.Series(dtype=float)), 1.0)

    def ask(blended, part):
        return protocol.Asked(blended, test.iloc[:0], test, np.array([1]))

    once = recommend.choose_shares(both, {1: [None]}, ask, stars=True)
    thrice = recommend.choose_shares(both, {1: [None] * 3}, ask, stars=True)
    assert once.values[1].idxmax() == 0.2 and once.shares == thrice.shares == {1: 0.0}


class Favourite(baselines.Baseline):
    """Lists: movie 1 first and the user's other liked movies last; the rest in a fixed random
    order (``seed``). Without a favourite (``None``): the random order alone."""

    name = "favourite"

    def __init__(self, liked: pd.DataFrame, favourite: int | None, seed: int):
        self.liked = liked["userId"].to_numpy() * 10**7 + liked["movieId"].to_numpy()
        self.favourite, self.seed = favourite, seed

    def score(self, users, movies):
        scores = np.random.default_rng(self.seed).normal(size=(len(users), len(movies)))
        if self.favourite is None:
            return scores
        liked = np.isin(users[:, None] * 10**7 + movies[None, :], self.liked)
        return scores - 100.0 * liked + 200.0 * (movies == self.favourite)[None, :]


def test_new_movies_count_the_noise_of_which_movies_were_held_out():
    """300 users each like movie 1 and ten others of 60 new movies. The model lists movie 1
    first and the others last: over the users it is a little ahead of a random fallback, but
    that is one movie's doing, and a held-out draw without movie 1 reverses it. The users'
    error alone gives the model a share; with the movies' spread (random halves) it has not
    earned one."""
    draw = np.random.default_rng(1)
    users, movies = np.arange(1, 301), np.arange(1, 61)
    others = [draw.choice(movies[1:], 10, replace=False) for _ in users]
    test = pd.DataFrame(
        {"userId": np.repeat(users, 11), "movieId": np.concatenate([[1, *o] for o in others])}
    ).assign(rating=5.0)
    model, rule = Favourite(test, 1, seed=0), Favourite(test, None, seed=1)
    both = blend(model, rule, 1.0)

    def ask(blended, part):
        return protocol.Asked(blended, test.iloc[:0], test, movies)

    users_only = recommend.choose_shares(both, {0: [None]}, ask, stars=False)
    spread = recommend.movie_spread
    with_movies = recommend.choose_shares(both, {0: [None]}, ask, stars=False, spread=spread)
    values = users_only.values[0]
    assert values[1.0] > values[0.0]  # ahead over the users
    assert users_only.shares[0] > 0.0 and with_movies.shares == {0: 0.0}


class Noisy(baselines.Baseline):
    """Lists: a fixed random score per (user, movie); movies 1-3 never listed (``-inf``)."""

    name = "noisy"
    table = np.random.default_rng(0).normal(size=(3_000, 200))  # users and movies below these

    def score(self, users, movies):
        return np.where(movies[None, :] <= 3, -np.inf, self.table[users][:, movies])


@pytest.mark.parametrize("n_movies", [120, 6])
def test_the_guard_ranks_every_share_as_the_blend_itself_does(n_movies):
    """The guard makes a batch's standardised scores once and mixes them at each share
    (``shown_at_each_share``): every user is shown exactly what the blend itself shows at that
    share, and gets the same NDCG@10, over more users than one batch, with movies the model
    never lists, and with fewer movies than a list holds."""
    draw = np.random.default_rng(0)
    ratings = pd.DataFrame(
        {"userId": np.repeat(np.arange(1, 2_501), 8), "movieId": draw.integers(1, n_movies, 20_000)}
    ).drop_duplicates(["userId", "movieId"])
    ratings = ratings.assign(rating=draw.choice([2.0, 4.0, 5.0], len(ratings)))
    train, test = protocol.protocol_split(ratings, seed=1)
    both = blend(Noisy(), baselines.MostPopular().fit(train), 1.0)
    ranking = Ranking(train, test)
    assert len(ranking.users) > 1_024
    shown = recommend.shown_at_each_share(both, ranking)
    asked = protocol.warm_asked(both, protocol.Split(train, test))
    numbers = recommend.users_numbers([asked], [ranking])
    for share in recommend.SHARES:
        alone = blend(both.model, both.fallback, share).score
        np.testing.assert_array_equal(shown[share], ranking.shown(alone, ranking.users))
        expected = ranking.per_user(alone).set_index("userId")["NDCG@10"]
        pd.testing.assert_series_equal(
            numbers[share], expected, check_names=False, check_exact=True
        )


def test_a_guard_refuses_the_other_kind_of_start(course, split):
    """A warm guard chooses on the validation part, a cold one on a cold start: a model trained
    for one with the other's guard is refused in a sentence, not blended on the wrong data."""
    base = baselines.BiasBaseline().fit(split.train)
    parts, source = (split.train, split.train, split.test[:0]), course["source"]
    with pytest.raises(ValueError, match="give cold starts a ColdGuard"):
        recommend.WarmGuard(recommend.bias_model)(
            base, base, protocol.NEW_USERS, parts, source, 42, stars=True
        )
    with pytest.raises(ValueError, match="pass cold="):
        recommend.ColdGuard(recommend.bias_model)(base, base, None, parts, source, 42, stars=True)
