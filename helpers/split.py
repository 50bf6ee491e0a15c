"""The protocol's splits (``protocol.md``): the random 80/20 split, validation carved from train,
a temporal split (notebook 05) and the two cold-start splits, new users and new movies
(notebook 07)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

SEED = 42
ONBOARDING = 5  # ratings a new user gives when joining (protocol.md: K = 5 unless stated)


class Split(NamedTuple):
    """Train and test ratings of one split (test is touched once, for the reported numbers)."""

    train: pd.DataFrame
    test: pd.DataFrame


def protocol_split(ratings: pd.DataFrame, seed: int = SEED) -> Split:
    """``train_test_split`` on the rows in file order, exactly as ``protocol.md`` says."""
    train, test = train_test_split(ratings, test_size=0.2, random_state=seed)
    return Split(train, test)


def validation_split(train: pd.DataFrame, seed: int = SEED, size: float = 0.1) -> Split:
    """Carve a validation part (early stopping, tuning) out of the train part only."""
    fit, valid = train_test_split(train, test_size=size, random_state=seed + 1000)
    return Split(fit, valid)


def temporal_split(ratings: pd.DataFrame, test_size: float = 0.2) -> Split:
    """The last 20 % of ratings in time are the test part: the future is never trained on."""
    ordered = ratings.sort_values("timestamp", kind="stable")
    cut = int(round(len(ordered) * (1 - test_size)))
    return Split(ordered.iloc[:cut], ordered.iloc[cut:])


def first_ratings(ratings: pd.DataFrame, k: int) -> pd.Series:
    """True for each user's first ``k`` ratings by (timestamp, movieId), a stable sort."""
    ordered = ratings.sort_values(["timestamp", "movieId"], kind="stable")
    return (ordered.groupby("userId").cumcount() < k).reindex(ratings.index)


class NewUsers(NamedTuple):
    """Ratings of the other users (train), new users' first K ratings, and the rest (test)."""

    train: pd.DataFrame
    onboarding: pd.DataFrame
    test: pd.DataFrame


def new_users_split(ratings: pd.DataFrame, seed: int = SEED, k: int = ONBOARDING) -> NewUsers:
    """20 % of the users (drawn from the sorted ids) join after training with ``k`` ratings."""
    ids = np.sort(ratings["userId"].unique())
    new = np.random.default_rng(seed).choice(ids, size=round(0.2 * len(ids)), replace=False)
    joining = ratings["userId"].isin(new)
    theirs = ratings[joining]
    onboarding = first_ratings(theirs, k)
    return NewUsers(ratings[~joining], theirs[onboarding], theirs[~onboarding])


def new_movies_split(ratings: pd.DataFrame, seed: int = SEED) -> Split:
    """20 % of the movies (drawn from the sorted ids with seed + 1) have no rating in train."""
    ids = np.sort(ratings["movieId"].unique())
    new = np.random.default_rng(seed + 1).choice(ids, size=round(0.2 * len(ids)), replace=False)
    is_new = ratings["movieId"].isin(new)
    return Split(ratings[~is_new], ratings[is_new])
