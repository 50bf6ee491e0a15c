"""The strongest peers the kit's GNNs are measured against (issue 18), in their own libraries.

* ``myfm``: a Bayesian factorisation machine (myFM, Gibbs sampling; Rendle et al. 2019, "On the
  Difficulty of Evaluating Baselines"): rank 10, 300 samples, each user described by its id and
  the movies it rated, each movie by its id and the users who rated it (both 1/sqrt(n)-scaled).
* ``ials``: implicit ALS (the ``implicit`` library) on liked ratings (>= 4); factors, alpha and
  regularisation chosen on the validation part.
* ``ease-tuned``: EASE on liked ratings, lambda chosen on the validation part.

Every one answers the kit's :class:`~helpers.metrics.Recommender` interface, so the
protocol's own code (:mod:`helpers.metrics`) scores it. The dev extras install myFM and implicit.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import sparse
from threadpoolctl import threadpool_limits

from helpers import baselines, metrics
from helpers.baselines import LikedRows
from helpers.protocol import validation_split
from helpers.settings import THREADS

LIKED = metrics.RELEVANT  # 4 stars: "liked", as the peers were measured
EASE_LAMBDAS = (50.0, 100.0, 200.0, 400.0, 800.0)
IALS_GRID = {
    "factors": (32, 64, 128),
    "alpha": (1.0, 3.0, 10.0),
    "regularization": (1.0, 10.0, 100.0),
}


def validation_ndcg(make, train: pd.DataFrame, seed: int) -> float:
    """NDCG@10 on the validation part of ``train`` of the model ``make()`` fitted on the rest."""
    fit_part, valid_part = validation_split(train, seed)
    return metrics.Ranking(fit_part, valid_part)(make().fit(fit_part).score)["NDCG@10"]


def tuned(candidates: dict, train: pd.DataFrame, seed: int):
    """The candidate (name -> factory) best on validation, refitted on all of ``train``."""
    scores = {name: validation_ndcg(make, train, seed) for name, make in candidates.items()}
    best = max(scores, key=scores.get)
    model = candidates[best]().fit(train)
    model.chosen, model.validation = best, scores
    return model


class TunedEASE(baselines.EASE):
    """EASE on liked ratings only, its lambda chosen on the validation part."""

    name = "EASE (liked, tuned)"

    @classmethod
    def tuned(cls, train: pd.DataFrame, seed: int) -> TunedEASE:
        makers = {reg: (lambda reg=reg: cls(reg=reg, min_rating=LIKED)) for reg in EASE_LAMBDAS}
        return tuned(makers, train, seed)


class IALS(baselines.Baseline):
    """Implicit ALS (Hu, Koren, Volinsky 2008) on liked ratings, via ``implicit``."""

    name = "iALS"

    def __init__(self, factors=128, alpha=5.0, regularization=0.05, iterations=15, seed=42):
        self.factors, self.alpha, self.regularization = factors, alpha, regularization
        self.iterations, self.seed = iterations, seed

    def fit(self, train: pd.DataFrame) -> IALS:
        from implicit.cpu.als import AlternatingLeastSquares

        self.mean = float(train["rating"].mean())
        self.rows = LikedRows(train[train["rating"] >= LIKED])
        with threadpool_limits(1, "blas"):  # implicit's own threads; BLAS inside them: one
            model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, random_state=self.seed, num_threads=THREADS,
            )  # fmt: skip
            model.fit(self.rows.matrix, show_progress=False)
        self.user_factors, self.movie_factors = model.user_factors, model.item_factors
        return self

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        u = self.rows.users.index(users, strict=False)
        m = self.rows.columns.index(movies, strict=False)
        grid = self.user_factors[np.maximum(u, 0)] @ self.movie_factors[np.maximum(m, 0)].T
        return np.where((u >= 0)[:, None] & (m >= 0)[None], grid, -np.inf)

    @classmethod
    def tuned(cls, train: pd.DataFrame, seed: int) -> IALS:
        values = itertools.product(*IALS_GRID.values())
        grid = [dict(zip(IALS_GRID, v, strict=True)) for v in values]
        makers = {
            ", ".join(f"{k} {v}" for k, v in h.items()): (lambda h=h: cls(**h, seed=seed))
            for h in grid
        }
        return tuned(makers, train, seed)


def _myfm():
    """The myFM package (imported late: only this peer needs it; it warns about pkg_resources)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import myfm
    return myfm


