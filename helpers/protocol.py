"""The evaluation protocol (``protocol.md``): the random 80/20 split, validation carved from
train (notebook 02), a temporal split (notebook 05), and the cold-start splits with their scores:
new users join with their first ratings, read only through ``fold_in`` (no refit); new movies,
with no training rating, are ranked among themselves (notebook 07). Last, the held-out parts a
guard chooses a blend's shares on, by bucket (``recommend.WarmGuard``, ``recommend.ColdGuard``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from helpers.metrics import Ranking, rating_metrics

SEED = 42
ONBOARDING = 5  # ratings a new user gives when joining (protocol.md: K = 5 unless stated)


class Split(NamedTuple):
    train: pd.DataFrame
    test: pd.DataFrame  # touched once, for the reported numbers


class NewUsers(NamedTuple):
    train: pd.DataFrame  # the other users' ratings
    onboarding: pd.DataFrame  # new users' first K ratings
    test: pd.DataFrame  # the rest of theirs


def protocol_split(ratings: pd.DataFrame, seed: int = SEED) -> Split:
    """``train_test_split`` on the rows in file order, exactly as ``protocol.md`` says."""
    return Split(*train_test_split(ratings, test_size=0.2, random_state=seed))


def validation_split(train: pd.DataFrame, seed: int = SEED, size: float = 0.1) -> Split:
    """Carve a validation part (early stopping, tuning) out of the train part only."""
    return Split(*train_test_split(train, test_size=size, random_state=seed + 1000))


def temporal_split(ratings: pd.DataFrame, test_size: float = 0.2) -> Split:
    """The last 20 % of ratings in time are the test part: the future is never trained on."""
    ordered = ratings.sort_values("timestamp", kind="stable")
    cut = int(round(len(ordered) * (1 - test_size)))
    return Split(ordered.iloc[:cut], ordered.iloc[cut:])


def first_ratings(ratings: pd.DataFrame, k: int) -> pd.Series:
    """True for each user's first ``k`` ratings by (timestamp, movieId), a stable sort."""
    ordered = ratings.sort_values(["timestamp", "movieId"], kind="stable")
    return (ordered.groupby("userId").cumcount() < k).reindex(ratings.index)


def _drawn(ids: pd.Series, seed: int) -> pd.Series:
    """True for the rows of 20 % of the ids, drawn from the sorted unique ids."""
    unique = np.sort(ids.unique())
    new = np.random.default_rng(seed).choice(unique, size=round(0.2 * len(unique)), replace=False)
    return ids.isin(new)


def new_users_split(ratings: pd.DataFrame, seed: int = SEED, k: int = ONBOARDING) -> NewUsers:
    """20 % of the users join after training with ``k`` ratings."""
    joining = _drawn(ratings["userId"], seed)
    theirs = ratings[joining]
    onboarding = first_ratings(theirs, k)
    return NewUsers(ratings[~joining], theirs[onboarding], theirs[~onboarding])


def new_movies_split(ratings: pd.DataFrame, seed: int = SEED) -> Split:
    """20 % of the movies (drawn with seed + 1) have no rating in train."""
    is_new = _drawn(ratings["movieId"], seed + 1)
    return Split(ratings[~is_new], ratings[is_new])


class Asked(NamedTuple):
    """What a protocol asks of a model: the model as it answers (new users folded in), the
    ratings it may read then (never listed back), the test part, the movies ranked."""

    model: object
    known: pd.DataFrame
    test: pd.DataFrame
    catalogue: np.ndarray


def new_users_asked(model, split: NewUsers) -> Asked:
    """New users, folded into ``model`` (trained on split.train), rank every movie of the three
    parts."""
    catalogue = np.unique(np.concatenate([part["movieId"].to_numpy() for part in split]))
    return Asked(model.fold_in(split.onboarding), split.onboarding, split.test, catalogue)


def warm_asked(model, split: Split) -> Asked:
    """The warm protocol: the test users rank every movie with a train rating."""
    return Asked(model, split.train, split.test, np.sort(split.train["movieId"].unique()))


def new_movies_asked(model, split: Split) -> Asked:
    """The new movies are ranked among themselves."""
    catalogue = np.sort(split.test["movieId"].unique())
    return Asked(model, split.test.iloc[:0], split.test, catalogue)


def scored(asked: Asked) -> dict[str, float]:
    """RMSE (for a model with stars) and top-10 quality of what a protocol asked."""
    scores = Ranking(asked.known, asked.test, asked.catalogue)(asked.model.score)
    return (
        rating_metrics(asked.model, asked.test) if hasattr(asked.model, "predict") else {}
    ) | scores


def new_users(model, split: NewUsers) -> dict[str, float]:
    """RMSE and top-10 quality for the new users."""
    return scored(new_users_asked(model, split))


def new_movies(model, split: Split) -> dict[str, float]:
    """RMSE and top-10 quality on the new movies, ranked among themselves."""
    return scored(new_movies_asked(model, split))


class ColdStart(NamedTuple):
    """A cold-start protocol: how its split is drawn, how a model is scored on it, and what it
    asks of the model (:class:`Asked`)."""

    split: Callable[..., Split | NewUsers]
    score: Callable[..., dict[str, float]]
    asked: Callable[..., Asked]


NEW_USERS = ColdStart(new_users_split, new_users, new_users_asked)
NEW_MOVIES = ColdStart(new_movies_split, new_movies, new_movies_asked)

# The buckets a guard chooses a share in. New users: each bucket of onboarding ratings (its
# lowest count) and the counts it is tried at (ColdGuard, notebook 07).
ONBOARDING_TRIED = {1: (1, 2, 4), 5: (5, 10, 20)}
# Warm: each bucket of a movie's (stars) or user's (lists) train ratings, by its lowest count
# (WarmGuard: every warm GraphSAGE of notebooks 02-05, shown in 03).
WARM_BUCKETS = (0, 1, 5)


def held_out(cold: ColdStart, train: pd.DataFrame, seed: int) -> dict[int, list]:
    """The cold-start splits of ``train`` to choose on, by bucket: new users drawn as in
    training's early stopping (``seed``) at each count of :data:`ONBOARDING_TRIED`; new movies
    are one bucket (no train rating)."""
    if cold == NEW_USERS:
        return {
            low: [new_users_split(train, seed, k) for k in tried]
            for low, tried in ONBOARDING_TRIED.items()
        }
    return {0: [cold.split(train, seed)]}


def by_bucket(fit_part: pd.DataFrame, valid_part: pd.DataFrame, column: str) -> dict[int, list]:
    """The validation part by bucket of :data:`WARM_BUCKETS`: how many fit-part ratings each
    rating's ``column`` (movie or user) has. A bucket with no validation rating is left out."""
    n = fit_part[column].value_counts().reindex(valid_part[column]).fillna(0).to_numpy()
    bucket = np.searchsorted(WARM_BUCKETS, n, side="right") - 1
    return {
        low: [Split(fit_part, valid_part[bucket == i])]
        for i, low in enumerate(WARM_BUCKETS)
        if np.any(bucket == i)
    }
