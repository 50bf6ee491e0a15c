"""What a trained GNN serves (notebook 02): its embeddings behind raw ids, a pair of models as one
(lists from one, stars from the other), a user's top-K table; and a model blended with the rule it
must beat, its share chosen per bucket on the validation part (``WarmGuard``, notebook 03) or,
within one standard error, on a cold start inside the train part (``ColdGuard``, notebook 07)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from helpers import baselines, protocol
from helpers.data import MovieData
from helpers.graph import IdMaps
from helpers.metrics import BATCH, K, Ranking, Rated, Recommender, best_unrated, clip, top_k
from helpers.train import History


@dataclass
class Embeddings:
    """A vector per user and per movie node, and movie biases."""

    users: np.ndarray
    movies: np.ndarray
    bias: np.ndarray

    def pairs(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.users[u], self.movies[m]).astype(np.float64)

    def grid(self, u: np.ndarray, m: np.ndarray) -> np.ndarray:
        return (self.users[u] @ self.movies[m].T + self.bias[m]).astype(np.float64)


@dataclass
class GNNRecommender:
    """A GNN behind raw ids: lists from ``lists``, stars from ``base`` (a bias model) plus the fit
    of ``stars``; unknown users get popularity scores, unknown movies are never listed.
    ``history``: how its training went; ``tried``: each setting's validation number, where it
    was trained with several and the best is served."""

    name: str
    maps: IdMaps
    base: Recommender
    lists: Embeddings | None = None
    stars: Embeddings | None = None
    history: History = field(default_factory=History)
    tried: dict[str, float] = field(default_factory=dict)  # validation of each setting trained

    def _index(self, users: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.maps.users.index(users, False), self.maps.movies.index(movies, False)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        stars = np.asarray(self.base.predict(users, movies), dtype=np.float64)
        if self.stars is not None:
            u, m = self._index(users, movies)
            known = (u >= 0) & (m >= 0)
            stars[known] += self.stars.pairs(u[known], m[known])
        return stars

    def movie_vectors(self, movies: np.ndarray) -> np.ndarray:
        """The movies' list embeddings (star embeddings for a star model), for explanations."""
        return (self.lists or self.stars).movies[self.maps.movies.index(movies)]

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._index(users, movies)
        if self.lists is None:  # a star model ranks by its predicted stars
            grid = np.asarray(self.base.score(users, movies), dtype=np.float64)
            if self.stars is not None:
                fit = self.stars.users[np.maximum(u, 0)] @ self.stars.movies[np.maximum(m, 0)].T
                grid += np.where((u >= 0)[:, None] & (m >= 0)[None, :], fit, 0.0)
            return grid
        scores = self.lists.grid(np.maximum(u, 0), np.maximum(m, 0))
        scores[u < 0] = self.lists.bias[np.maximum(m, 0)]
        scores[:, m < 0] = -np.inf
        return scores


@dataclass
class Both:
    """One model's lists and another's stars (for instance the ranking and the rating GNN)."""

    lists: Recommender
    stars: Recommender
    name: str

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.lists.score(users, movies)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.stars.predict(users, movies)

    def fold_in(self, ratings: pd.DataFrame) -> Both:
        return Both(self.lists.fold_in(ratings), self.stars.fold_in(ratings), self.name)

    def movie_vectors(self, movies: np.ndarray) -> np.ndarray:
        return self.lists.movie_vectors(movies)


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row less its mean, over its spread (of its finite scores); an unscored movie gets the
    row's mean, 0."""
    finite = np.where(np.isfinite(scores), scores, np.nan)
    spread = np.nanstd(finite, axis=1, keepdims=True)
    z = (finite - np.nanmean(finite, axis=1, keepdims=True)) / np.where(spread > 0, spread, 1)
    return np.nan_to_num(z, nan=0.0)


def mix(s, model: np.ndarray, fallback: np.ndarray, unlisted: np.ndarray) -> np.ndarray:
    """``s`` (a number, or one per pair) of the model's standardised scores and ``1 - s`` of the
    fallback's; a movie the model never lists stays unlisted."""
    return np.where(unlisted, -np.inf, s * model + (1 - s) * fallback)


