"""The classic recommenders every GNN is judged against (notebook 02; ``fold_in``: notebook 07).

Global mean, user + movie bias, most popular, EASE and SVD / SVD++ (Surprise's update rules and
defaults, in numba), the graph filter (notebook 06) and, for new movies, the genre profile
(notebook 07), all behind ``fit(train)``, ``predict``, ``score`` and ``fold_in(ratings)``.
"""

from __future__ import annotations

import copy

import numba
import numpy as np
import pandas as pd
import torch
from scipy import sparse

from helpers.graph import IdMap
from helpers.metrics import LIKED, RELEVANT

FILTER_MOVIES = 20_000  # a dense movies x movies matrix, capped as EASE's (1.6 GB of float32)
USERS_PER_BLOCK = 4_096  # the sparse co-like counts of 4,096 users at a time stay small


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
    """Ranks movies by how many train ratings they have; the same list for everyone. The score
    is log(1 + count): the same order, and blended with a model's scores (notebook 07) the few
    most-rated movies do not swamp the rest."""

    name = "most popular"

    def _fit(self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
        self.counts = np.bincount(movies, minlength=len(self.movies)).astype(np.float64)

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        popularity = _known(self.movies.index(movies, strict=False), np.log1p(self.counts))
        return np.broadcast_to(popularity, (len(users), len(movies))).copy()


class LikedRows:
    """Each user's liked movies as a sparse row over the ``max_movies`` most-liked movies (item-
    item models need a dense movies x movies matrix); ``with_users`` keeps the fitted columns."""

    def __init__(self, liked: pd.DataFrame, max_movies: int | None = None, columns=None):
        if columns is None:
            ids, counts = np.unique(liked["movieId"].to_numpy(), return_counts=True)
            columns = IdMap.from_ids(ids[np.argsort(-counts, kind="stable")[:max_movies]])
        self.columns, self.liked = columns, liked[["userId", "movieId"]]
        self.users = IdMap.from_ids(liked["userId"])
        column = columns.index(liked["movieId"], strict=False)
        rows = self.users.index(liked["userId"])[column >= 0]
        self.matrix = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, column[column >= 0])),
            shape=(len(self.users), len(columns)),
        )

    def with_users(self, liked: pd.DataFrame) -> LikedRows:
        both = pd.concat([self.liked, liked[["userId", "movieId"]]])
        return LikedRows(both, columns=self.columns)

    def of(self, users: np.ndarray) -> sparse.csr_matrix:
        """The rows of ``users`` (raw ids; an unknown user gets an empty row)."""
        u = self.users.index(users, strict=False)
        return self.matrix[np.maximum(u, 0)].multiply((u >= 0)[:, None]).tocsr()


def dense_gram(rows: sparse.csr_matrix, dtype: type) -> np.ndarray:
    """``rows^T rows`` as a dense movies x movies matrix of ``dtype``, summed over
    :data:`USERS_PER_BLOCK` rows at a time, so the sparse product of every row at once (nearly
    dense at scale) is never held beside it. The graph filter sums its similarity with it
    (float32), EASE its co-rating counts (float64). At 3 million synthetic ratings, this and
    freeing its matrices early cut EASE's fit from 11.3 to 8.6 GiB at peak (README, "MovieLens
    25M")."""
    gram = np.zeros((rows.shape[1],) * 2, dtype=dtype)
    for start in range(0, rows.shape[0], USERS_PER_BLOCK):
        block = rows[start : start + USERS_PER_BLOCK]
        pairs = (block.T @ block).tocoo()  # one entry per movie pair: exact += below
        gram[pairs.row, pairs.col] += pairs.data
    return gram


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
        gram = torch.from_numpy(dense_gram(self.rows.matrix, np.float64))
        gram.diagonal().add_(self.reg)
        factor = torch.linalg.cholesky(gram)  # then its inverse: 5x faster than inv()
        del gram  # one movies x movies matrix fewer at a time (20,000 movies: 3.2 GB each)
        inverse = torch.cholesky_inverse(factor)
        del factor
        inverse.div_(-inverse.diagonal().clone())  # in place, as inverse / -diagonal
        self.weights = inverse.fill_diagonal_(0.0).float().numpy()
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


class GraphFilter(ItemItem):
    """Two-hop normalised co-like scores (raw ids in) over the ``max_movies`` most-liked movies."""

    name, missing = "graph filter", 0.0

    def __init__(self, min_rating: float = LIKED, max_movies: int = FILTER_MOVIES):
        self.min_rating, self.max_movies, self._similarity = min_rating, max_movies, None

    def fit(self, train: pd.DataFrame) -> GraphFilter:
        liked = train[train["rating"] >= self.min_rating]
        if liked.empty:
            raise ValueError("The graph filter needs liked ratings: lower min_rating.")
        self.rows = LikedRows(liked, self.max_movies)
        return self

    @property
    def similarity(self) -> np.ndarray:
        """``R~^T R~`` over the kept movies; computed when first needed and never pickled."""
        if self._similarity is None:
            rows = self.rows.matrix
            user_degree = np.asarray(rows.sum(axis=1), np.float32).ravel().clip(1)
            movie_degree = np.asarray(rows.sum(axis=0), np.float32).ravel().clip(1)
            normalised = rows.multiply(user_degree[:, None] ** -0.5)
            normalised = normalised.multiply(movie_degree[None, :] ** -0.5).tocsr()
            self._similarity = dense_gram(normalised, np.float32)
        return self._similarity

    weights = similarity

    def fold_in(self, ratings: pd.DataFrame) -> GraphFilter:
        joined = super().fold_in(ratings)  # (copying drops the similarity, as pickling does)
        joined._similarity = self.similarity  # the training users' co-likes, not refitted
        return joined

    def __getstate__(self) -> dict:
        return self.__dict__ | {"_similarity": None}  # recomputed on load: files stay small


class GenreProfile(Baseline):
    """A new movie scores the cosine of its genres with those of the movies the user rated
    ``min_rating`` or more (:data:`~helpers.metrics.RELEVANT`), minus ``year_weight`` per year
    from the median year of those movies; its stars are the user's mean rating plus its genres'
    mean offset."""

    name = "genre profile"

    def __init__(
        self, movies: pd.DataFrame, year_weight: float = 0.0, min_rating: float = RELEVANT
    ):
        self.catalogue = movies.set_index("movieId")
        self.year_weight, self.min_rating = year_weight, min_rating
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
        liked = train[train["rating"] >= self.min_rating]
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
