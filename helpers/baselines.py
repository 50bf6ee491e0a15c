"""The classic recommenders every GNN is judged against (notebook 02; ``fold_in``: notebook 07).

Global mean, user + movie bias, most popular, EASE and SVD / SVD++ (Surprise's update rules and
defaults, in numba), all behind ``fit(train)``, ``predict``, ``score`` and ``fold_in(ratings)``.
"""

from __future__ import annotations

import copy

import numba
import numpy as np
import pandas as pd
import torch

from helpers.graph import IdMap, LikedRows


def _known(index: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Rows of ``table`` at ``index``, 0 where the index is -1 (not seen in train)."""
    known = (index >= 0).reshape(-1, *(1,) * (table.ndim - 1))
    return np.where(known, table[np.maximum(index, 0)], 0.0)


class Baseline:
    """Fits on train ratings; answers any (user, movie), falling back to biases or the mean."""

    name = "baseline"

    def fit(self, train: pd.DataFrame) -> Baseline:
        self.users, self.movies = IdMap.from_ids(train["userId"]), IdMap.from_ids(train["movieId"])
        self.mean = float(train["rating"].mean())
        users, movies = self.users.index(train["userId"]), self.movies.index(train["movieId"])
        self._fit(users, movies, train["rating"].to_numpy(np.float64))
        return self

    def _fit(self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
        pass

    def _index(self, users: np.ndarray, movies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.users.index(users, strict=False), self.movies.index(movies, strict=False)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return np.full(len(users), self.mean)

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Scores [len(users), len(movies)]: by default the predicted stars of every pair."""
        grid = self.predict(np.repeat(users, len(movies)), np.tile(movies, len(users)))
        return grid.reshape(len(users), len(movies))

    def fold_in(self, ratings: pd.DataFrame) -> Baseline:
        """The model for users who joined after training (their ``ratings``), unchanged here."""
        return self


class GlobalMean(Baseline):
    """Predicts the mean train rating for everyone: the floor any model must beat."""

    name = "global mean"

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return np.zeros((len(users), len(movies)))


def shrunk_mean(values: np.ndarray, groups: np.ndarray, n: int, reg: float) -> np.ndarray:
    """Per-group mean of ``values`` with ``reg`` pseudo-values of 0 added (shrinkage)."""
    return np.bincount(groups, values, minlength=n) / (reg + np.bincount(groups, minlength=n))


class BiasBaseline(Baseline):
    """rating ~ mean + b_user + b_movie, shrunk toward 0, fitted by alternating least squares."""

    name = "user + item bias"

    def __init__(self, reg_user: float = 15.0, reg_movie: float = 10.0, epochs: int = 10):
        self.reg_user, self.reg_movie, self.epochs = reg_user, reg_movie, epochs

    def _fit(self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
        self.user_bias, residual = np.zeros(len(self.users)), ratings - self.mean
        for _ in range(self.epochs):
            off = residual - self.user_bias[users]
            self.movie_bias = shrunk_mean(off, movies, len(self.movies), self.reg_movie)
            off = residual - self.movie_bias[movies]
            self.user_bias = shrunk_mean(off, users, len(self.users), self.reg_user)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._index(users, movies)
        return self.mean + _known(u, self.user_bias) + _known(m, self.movie_bias)

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._index(users, movies)
        return self.mean + _known(u, self.user_bias)[:, None] + _known(m, self.movie_bias)[None]

    def fold_in(self, ratings: pd.DataFrame) -> BiasBaseline:
        """New users' biases from their ratings, shrunk as in training; movie biases kept."""
        joined, new_users = copy.copy(self), IdMap.from_ids(ratings["userId"])
        m = self.movies.index(ratings["movieId"], strict=False)
        off = ratings["rating"].to_numpy(np.float64) - self.mean - _known(m, self.movie_bias)
        biases = shrunk_mean(off, new_users.index(ratings["userId"]), len(new_users), self.reg_user)
        ids = np.concatenate([self.users.ids, new_users.ids])
        order = np.argsort(ids, kind="stable")
        joined.users = IdMap(ids[order])
        joined.user_bias = np.concatenate([self.user_bias, biases])[order]
        return joined


class MostPopular(Baseline):
    """Ranks movies by how many train ratings they have; the same list for everyone."""

    name = "most popular"

    def _fit(self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
        self.counts = np.bincount(movies, minlength=len(self.movies)).astype(np.float64)

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        popularity = _known(self.movies.index(movies, strict=False), self.counts)
        return np.broadcast_to(popularity, (len(users), len(movies))).copy()


class ItemItem:
    """Scores a user's liked ``rows`` (raw ids in) times movies x movies ``weights``."""

    missing = -np.inf  # the score of a movie left out of the rows' columns

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        column = self.rows.columns.index(movies, strict=False)
        modelled = np.asarray(self.rows.of(users) @ self.weights)
        return np.where(column >= 0, modelled[:, np.maximum(column, 0)], self.missing)

    def fold_in(self, ratings: pd.DataFrame) -> ItemItem:
        """New users' rows from their liked ratings, with no refit."""
        joined = copy.copy(self)
        joined.rows = self.rows.with_users(ratings[ratings["rating"] >= self.min_rating])
        return joined


class EASE(ItemItem, Baseline):
    """Embarrassingly Shallow Autoencoder (Steck, 2019): closed-form item-item weights over the
    ``max_items`` most-rated movies (as the paper on ML-20M), from ratings >= ``min_rating``."""

    name = "EASE"

    def __init__(self, reg: float = 200.0, max_items: int = 20_000, min_rating: float = 0.0):
        self.reg, self.max_items, self.min_rating = reg, max_items, min_rating

    def fit(self, train: pd.DataFrame) -> EASE:
        self.mean = float(train["rating"].mean())
        self.rows = LikedRows(train[train["rating"] >= self.min_rating], self.max_items)
        gram = torch.from_numpy((self.rows.matrix.T @ self.rows.matrix).toarray()).double()
        gram.diagonal().add_(self.reg)
        inverse = torch.cholesky_inverse(torch.linalg.cholesky(gram))  # 5x faster than inv()
        self.weights = (inverse / -inverse.diagonal()).fill_diagonal_(0.0).float().numpy()
        return self


@numba.njit(cache=True)
def _svd_epochs(users, movies, ratings, mean, bu, bi, p, q, epochs, lr, reg, seed):
    np.random.seed(seed)  # explicit loops over factors: no temporary arrays per rating
    for _ in range(epochs):
        for j in np.random.permutation(len(ratings)):
            u, i = users[j], movies[j]
            dot = 0.0
            for f in range(p.shape[1]):
                dot += p[u, f] * q[i, f]
            error = ratings[j] - (mean + bu[u] + bi[i] + dot)
            bu[u] += lr * (error - reg * bu[u])
            bi[i] += lr * (error - reg * bi[i])
            for f in range(p.shape[1]):
                puf, qif = p[u, f], q[i, f]
                p[u, f] += lr * (error * qif - reg * puf)
                q[i, f] += lr * (error * puf - reg * qif)


@numba.njit(cache=True)
def _svdpp_epochs(indptr, movies, ratings, mean, bu, bi, p, q, y, epochs, lr, reg, seed):
    np.random.seed(seed)
    k = p.shape[1]
    for _ in range(epochs):
        for u in np.random.permutation(len(indptr) - 1):
            start, stop = indptr[u], indptr[u + 1]
            if stop == start:
                continue
            norm = 1.0 / np.sqrt(stop - start)
            implicit = norm * y[movies[start:stop]].sum(axis=0)
            y_step = np.zeros(k)
            for j in np.random.permutation(np.arange(start, stop)):
                i = movies[j]
                dot = 0.0
                for f in range(k):
                    dot += q[i, f] * (p[u, f] + implicit[f])
                error = ratings[j] - (mean + bu[u] + bi[i] + dot)
                bu[u] += lr * (error - reg * bu[u])
                bi[i] += lr * (error - reg * bi[i])
                for f in range(k):
                    user_f, qif = p[u, f] + implicit[f], q[i, f]
                    p[u, f] += lr * (error * qif - reg * p[u, f])
                    q[i, f] += lr * (error * user_f - reg * qif)
                    y_step[f] += error * norm * qif
            for j in range(start, stop):  # implicit factors move once per user visit
                for f in range(k):
                    y[movies[j], f] += lr * (y_step[f] / (stop - start) - reg * y[movies[j], f])


class SVD(Baseline):
    """Biased matrix factorisation trained by SGD, with Surprise's defaults (Funk, Koren)."""

    name = "SVD"

    def __init__(self, factors=100, epochs=20, lr=0.005, reg=0.02, init_std=0.1, seed=42):
        self.factors, self.epochs, self.lr, self.reg = factors, epochs, lr, reg
        self.init_std, self.seed = init_std, seed

    def _init(self) -> tuple[np.random.Generator, tuple]:
        """Zero biases and normal factors; the generator (SVD++ draws on) and SGD's settings."""
        rng = np.random.default_rng(self.seed)
        self.user_bias, self.movie_bias = np.zeros(len(self.users)), np.zeros(len(self.movies))
        self.user_factors = rng.normal(0, self.init_std, (len(self.users), self.factors))
        self.movie_factors = rng.normal(0, self.init_std, (len(self.movies), self.factors))
        return rng, (self.epochs, self.lr, self.reg, self.seed)

    def _fit(self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
        settings = self._init()[1]
        trained = (self.user_bias, self.movie_bias, self.user_factors, self.movie_factors)
        _svd_epochs(users, movies, ratings, self.mean, *trained, *settings)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._index(users, movies)
        fit = np.einsum("ij,ij->i", _known(u, self.user_factors), _known(m, self.movie_factors))
        return self.mean + _known(u, self.user_bias) + _known(m, self.movie_bias) + fit

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u, m = self._index(users, movies)
        biases = _known(u, self.user_bias)[:, None] + _known(m, self.movie_bias)[None, :]
        return self.mean + biases + _known(u, self.user_factors) @ _known(m, self.movie_factors).T


class SVDpp(SVD):
    """SVD++: SVD plus an implicit term from *which* movies a user rated (Koren, 2008).
    Its implicit factors move once per user visit, not per rating: ~50 times faster, 0.002 RMSE
    worse on ml-latest-small (seed 42)."""

    name = "SVD++"

    def __init__(self, factors=20, epochs=20, lr=0.007, reg=0.02, init_std=0.1, seed=42):
        super().__init__(factors, epochs, lr, reg, init_std, seed)

    def _fit(self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
        rng, settings = self._init()
        implicit = rng.normal(0, self.init_std, (len(self.movies), self.factors))
        order = np.argsort(users, kind="stable")
        indptr = np.searchsorted(users[order], np.arange(len(self.users) + 1))
        trained = (self.user_bias, self.movie_bias, self.user_factors, self.movie_factors, implicit)
        _svdpp_epochs(indptr, movies[order], ratings[order], self.mean, *trained, *settings)
        counts = np.maximum(np.diff(indptr), 1)[:, None]
        summed = np.zeros_like(self.user_factors)
        np.add.at(summed, users[order], implicit[movies[order]])
        self.user_factors = self.user_factors + summed / np.sqrt(counts)
