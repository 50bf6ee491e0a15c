"""The protocol's metrics: RMSE/MAE in stars and per-user NDCG@10, Recall@10, coverage.

Every model in the kit (baselines and GNNs) is scored by :func:`evaluate`, one code path, so all
numbers are comparable with each other and with ``protocol.md``'s reference numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import ndcg_score
from tqdm.auto import tqdm

RELEVANT = 4.0  # a test rating at or above this is a "relevant" movie
K = 10


class Recommender(Protocol):
    """What :func:`evaluate` needs from a model: stars for pairs, scores for a catalogue."""

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray: ...


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error in stars, predictions clipped to the 0.5-5 scale."""
    error = np.clip(predicted, 0.5, 5.0) - actual
    return float(np.sqrt(np.mean(error**2)))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error in stars, predictions clipped to the 0.5-5 scale."""
    return float(np.mean(np.abs(np.clip(predicted, 0.5, 5.0) - actual)))


MAX_RANKED_USERS = 20_000  # test users the ranking metrics average over, at most


def top_k(scores: np.ndarray, k: int = K) -> np.ndarray:
    """Column indices of the ``k`` best scores per row, best first; ties go to the lower index."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    part.sort(axis=1)  # so that equal scores keep index order after the stable sort below
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Per-user NDCG with binary gains; ``hits[u, r]`` says whether rank r+1 is relevant."""
    k = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discount).sum(axis=1)
    ideal = np.cumsum(discount)[np.minimum(n_relevant, k) - 1]
    return dcg / ideal


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Per-user hits / min(#relevant, k)."""
    return hits.sum(axis=1) / np.minimum(n_relevant, hits.shape[1])


def whole_list_ndcg(predicted: np.ndarray, actual: np.ndarray) -> float:
    """The student notebook's "NDCG": the whole test set as one ranked list, no K, no users.

    Kept only to show why it misleads: random scores get ~0.97 too.
    """
    return float(ndcg_score(actual[None, :], predicted[None, :]))


def catalogue(train: pd.DataFrame) -> np.ndarray:
    """The movies a top-K list may hold: every movie with at least one train rating."""
    return np.sort(train["movieId"].unique())


def relevant_sets(test: pd.DataFrame) -> pd.Series:
    """userId -> array of the user's test movies rated >= 4 (users without any are left out)."""
    liked = test[test["rating"] >= RELEVANT]
    return liked.groupby("userId")["movieId"].agg(lambda s: s.to_numpy())


class SeenIndex:
    """Each user's train movies as catalogue positions, sorted by user once for fast lookups.

    ``mask(users)`` is what a ``train["userId"].isin(users)`` scan per batch would give, without
    scanning all train ratings per batch (that scan dominated evaluation at 25M ratings).
    """

    def __init__(self, train: pd.DataFrame, movies: np.ndarray):
        order = np.argsort(train["userId"].to_numpy(), kind="stable")
        users = train["userId"].to_numpy()[order]
        rated = train["movieId"].to_numpy()[order]
        position = np.searchsorted(movies, rated).clip(max=max(len(movies) - 1, 0))
        known = movies[position] == rated if len(movies) else np.zeros(len(rated), dtype=bool)
        self.users, self.positions, self.n_movies = users[known], position[known], len(movies)

    def mask(self, users: np.ndarray) -> np.ndarray:
        """Boolean [len(users), n_movies]: True where the user rated the movie in train."""
        start = np.searchsorted(self.users, users, "left")
        counts = np.searchsorted(self.users, users, "right") - start
        rows = np.repeat(np.arange(len(users)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        mask = np.zeros((len(users), self.n_movies), dtype=bool)
        mask[rows, self.positions[np.repeat(start, counts) + offsets]] = True
        return mask


def seen_mask(train: pd.DataFrame, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """Boolean [len(users), len(movies)] (``movies`` sorted): True where the user rated it."""
    return SeenIndex(train, np.asarray(movies)).mask(np.asarray(users))


def ranking_metrics(
    score: Callable[[np.ndarray, np.ndarray], np.ndarray],
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = K,
    batch_size: int = 1024,
    progress: bool = False,
    max_users: int | None = MAX_RANKED_USERS,
) -> dict[str, float]:
    """Per-user NDCG@k, Recall@k (means over users) and catalogue coverage of all top-k lists.

    With more than ``max_users`` test users (MovieLens 25M has ~160,000) the means are taken over
    ``max_users`` of them drawn at random (seeded, the same for every model): an unbiased estimate
    of the all-user mean at a fraction of the cost. ml-latest-small's 610 users are all used.
    """
    movies = catalogue(train)
    relevant = relevant_sets(test)
    users = relevant.index.to_numpy()
    if max_users is not None and len(users) > max_users:
        users = np.sort(np.random.default_rng(0).choice(users, max_users, replace=False))
    ndcg, recall, shown = [], [], np.zeros(len(movies), dtype=bool)
    seen = SeenIndex(train, movies)
    batches = range(0, len(users), batch_size)
    for start in tqdm(batches, desc="rank", disable=not progress):
        chunk = users[start : start + batch_size]
        scores = np.asarray(score(chunk, movies), dtype=np.float64)
        scores[seen.mask(chunk)] = -np.inf
        best = top_k(scores, k)
        shown[best.ravel()] = True
        hits = np.zeros(best.shape, dtype=bool)
        for row, user in enumerate(chunk):
            hits[row] = np.isin(movies[best[row]], relevant[user])
        n_relevant = relevant.loc[chunk].map(len).to_numpy()
        ndcg.append(ndcg_at_k(hits, n_relevant))
        recall.append(recall_at_k(hits, n_relevant))
    return {
        f"NDCG@{k}": float(np.concatenate(ndcg).mean()),
        f"Recall@{k}": float(np.concatenate(recall).mean()),
        "coverage": float(shown.mean()),
    }


def rating_metrics(model: Recommender, test: pd.DataFrame) -> dict[str, float]:
    """RMSE and MAE of the model's star predictions on every test rating."""
    predicted = model.predict(test["userId"].to_numpy(), test["movieId"].to_numpy())
    actual = test["rating"].to_numpy(dtype=np.float64)
    return {"RMSE": rmse(predicted, actual), "MAE": mae(predicted, actual)}


def evaluate(
    model: Recommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    ratings: bool = True,
    ranking: bool = True,
) -> dict[str, float]:
    """The whole protocol for one model: rating accuracy and top-K quality."""
    result: dict[str, float] = {}
    if ratings:
        result |= rating_metrics(model, test)
    if ranking:
        result |= ranking_metrics(model.score, train, test)
    return result