@dataclass
class Blend:
    """``model``'s answers blended with its ``fallback``'s (notebook 07): the model's share ``s``
    depends on how many ratings the user has (``shares``: each bucket's lowest count -> share;
    ``counts``: ratings per user); ``s = 0`` is the fallback alone, ``s = 1`` the model alone.
    Stars: ``s * model + (1 - s) * fallback``. Lists: the same on each user's scores standardised
    over the movies asked (the two are on different scales); a movie the model never lists stays
    unlisted."""

    model: Recommender
    fallback: Recommender
    shares: dict[int, float]
    counts: pd.Series
    name: str
    choices: pd.DataFrame | None = None  # held-out value of each share by bucket (stars: -MSE)

    def share(self, ids: np.ndarray) -> np.ndarray:
        """The model's share for each id (of any shape), by its number of ratings."""
        lowest = np.array(sorted(self.shares))
        n = self.counts.reindex(np.ravel(ids)).fillna(0).to_numpy().reshape(np.shape(ids))
        bucket = np.maximum(np.searchsorted(lowest, n, side="right") - 1, 0)
        return np.array([self.shares[low] for low in lowest])[bucket]

    def pair_share(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """The model's share for each (user, movie) pair: the user's."""
        return self.share(users)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        model, fallback = self.model.predict(users, movies), self.fallback.predict(users, movies)
        s = self.pair_share(users, movies)
        return s * model + (1 - s) * fallback

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        s = self.pair_share(users[:, None], movies[None, :])
        return mix(s, *self.standardised(users, movies))

    def standardised(self, users: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, ...]:
        """Both models' scores, each standardised per user over ``movies``, and a mask of the pairs
        the model never lists: a guard makes them once, then mixes them at each share it tries."""
        model = np.asarray(self.model.score(users, movies), dtype=np.float64)
        fallback = np.asarray(self.fallback.score(users, movies), dtype=np.float64)
        return standardise(model), standardise(fallback), np.isneginf(model)

    def fold_in(self, ratings: pd.DataFrame) -> Blend:
        """Both folded in; a new user's share follows its number of ``ratings``."""
        model, fallback = self.model.fold_in(ratings), self.fallback.fold_in(ratings)
        counts = ratings["userId"].value_counts()
        return Blend(model, fallback, self.shares, counts, self.name, self.choices)

    def movie_vectors(self, movies: np.ndarray) -> np.ndarray:
        return self.model.movie_vectors(movies)


@dataclass
class MovieBlend(Blend):
    """A :class:`Blend` whose share follows the movie's number of ratings, not the user's
    (``counts``: ratings per movie): warm stars (notebook 03), where a movie no one rated in
    train can lean on the bias model."""

    def pair_share(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return self.share(movies)

    def fold_in(self, ratings: pd.DataFrame) -> MovieBlend:
        """Both folded in; each movie keeps the share of its train ratings."""
        model, fallback = self.model.fold_in(ratings), self.fallback.fold_in(ratings)
        return replace(self, model=model, fallback=fallback)


SHRINKAGES = (0.0, 1.0, 2.0, 4.0, 8.0)  # pseudo-ratings of "the average user" (notebook 07)
SHARES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # the model's shares tried
MOVIE_HALVES = 20  # random halves of the held-out new movies that measure their noise

Fallback = Callable[[pd.DataFrame, MovieData], Recommender]
Guard = Callable[..., Recommender]  # blends a trained model with its fallback: WarmGuard, ColdGuard


def bias_model(train: pd.DataFrame, source: MovieData) -> baselines.BiasBaseline:
    """Stars: the bias model (a new user's bias folded in from their ratings)."""
    return baselines.BiasBaseline().fit(train)


def popularity(train: pd.DataFrame, source: MovieData) -> baselines.MostPopular:
    """Lists, warm users' and new users': the most-rated movies."""
    return baselines.MostPopular().fit(train)


def genre_profile_with_recency(train: pd.DataFrame, source: MovieData) -> baselines.GenreProfile:
    """New movies' lists: the user's genre profile, minus 0.01 per year from their median year."""
    return baselines.GenreProfile(source.movies, year_weight=0.01).fit(train)


class Choice(NamedTuple):
    """Held-out values of every share (rows) in each bucket (columns), higher is better, and
    the share kept in each bucket."""

    values: pd.DataFrame
    shares: dict[int, float]


def choose_shares(
    blend: Blend,
    splits: dict[int, list],
    ask: Callable[..., protocol.Asked],
    stars: bool,
    errors: float = 1.0,
    spread: Callable[..., dict[float, float]] | None = None,
) -> Choice:
    """Each share of :data:`SHARES` of ``blend`` asked by a protocol (``ask``) on each bucket's
    held-out ``splits``; per bucket the mean of the users' numbers (:func:`users_numbers`), and the
    share kept: the lowest whose mean is within ``errors`` standard errors of the best's (the
    differences paired by user, each user's numbers averaged over the splits first: a new
    user's answers at K = 1, 2 and 4 are alike, so they count as one draw). With one error, the
    model earns its share by more than the noise of the few users a cold start holds out; where
    it does not, the fallback answers alone. With none, the best share is kept.
    ``spread(asked, best_share, stars)``: per share, a noise the users do not show, combined with
    theirs (new movies: :func:`movie_spread`). A bucket with no user to judge by is left out."""
    values, shares = {}, {}
    for low, parts in splits.items():
        asked = [ask(blend, part) for part in parts]  # folded in once, not per share
        rankings = [None if stars else Ranking(a.known, a.test, a.catalogue) for a in asked]
        users = users_numbers(asked, rankings)
        if not len(users[SHARES[0]]):  # no held-out user to judge by (lists: none relevant)
            continue
        values[low] = {share: float(numbers.mean()) for share, numbers in users.items()}
        best_share = max(values[low], key=values[low].get)
        noise = spread(asked, best_share, stars) if spread is not None else {}
        shares[low] = next(
            share
            for share, numbers in users.items()
            if within_noise(numbers, users[best_share], errors, noise.get(share, 0.0))
        )
    table = pd.DataFrame(values).rename_axis(index="model's share", columns="bucket")
    return Choice(table, shares)


def users_numbers(
    asked: list[protocol.Asked], rankings: list[Ranking | None]
) -> dict[float, pd.Series]:
    """Each held-out user's number at each of the model's shares in :data:`SHARES`, higher is
    better, averaged over the splits ``asked`` (one draw per user): NDCG@10 of their list on each
    split's ranking, or without one (stars) minus the mean squared error of their stars."""
    numbers = {share: [] for share in SHARES}
    for a, ranking in zip(asked, rankings, strict=True):
        if ranking is not None:
            for share, shown in shown_at_each_share(a.model, ranking).items():
                numbers[share].append(ranking.judged(shown).set_index("userId")["NDCG@10"])
            continue
        users, movies = a.test["userId"].to_numpy(), a.test["movieId"].to_numpy()
        for share in SHARES:
            stars = replace(a.model, shares={0: share}).predict(users, movies)
            error = (clip(stars) - a.test["rating"].to_numpy()) ** 2
            numbers[share].append(-pd.Series(error).groupby(users).mean())
    return {share: pd.concat(n).groupby(level=0).mean() for share, n in numbers.items()}


def shown_at_each_share(blend: Blend, ranking: Ranking) -> dict[float, np.ndarray]:
    """Per share ``s`` of :data:`SHARES`, ``ranking.shown(replace(blend, shares={0: s}).score)``
    for every ranked user; a batch's two standardised grids are made once for all the shares."""
    shown = {share: [] for share in SHARES}
    for start in range(0, len(ranking.users), BATCH):
        users = ranking.users[start : start + BATCH]
        grids, rated = blend.standardised(users, ranking.rated.catalogue), ranking.rated.mask(users)
        for share in SHARES:
            scores = mix(share, *grids)
            scores[rated] = -np.inf  # never a movie the user rated (as metrics.best_unrated)
            shown[share].append(top_k(scores, K))
    empty = np.zeros((0, K), dtype=np.int64)  # no user to rank (as Ranking.shown)
    return {share: np.concatenate(parts) if parts else empty for share, parts in shown.items()}


def movie_spread(
    asked: list[protocol.Asked], best: float, stars: bool, halves: int = MOVIE_HALVES
) -> dict[float, float]:
    """New movies: which movies were held out is a draw as well, and a few popular ones sway
    every user's list at once, a noise the users' standard error does not see. Per share, the
    spread (standard deviation) of its mean less the ``best`` share's over ``halves`` random
    halves of the movies asked: about the standard error of that difference on all of them."""
    draw, differences = np.random.default_rng(0), []
    for _ in range(halves):
        halved = []
        for a in asked:
            kept = np.sort(draw.choice(a.catalogue, len(a.catalogue) // 2, replace=False))
            halved.append(a._replace(test=a.test[a.test["movieId"].isin(kept)], catalogue=kept))
        rankings = [None if stars else Ranking(a.known, a.test, a.catalogue) for a in halved]
        means = {share: n.mean() for share, n in users_numbers(halved, rankings).items()}
        differences.append({share: mean - means[best] for share, mean in means.items()})
    return pd.DataFrame(differences, columns=SHARES).std().fillna(0.0).to_dict()


def within_noise(
    numbers: pd.Series, best: pd.Series, errors: float = 1.0, spread: float = 0.0
) -> bool:
    """Is the mean of ``numbers`` within ``errors`` standard errors of ``best``'s (paired row by
    row, their standard error combined with a ``spread`` the rows do not show, as the root of
    the sum of squares)? With no error allowed: is it as good as the best?"""
    difference = numbers - best
    error = difference.std() / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
    return difference.mean() >= -errors * np.hypot(error, spread)


@dataclass(frozen=True)
class WarmGuard:
    """Warm models (notebooks 02-05, shown in 03): blended with ``rule``, one share per bucket of
    the movie's (stars: :class:`MovieBlend`) or user's train ratings, the best on the validation
    part for ``on_fit``, the model served on the fit part (``errors=0``: the lowest share as good
    as the best); a bucket with no validation user to judge by gets the rule alone."""

    rule: Fallback

    def __call__(self, served, on_fit, cold, parts, source, seed, *, stars: bool) -> Blend:
        if cold is not None:
            raise ValueError("A WarmGuard chooses on validation: give cold starts a ColdGuard.")
        train, fit_part, valid_part = parts
        column, kind = ("movieId", MovieBlend) if stars else ("userId", Blend)
        blend = kind(on_fit, self.rule(fit_part, source), {0: 1.0}, pd.Series(dtype=float), "")
        splits = protocol.by_bucket(fit_part, valid_part, column)
        choice = choose_shares(blend, splits, protocol.warm_asked, stars, errors=0.0)
        shares = {low: choice.shares.get(low, 0.0) for low in protocol.WARM_BUCKETS}
        counts, values = train[column].value_counts(), choice.values.rename(columns=str)
        return kind(served, self.rule(train, source), shares, counts, served.name, values)


@dataclass(frozen=True)
class ColdGuard:
    """Cold-start models (notebook 07), on the ``cold`` start that early stopping played inside
    the train part: new users' vectors shrunk first if ``shrinkages`` are tried (:func:`shrunk`),
    then blended with ``rule`` (none: the model alone), one share per bucket of onboarding
    ratings (:func:`protocol.held_out`) or one for new movies, the lowest within one standard
    error of the best (for new movies that error also counts :func:`movie_spread`)."""

    rule: Fallback | None
    shrinkages: tuple[float, ...] = ()  # tried for new users' vectors

    def __call__(self, served, on_fit, cold, parts, source, seed, *, stars: bool) -> Recommender:
        if cold is None:
            raise ValueError("A ColdGuard chooses on a cold start: pass cold=, or use a WarmGuard.")
        train, fit_part, _ = parts
        served, on_fit = shrunk(served, on_fit, train, seed + 1000, self.shrinkages)
        if self.rule is None:
            return served
        blend = Blend(on_fit, self.rule(fit_part, source), {0: 1.0}, pd.Series(dtype=float), "")
        splits = protocol.held_out(cold, train, seed + 1000)
        spread = movie_spread if cold == protocol.NEW_MOVIES else None
        choice = choose_shares(blend, splits, cold.asked, stars, spread=spread)
        shares = {low: choice.shares.get(low, 0.0) for low in splits}
        counts, values = train["userId"].value_counts(), choice.values.rename(columns=str)
        return Blend(served, self.rule(train, source), shares, counts, served.name, values)


def shrunk(
    served: GNNRecommender,
    on_fit: GNNRecommender,
    train: pd.DataFrame,
    seed: int,
    shrinkages: tuple[float, ...],
) -> tuple[GNNRecommender, GNNRecommender]:
    """``served`` and ``on_fit`` (the same GraphSAGE served on the fit part) with the shrinkage
    of new users' vectors (notebook 07) best for the held-out new users of ``train`` (drawn with
    ``seed``): their NDCG@10, or RMSE for a star model, mean over 1 and 5 onboarding ratings;
    ``served.shrinkages`` keeps each one's. None tried: both as they are."""
    if not shrinkages:
        return served, on_fit
    joining = [protocol.new_users_split(train, seed, k=k) for k in (1, 5)]
    stars, values = on_fit.lists is None, {}
    for shrinkage in shrinkages:
        scores = [
            protocol.new_users(replace(on_fit, shrinkage=shrinkage), part) for part in joining
        ]
        values[shrinkage] = float(np.mean([s["RMSE" if stars else "NDCG@10"] for s in scores]))
    best = (min if stars else max)(values, key=values.get)  # RMSE down, NDCG@10 up
    return replace(served, shrinkage=best, shrinkages=values), replace(on_fit, shrinkage=best)


def top_movies(
    model: Recommender, user: int, rated: Rated, movies: pd.DataFrame, k: int = 10
) -> pd.DataFrame:
    """The user's ``k`` best-scored unrated movies, with stars from ``predict`` (not ``score``); a
    ValueError, saying which users have some, for a user without ratings in ``rated``."""
    catalogue = movies.set_index("movieId").loc[rated.catalogue]
    best = best_unrated(model.score, rated, np.array([rated.require_user(user)]), k)[0]
    table = catalogue.iloc[best][["title", "genres"]].reset_index()
    stars = clip(model.predict(np.full(len(best), user), table["movieId"].to_numpy()))
    table = table.assign(**{"predicted stars": stars.round(2)}).rename_axis("rank")
    return table.rename(index=lambda i: i + 1)