def _implicit_block(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int):
    """[one-hot id | 1/sqrt(n)-scaled set of partners] per row, plus an all-zero unknown row."""
    counts = np.bincount(rows, minlength=n_rows).astype(np.float64)
    weight = 1.0 / np.sqrt(np.maximum(counts[rows], 1.0))
    partners = sparse.csr_matrix((weight, (rows, cols)), shape=(n_rows + 1, n_cols))
    one_hot = sparse.identity(n_rows + 1, format="csr")[:, :n_rows]
    return sparse.hstack([one_hot, partners], format="csr")


class BayesianFM(baselines.Baseline):
    """myFM's Gibbs-sampled factorisation machine with implicit user and movie features."""

    name = "Bayesian FM (myFM)"

    def __init__(self, rank: int = 10, samples: int = 300, seed: int = 42):
        self.rank, self.samples, self.seed = rank, samples, seed

    def _blocks(self, users: np.ndarray, movies: np.ndarray) -> list:
        relation = _myfm().RelationBlock

        u, m = self._index(users, movies)
        n_users, n_movies = len(self.users), len(self.movies)
        return [
            relation(np.where(u >= 0, u, n_users), self.user_block),
            relation(np.where(m >= 0, m, n_movies), self.movie_block),
        ]

    def _fit(self, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> None:
        n_users, n_movies = len(self.users), len(self.movies)
        self.user_block = _implicit_block(users, movies, n_users, n_movies)
        self.movie_block = _implicit_block(movies, users, n_movies, n_users)
        self.model = _myfm().MyFMRegressor(rank=self.rank, random_seed=self.seed)
        self.model.fit(
            sparse.csr_matrix((len(ratings), 0)), ratings,
            X_rel=self._blocks(self.users.ids[users], self.movies.ids[movies]),
            n_iter=self.samples + 5, n_kept_samples=self.samples,
            group_shapes=[n_users, n_movies, n_movies, n_users],
        )  # fmt: skip

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        blocks = self._blocks(np.asarray(users), np.asarray(movies))
        return self.model.predict(sparse.csr_matrix((len(users), 0)), blocks, n_workers=THREADS)


def build(name: str, train: pd.DataFrame, seed: int):
    """A fitted peer: ``myfm``, ``ials`` or ``ease-tuned``."""
    if name == "myfm":
        return BayesianFM(seed=seed).fit(train)
    if name == "ials":
        return IALS.tuned(train, seed)
    return TunedEASE.tuned(train, seed)


PEERS = {"myfm": "stars", "ials": "lists", "ease-tuned": "lists"}  # what each one is scored on


class Ensemble:
    """The average of several models' stars and list scores: one kit model from several seeds
    (the kit's answer to myFM averaging 300 samples)."""

    def __init__(self, members: list, name: str):
        self.members, self.name = members, name

    def score(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return np.mean([member.score(users, movies) for member in self.members], axis=0)

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        return np.mean([member.predict(users, movies) for member in self.members], axis=0)

    def fold_in(self, ratings: pd.DataFrame) -> Ensemble:
        return Ensemble([member.fold_in(ratings) for member in self.members], self.name)


# ``<model>-x3``: a kit model trained from three seeds (member 0 is the single model), averaged
ENSEMBLES = {"gnn-ranking-x3": "GNN (lists), 3 seeds", "gnn-rating-x3": "GNN (rating), 3 seeds"}
