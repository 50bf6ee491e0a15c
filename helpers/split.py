"""The protocol's splits (``protocol.md``): the random 80/20 split, validation carved from train,
a temporal split (notebook 05) and the cold-start splits, new users and new movies (notebook 07)."""

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

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
