"""The protocol's metrics (``protocol.md``, notebook 02) for every model: RMSE, MAE, per-user
NDCG@10, Recall@10, coverage, with the top-K lists and the index of rated movies they rest on;
also by a movie's or user's count of train ratings (notebook 03)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import ndcg_score
from tqdm.auto import tqdm

from helpers.data import STARS
from helpers.graph import IdMap

RELEVANT = 4.0  # a test rating at or above this is a "relevant" movie
LIKED = 3.5  # a train rating at or above this is one a list model learns to find
K = 10
BATCH = 1_024  # users ranked at once: one grid of their scores, never one of every user
MAX_RANKED_USERS = 20_000  # beyond this many test users, a fixed random sample of them is ranked
MOVIE_BUCKETS = (0, 1, 5, 20)  # train ratings of a movie: 0, 1-4, 5-19, 20 or more
USER_BUCKETS = (1, 30, 100)  # train ratings of a user: < 30, 30-99, 100 or more


Score = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Recommender(Protocol):
    name: str

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...


def clip(stars: np.ndarray) -> np.ndarray:
    return np.clip(stars, *STARS)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` best scores per row, best first; ties go to the lower index,
    also at the k-th place, where ``argpartition`` alone keeps an arbitrary few of the tied."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    if np.isnan(kth).any():
        raise ValueError("The model scored NaN where a list needs numbers: check its score().")
    for row in np.flatnonzero((scores >= kth).sum(axis=1) > k):  # more tied at the k-th than fit
        best = np.flatnonzero(scores[row] > kth[row])
        part[row] = np.concatenate([best, np.flatnonzero(scores[row] == kth[row])[: k - len(best)]])
    part = np.sort(part, axis=1)  # so the stable sort below leaves tied columns in index order
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def best_unrated(score: Score, rated: Rated, users: np.ndarray, k: int) -> np.ndarray:
    """Catalogue positions of each user's ``k`` best-scored movies that it has not rated."""
    scores = np.asarray(score(users, rated.catalogue), dtype=np.float64)
    scores[rated.mask(users)] = -np.inf
    return top_k(scores, k)


