"""The cold-start protocols of ``protocol.md`` (notebook 07) and the simple rules they anchor on:
new users join with their first ratings (read only through ``fold_in``: no refit); new movies,
with no training rating, are ranked among themselves from ``movies.csv`` (and the genome)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.baselines import Baseline
from helpers.metrics import Ranking, rating_metrics
from helpers.split import NewUsers, Split


def new_users(model, split: NewUsers, ratings: pd.DataFrame) -> dict[str, float]:
    """RMSE and top-10 quality for the new users, folded into ``model`` (trained on split.train)."""
    joined = model.fold_in(split.onboarding)
    catalogue = np.sort(ratings["movieId"].unique())
    scores = Ranking(split.onboarding, split.test, catalogue)(joined.score)
    return (rating_metrics(joined, split.test) if hasattr(joined, "predict") else {}) | scores


def new_movies(model, split: Split) -> dict[str, float]:
    """RMSE and top-10 quality on the new movies, ranked among themselves."""
    catalogue = np.sort(split.test["movieId"].unique())
    scores = Ranking(split.test.iloc[:0], split.test, catalogue)(model.score)
    return rating_metrics(model, split.test) | scores


class GenreProfile(Baseline):
    """A new movie scores the cosine of its genres with those the user liked, minus
    ``year_weight`` per year from the median year of the movies the user liked; its stars are
    the user's mean rating plus its genres' mean offset."""

    name = "genre profile"

    def __init__(self, movies: pd.DataFrame, year_weight: float = 0.0, liked: float = 4.0):
        self.catalogue = movies.set_index("movieId")
        self.year_weight, self.liked = year_weight, liked
        self.genres = self.catalogue["genres"].astype(str).str.get_dummies("|").astype(np.float64)

    def _years(self, movies: np.ndarray | pd.Series) -> np.ndarray:
        year = self.catalogue["year"].astype("Float64").reindex(movies)
        return year.to_numpy(np.float64, na_value=np.nan)

    def fit(self, train: pd.DataFrame) -> GenreProfile:
        self.mean = float(train["rating"].mean())
        self.user_mean = train.groupby("userId")["rating"].mean()
        hot = self.genres.loc[train["movieId"]].to_numpy()
        offset = (train["rating"].to_numpy() - self.mean)[:, None] * hot
        self.genre_offset = pd.Series(
            offset.sum(0) / np.maximum(hot.sum(0), 1), self.genres.columns
        )
        liked = train[train["rating"] >= self.liked]
        users = liked["userId"].to_numpy()
        self.profile = self.genres.loc[liked["movieId"]].groupby(users).sum()
        self.user_year = pd.Series(self._years(liked["movieId"])).groupby(users).median()
        return self

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        hot = self.genres.reindex(movies).fillna(0).to_numpy()
        offset = (hot @ self.genre_offset.to_numpy()) / np.maximum(hot.sum(1), 1)
        return self.user_mean.reindex(users).fillna(self.mean).to_numpy() + offset

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        profile = self.profile.reindex(users).fillna(0).to_numpy()
        hot = self.genres.reindex(movies).fillna(0).to_numpy()
        norms = np.linalg.norm(profile, axis=1)[:, None] * np.linalg.norm(hot, axis=1)[None, :]
        cosine = (profile @ hot.T) / np.maximum(norms, 1e-12)
        user_year = self.user_year.reindex(users).to_numpy()[:, None]
        distance = np.abs(self._years(movies)[None, :] - user_year)
        return cosine - self.year_weight * np.nan_to_num(distance, nan=0.0)
