"""The protocol split: one random 80/20 split of the ratings, validation carved from train."""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from sklearn.model_selection import train_test_split

SEED = 42


class Split(NamedTuple):
    """Train and test ratings of one protocol split (test is touched once, for final numbers)."""

    train: pd.DataFrame
    test: pd.DataFrame


def protocol_split(ratings: pd.DataFrame, seed: int = SEED, test_size: float = 0.2) -> Split:
    """``train_test_split`` on the rows in file order, exactly as ``protocol.md`` says."""
    train, test = train_test_split(ratings, test_size=test_size, random_state=seed)
    return Split(train, test)


def validation_split(train: pd.DataFrame, seed: int = SEED, size: float = 0.1) -> Split:
    """Carve a validation part (early stopping, tuning) out of the train part only."""
    fit, valid = train_test_split(train, test_size=size, random_state=seed + 1000)
    return Split(fit, valid)


def temporal_split(ratings: pd.DataFrame, test_size: float = 0.2) -> Split:
    """The last 20 % of ratings in time are the test part: the future is never seen in training."""
    ordered = ratings.sort_values("timestamp", kind="stable")
    cut = int(round(len(ordered) * (1 - test_size)))
    return Split(ordered.iloc[:cut], ordered.iloc[cut:])