@dataclass(frozen=True)
class Rated:
    """Each user's ratings as positions in a catalogue (CSR by user), looked up fast."""

    catalogue: np.ndarray  # sorted movie ids that lists are drawn from
    user_ids: np.ndarray  # sorted raw ids
    indptr: np.ndarray
    positions: np.ndarray  # catalogue position of each rated movie (-1: not in the catalogue)
    stars: np.ndarray

    @classmethod
    def of(cls, ratings: pd.DataFrame, catalogue: np.ndarray | None = None) -> Rated:
        """``catalogue`` (sorted ids): by default every movie with a rating in ``ratings``."""
        if catalogue is None:
            catalogue = np.sort(ratings["movieId"].unique())
        order = np.argsort(ratings["userId"].to_numpy(), kind="stable")
        user_ids, counts = np.unique(ratings["userId"].to_numpy()[order], return_counts=True)
        positions = IdMap(catalogue).index(ratings["movieId"].to_numpy()[order], strict=False)
        stars = ratings["rating"].to_numpy(np.float32)[order]
        return cls(catalogue, user_ids, np.concatenate([[0], np.cumsum(counts)]), positions, stars)

    def rows(self, users: np.ndarray) -> np.ndarray:
        """Row of each user id (-1 for a user without ratings)."""
        return IdMap(self.user_ids).index(users, strict=False)

    def require_user(self, user: int) -> int:
        """``user``, if it has ratings here; else a ValueError that names users who do (a user
        sample, ``MOVIELENS_USER_SAMPLE``, may not hold the id a notebook names)."""
        if self.rows(np.array([user]))[0] < 0:
            some = ", ".join(map(str, self.user_ids[:3]))
            raise ValueError(
                f"User {user} has no training ratings, so there is nothing to recommend from. "
                f"Pick one of the {len(self.user_ids):,} users who have some, such as {some}."
            )
        return user

    def of_user(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue positions and stars of one user's ratings (empty for an unknown user)."""
        row = self.rows(np.array([user]))[0]
        part = slice(self.indptr[row], self.indptr[row + 1]) if row >= 0 else slice(0)
        return self.positions[part], self.stars[part]

    def mask(self, users: np.ndarray) -> np.ndarray:
        """Boolean [len(users), len(catalogue)]: True where the user rated the movie."""
        mask = np.zeros((len(users), len(self.catalogue)), dtype=bool)
        for i, row in enumerate(self.rows(users)):
            if row >= 0:
                positions = self.positions[self.indptr[row] : self.indptr[row + 1]]
                mask[i, positions[positions >= 0]] = True
        return mask


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error in stars, predictions clipped to the star scale."""
    return float(np.sqrt(np.mean((clip(predicted) - actual) ** 2)))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error in stars, predictions clipped to the star scale."""
    return float(np.mean(np.abs(clip(predicted) - actual)))


def whole_list_ndcg(predicted: np.ndarray, actual: np.ndarray) -> float:
    """The student notebook's "NDCG": the test set as one list, no K (random scores get ~0.97)."""
    return float(ndcg_score(actual[None, :], predicted[None, :]))


class Ranking:
    """Per-user top-K quality on one (train, test) pair, set up once and applied to any model.

    Each test user with a test rating >= 4 ranks the ``catalogue`` (default: movies with a train
    rating) minus what it rated in ``train``; relevant = its test movies rated >= 4. Binary gains;
    Recall@K = hits / min(#relevant, K). Cold start passes the onboarding ratings as ``train``.
    """

    def __init__(
        self,
        train: pd.DataFrame,
        test: pd.DataFrame,
        catalogue: np.ndarray | None = None,
        max_users: int = MAX_RANKED_USERS,
    ):
        self.rated = Rated.of(train, catalogue)
        liked = test[test["rating"] >= RELEVANT]
        self.relevant = Rated.of(liked, self.rated.catalogue)  # liked test movies, by user
        users = self.relevant.user_ids
        if len(users) > max_users:  # the same users for every model: a fixed seed
            users = np.sort(np.random.default_rng(0).choice(users, max_users, replace=False))
        self.users = users
        self.n_relevant = np.diff(self.relevant.indptr)[self.relevant.rows(users)]

    def per_user(self, score: Score, k: int = K, progress: bool = False) -> pd.DataFrame:
        """NDCG@K and Recall@K of every ranked user, and the catalogue positions it was shown."""
        return self.judged(self.shown(score, self.users, k, progress), k)

    def shown(
        self, score: Score, users: np.ndarray, k: int = K, progress: bool = False
    ) -> np.ndarray:
        """Each of ``users``' ``k`` best unrated catalogue positions, scored BATCH at a time."""
        starts = tqdm(range(0, len(users), BATCH), desc="rank", disable=not progress)
        best = [best_unrated(score, self.rated, users[i : i + BATCH], k) for i in starts]
        return np.concatenate(best) if best else np.zeros((0, k), dtype=np.int64)

    def judged(self, best: np.ndarray, k: int = K) -> pd.DataFrame:
        """NDCG@K and Recall@K of every ranked user from the positions it was shown (``best``, a
        row per user of :attr:`users`): one ranking can be judged by several sets of relevant
        movies (:func:`buckets`)."""
        if not len(self.users):  # no test user with a relevant movie
            return pd.DataFrame(columns=["userId", f"NDCG@{k}", f"Recall@{k}", "shown"])
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        batches = [slice(start, start + BATCH) for start in range(0, len(self.users), BATCH)]
        relevant = self.relevant.mask  # [users, catalogue]: made per batch
        hits = np.concatenate(
            [np.take_along_axis(relevant(self.users[b]), best[b], axis=1) for b in batches]
        )
        n = np.minimum(self.n_relevant, k)
        ndcg = (hits * discount[: hits.shape[1]]).sum(1) / np.cumsum(discount)[n - 1]
        columns = {f"NDCG@{k}": ndcg, f"Recall@{k}": hits.sum(1) / n, "shown": list(best)}
        return pd.DataFrame({"userId": self.users, **columns})

    def __call__(self, score: Score, k: int = K, progress: bool = False) -> dict[str, float]:
        table = self.per_user(score, k, progress)
        shown = np.unique(np.concatenate(table["shown"].to_numpy())) if len(table) else []
        result = {column: float(table[column].mean()) for column in (f"NDCG@{k}", f"Recall@{k}")}
        return result | {"coverage": len(shown) / max(len(self.rated.catalogue), 1)}


def rating_metrics(model: Recommender, test: pd.DataFrame) -> dict[str, float]:
    """RMSE and MAE of the model's star predictions on every test rating."""
    predicted = model.predict(test["userId"].to_numpy(), test["movieId"].to_numpy())
    actual = test["rating"].to_numpy(np.float64)
    return {"RMSE": rmse(predicted, actual), "MAE": mae(predicted, actual)}


def evaluate(
    model: Recommender, train: pd.DataFrame, test: pd.DataFrame, ratings=True, ranking=True
) -> dict[str, float]:
    """The whole protocol for one model: rating accuracy and top-K quality."""
    result = rating_metrics(model, test) if ratings else {}
    return result | (Ranking(train, test)(model.score) if ranking else {})


def _bucket(train: pd.DataFrame, test: pd.DataFrame, column: str, edges: tuple) -> np.ndarray:
    """Each test rating's bucket by the train ratings of its ``column`` (movie or user); a count
    below the first edge (a user with no train rating) gets a bucket of its own."""
    counts = train[column].value_counts().reindex(test[column]).fillna(0).to_numpy()
    edges = (0, *edges) if edges[0] > 0 else edges
    pairs = zip(edges, edges[1:], strict=False)
    names = [f"{lo}-{hi - 1}" if hi - lo > 1 else f"{lo}" for lo, hi in pairs] + [f">= {edges[-1]}"]
    return np.array(names, dtype=object)[np.searchsorted(edges, counts, side="right") - 1]


def buckets(
    model: Recommender, train: pd.DataFrame, test: pd.DataFrame, ratings=True, ranking=True
) -> pd.DataFrame:
    """RMSE and NDCG@10 by how many train ratings the movie (and the user) has (notebook 03).

    A movie bucket's NDCG@10 counts only its movies as relevant (the whole catalogue is ranked);
    movies without train ratings are not in the catalogue, so their bucket has RMSE only.
    """
    labels = {
        "movie": _bucket(train, test, "movieId", MOVIE_BUCKETS),
        "user": _bucket(train, test, "userId", USER_BUCKETS),
    }
    actual = test["rating"].to_numpy(np.float64)
    if ratings:
        predicted = model.predict(test["userId"].to_numpy(), test["movieId"].to_numpy())
    if ranking:  # one ranking of every user any bucket ranks, judged per bucket
        whole = Ranking(train, test)
        names = set(labels["movie"]) - {"0"}  # no movie of bucket 0 is in the catalogue
        movie_buckets = {name: Ranking(train, test[labels["movie"] == name]) for name in names}
        users = np.unique(np.concatenate([whole.users, *(r.users for r in movie_buckets.values())]))
        best = whole.shown(model.score, users)  # every Ranking of ``train`` has one catalogue

        def judged(ranking: Ranking) -> pd.Series:
            shown = best[np.searchsorted(users, ranking.users)]
            return ranking.judged(shown).set_index("userId")["NDCG@10"]

        per_user = judged(whole)
    rows = []
    for who, label in labels.items():
        for name in pd.unique(np.sort(label)):
            part, ndcg = label == name, np.nan
            if ranking and who == "user":
                ndcg = float(per_user.reindex(test.loc[part, "userId"].unique()).mean())
            elif ranking and name != "0":
                ndcg = float(judged(movie_buckets[name]).mean())
            rmse_ = rmse(predicted[part], actual[part]) if ratings else np.nan
            bucket = f"{who}s with {name} train ratings"
            rows.append(
                {"bucket": bucket, "test ratings": int(part.sum()), "RMSE": rmse_, "NDCG@10": ndcg}
            )
    return pd.DataFrame(rows).set_index("bucket")


def changes(table: pd.DataFrame, metric: str, before: str, after: str) -> pd.Series:
    """Per bucket, in words: is ``after``'s number lower, higher or (to 3 decimals) the same?"""
    pair = table[[before, after]].dropna().round(3)
    old, new = pair[before], pair[after]
    word = np.where(new == old, "the same", np.where(new < old, "lower", "higher"))
    text = [f"{metric} {w}: {a:.3f} -> {b:.3f}" for w, a, b in zip(word, old, new, strict=True)]
    return pd.Series(text, index=pair.index, name=f"{after} vs {before}")
