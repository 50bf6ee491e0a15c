"""Named, typed, train-only node features: one table for users, one for movies.

Every building block returns a ``DataFrame`` with named columns whose row ``i`` belongs to node
``i`` of the :class:`~helpers.graph.IdMaps` (never to row ``i`` of ``movies.csv``). Statistics
of ratings come from the train ratings passed in, nothing else, so no test rating can leak in.
Everything is vectorised pandas/numpy, so the same code runs on 25M ratings.

A :class:`FeatureRecipe` picks blocks per node type, standardises each column with statistics
of the train-derived table, and is itself a pipeline ``featurize`` function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from torch import Tensor

from helpers import data
from helpers.graph import IdMaps

SECONDS_PER_DAY = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SHRINKAGE = 10.0  # a movie's mean rating counts as much as this many ratings at the global mean


# --------------------------------------------------------------------------- users


def _user_index(train: pd.DataFrame, maps: IdMaps) -> np.ndarray:
    return maps.users.index(train["userId"])


def user_stats(train: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Mean, log count and variance of each user's train ratings (row i = user node i)."""
    user = _user_index(train, maps)
    stars = train["rating"].to_numpy(np.float64)
    n = len(maps.users)
    count = np.bincount(user, minlength=n).astype(np.float64)
    total = np.bincount(user, weights=stars, minlength=n)
    squares = np.bincount(user, weights=stars**2, minlength=n)
    safe = np.maximum(count, 1.0)
    mean = np.where(count > 0, total / safe, stars.mean())
    variance = np.where(count > 0, np.maximum(squares / safe - mean**2, 0.0), 0.0)
    return pd.DataFrame(
        {"rating_mean": mean, "rating_log_count": np.log1p(count), "rating_var": variance},
        index=pd.Index(maps.users.ids, name="userId"),
    )


def _shares(index: np.ndarray, bucket: np.ndarray, n_nodes: int, n_buckets: int) -> np.ndarray:
    """Share of each node's ratings in each bucket: [n_nodes, n_buckets], rows sum to 1."""
    counts = np.bincount(index * n_buckets + bucket, minlength=n_nodes * n_buckets)
    counts = counts.reshape(n_nodes, n_buckets).astype(np.float64)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def user_temporal(train: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Share of ratings per hour of day and day of week (UTC), recency and activity span.

    MovieLens timestamps are seconds since 1970-01-01 UTC: "hour 20" is 20:00 UTC, which is the
    afternoon in California. Recency is measured to the last train rating of anyone.
    """
    user = _user_index(train, maps)
    seconds = train["timestamp"].to_numpy(np.int64)
    n = len(maps.users)
    hours = _shares(user, (seconds // 3600) % 24, n, 24)
    days = _shares(user, (seconds // SECONDS_PER_DAY + 3) % 7, n, 7)  # 1970-01-01 was a Thursday
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, user, seconds)
    np.maximum.at(last, user, seconds)
    rated = last >= first
    now = seconds.max() if len(seconds) else 0
    recency = np.where(rated, (now - last) / SECONDS_PER_DAY, 0.0)
    span = np.where(rated, (last - first) / SECONDS_PER_DAY, 0.0)
    columns = {f"hour_{h:02d}": hours[:, h] for h in range(24)}
    columns |= {f"day_{name}": days[:, d] for d, name in enumerate(WEEKDAYS)}
    columns |= {"recency_log_days": np.log1p(recency), "span_log_days": np.log1p(span)}
    return pd.DataFrame(columns, index=pd.Index(maps.users.ids, name="userId"))


# --------------------------------------------------------------------------- movies


def _movie_frame(maps: IdMaps, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.Index(maps.movies.ids, name="movieId"))


def _aligned(movies: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """``movies`` reindexed to node order (row i = movie node i; unknown movies are empty rows)."""
    return movies.set_index("movieId").reindex(maps.movies.ids)


def movie_stats(train: pd.DataFrame, maps: IdMaps, shrinkage: float = SHRINKAGE) -> pd.DataFrame:
    """Log popularity and mean rating shrunk toward the global mean, from train ratings only.

    Shrinking keeps a movie with one 5-star rating from looking better than a classic with
    thousands; a movie without train ratings gets the global mean.
    """
    movie = maps.movies.index(train["movieId"])
    stars = train["rating"].to_numpy(np.float64)
    n = len(maps.movies)
    count = np.bincount(movie, minlength=n).astype(np.float64)
    total = np.bincount(movie, weights=stars, minlength=n)
    global_mean = stars.mean() if len(stars) else 0.0
    shrunk = (total + shrinkage * global_mean) / (count + shrinkage)
    return _movie_frame(maps, {"rating_log_count": np.log1p(count), "rating_mean_shrunk": shrunk})


def movie_year(movies: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Release year from the title; a missing year gets the median year and ``year_missing`` = 1."""
    if "year" in movies:
        year = movies["year"]
    else:
        year = pd.to_numeric(movies["title"].str.extract(r"\((\d{4})\)\s*$", expand=False))
    year = _aligned(movies.assign(year=year.astype("Float64")), maps)["year"]
    missing = year.isna().to_numpy()
    median = float(year.median()) if (~missing).any() else 0.0
    return _movie_frame(
        maps,
        {
            "year": year.fillna(median).to_numpy(np.float64),
            "year_missing": missing.astype(np.float64),
        },
    )


def movie_genres(movies: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Multi-hot genres, one ``genre_<name>`` column each (``genre_none`` for no genre listed)."""
    genres = _aligned(movies, maps)["genres"].fillna("(no genres listed)").astype(str)
    hot = genres.str.get_dummies(sep="|").rename(columns={"(no genres listed)": "none"})
    hot.columns = [f"genre_{name}" for name in hot.columns]
    return hot.astype(np.float64).set_axis(pd.Index(maps.movies.ids, name="movieId"))


@dataclass(frozen=True)
class Reduction:
    """A seeded TruncatedSVD of a movie x term matrix: movie scores and term loadings."""

    scores: pd.DataFrame  # index movieId, columns <prefix>_00 ...
    loadings: pd.DataFrame  # index component name, columns term
    explained: np.ndarray  # share of variance of each component

    def top_terms(self, n: int = 6) -> pd.DataFrame:
        """The ``n`` terms with the largest loadings on each component, one row per component."""
        best = np.argsort(-self.loadings.to_numpy(), axis=1, kind="stable")[:, :n]
        terms = self.loadings.columns.to_numpy()[best]  # fewer than n in a tiny vocabulary
        columns = range(1, terms.shape[1] + 1)
        return pd.DataFrame(terms, index=self.loadings.index, columns=columns).assign(
            explained=self.explained.round(3)
        )


def svd_reduce(
    matrix: np.ndarray | sparse.spmatrix,
    movie_ids: np.ndarray,
    terms: np.ndarray,
    prefix: str,
    n_components: int,
    seed: int,
) -> Reduction:
    """TruncatedSVD (seeded) to ``n_components`` columns; missing components are zero columns."""
    names = [f"{prefix}_{c:02d}" for c in range(n_components)]
    fitted = min(n_components, min(matrix.shape) - 1)
    scores = np.zeros((matrix.shape[0], n_components))
    loadings = np.zeros((n_components, matrix.shape[1]))
    explained = np.zeros(n_components)
    if fitted >= 1:
        svd = TruncatedSVD(n_components=fitted, random_state=seed)
        scores[:, :fitted] = svd.fit_transform(matrix)
        loadings[:fitted] = svd.components_
        explained[:fitted] = svd.explained_variance_ratio_
    return Reduction(
        pd.DataFrame(scores, index=pd.Index(movie_ids, name="movieId"), columns=names),
        pd.DataFrame(loadings, index=names, columns=terms),
        explained,
    )


def genome_reduction(
    genome: pd.DataFrame,
    tag_names: pd.DataFrame | None = None,
    n_components: int = 16,
    seed: int = 42,
) -> Reduction:
    """Genome relevance (long table movieId, tagId, relevance) as a movie x tag matrix, reduced."""
    movie_ids, rows = np.unique(genome["movieId"].to_numpy(), return_inverse=True)
    tag_ids, cols = np.unique(genome["tagId"].to_numpy(), return_inverse=True)
    matrix = np.zeros((len(movie_ids), len(tag_ids)), dtype=np.float32)
    matrix[rows, cols] = genome["relevance"].to_numpy(np.float32)
    terms = tag_ids
    if tag_names is not None:
        names = tag_names.set_index("tagId")["tag"].reindex(tag_ids)
        terms = names.fillna(pd.Series(tag_ids.astype(str), index=tag_ids)).to_numpy()
    return svd_reduce(matrix, movie_ids, terms, "genome", n_components, seed)


def train_tags(tags: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """Tags whose (user, movie) pair is a train rating: a tag can reveal a held-out rating."""

    def pair_keys(table: pd.DataFrame) -> np.ndarray:
        return table["userId"].to_numpy(np.int64) << 32 | table["movieId"].to_numpy(np.int64)

    return tags[np.isin(pair_keys(tags), pair_keys(train))]


def tag_reduction(tags: pd.DataFrame, n_components: int = 16, seed: int = 42) -> Reduction:
    """User tags as TF-IDF of words per movie (each movie one document), reduced."""
    if tags.empty:
        return svd_reduce(
            np.zeros((0, 1)),
            np.array([], dtype=np.int64),
            np.array(["-"]),
            "tags",
            n_components,
            seed,
        )
    vectorizer = CountVectorizer(lowercase=True, min_df=2, token_pattern=r"(?u)\b[a-zA-Z]\w+\b")
    try:
        counts = vectorizer.fit_transform(tags["tag"].astype(str))  # one row per applied tag
    except ValueError:  # no word appears twice
        return tag_reduction(tags.iloc[:0], n_components, seed)
    movie_ids, rows = np.unique(tags["movieId"].to_numpy(), return_inverse=True)
    per_movie = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(len(movie_ids), len(rows))
    )
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(per_movie @ counts)
    terms = vectorizer.get_feature_names_out()
    return svd_reduce(tfidf, movie_ids, terms, "tags", n_components, seed)


def on_movie_nodes(reduction: Reduction, maps: IdMaps, indicator: str) -> pd.DataFrame:
    """A reduction's scores on movie nodes, zeros plus ``indicator`` = 0 for movies it lacks."""
    scores = reduction.scores.reindex(maps.movies.ids)
    present = scores.notna().all(axis=1).to_numpy()
    return scores.fillna(0.0).assign(**{indicator: present.astype(np.float64)})


# --------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class NodeFeatures:
    """One node type's features: named raw columns and the standardisation fitted on them."""

    raw: pd.DataFrame
    mean: pd.Series
    std: pd.Series

    @classmethod
    def standardise(cls, raw: pd.DataFrame) -> NodeFeatures:
        """Fit mean/std on this train-derived table; constant columns keep std 1."""
        std = raw.std(ddof=0)
        return cls(raw, raw.mean(), std.where(std > 1e-12, 1.0))

    @property
    def columns(self) -> list[str]:
        return list(self.raw.columns)

    @property
    def scaled(self) -> pd.DataFrame:
        return (self.raw - self.mean) / self.std

    def tensor(self) -> Tensor:
        """The scaled table as a float32 [num_nodes, num_features] tensor, in node order."""
        return torch.from_numpy(np.array(self.scaled, dtype=np.float32))  # a writable copy


USER_BLOCKS = ("stats", "temporal")
MOVIE_BLOCKS = ("stats", "year", "genres", "genome", "tags")


@dataclass(frozen=True)
class FeatureRecipe:
    """Which feature blocks each node type gets; calling it is a pipeline ``featurize``."""

    name: str
    user_blocks: tuple[str, ...] = ()
    movie_blocks: tuple[str, ...] = ()
    n_components: int = 16
    seed: int = 42

    def __post_init__(self):
        for blocks, known in ((self.user_blocks, USER_BLOCKS), (self.movie_blocks, MOVIE_BLOCKS)):
            unknown = set(blocks) - set(known)
            if unknown:
                raise ValueError(f"Unknown feature block(s) {sorted(unknown)}; use {known}.")

    def users(self, train: pd.DataFrame, maps: IdMaps) -> NodeFeatures | None:
        """The user table of this recipe (None when it has no user blocks)."""
        blocks = {"stats": user_stats, "temporal": user_temporal}
        parts = [blocks[name](train, maps) for name in self.user_blocks]
        return NodeFeatures.standardise(pd.concat(parts, axis=1)) if parts else None

    def movies(
        self, train: pd.DataFrame, maps: IdMaps, dataset: str | None = None
    ) -> NodeFeatures | None:
        """The movie table of this recipe; loads movies/genome/tags of ``dataset`` as needed."""
        if not self.movie_blocks:
            return None
        parts = []
        movies = data.load_movies(dataset) if {"year", "genres"} & set(self.movie_blocks) else None
        for name in self.movie_blocks:
            if name == "stats":
                parts.append(movie_stats(train, maps))
            elif name == "year":
                parts.append(movie_year(movies, maps))
            elif name == "genres":
                parts.append(movie_genres(movies, maps))
            elif name == "genome":
                genome = data.load_genome(pd.Series(maps.movies.ids))
                reduction = genome_reduction(genome, None, self.n_components, self.seed)
                parts.append(on_movie_nodes(reduction, maps, "has_genome"))
            elif name == "tags":
                tags = train_tags(data.load_tags(dataset), train)
                reduction = tag_reduction(tags, self.n_components, self.seed)
                parts.append(on_movie_nodes(reduction, maps, "has_tags"))
        return NodeFeatures.standardise(pd.concat(parts, axis=1))

    def tables(
        self, train: pd.DataFrame, maps: IdMaps, dataset: str | None = None
    ) -> tuple[NodeFeatures | None, NodeFeatures | None]:
        """(user features, movie features), each with names, raw values and scaling."""
        return self.users(train, maps), self.movies(train, maps, dataset)

    def __call__(
        self, train: pd.DataFrame, maps: IdMaps, dataset: str | None = None
    ) -> tuple[Tensor | None, Tensor | None]:
        users, movies = self.tables(train, maps, dataset)
        return (users.tensor() if users else None), (movies.tensor() if movies else None)


rich_features = FeatureRecipe("rich", ("stats",), ("stats", "year", "genres"))
genome_features = FeatureRecipe("genome", ("stats",), ("stats", "year", "genres", "genome"))
tag_features = FeatureRecipe("tags", ("stats",), ("stats", "year", "genres", "tags"))
temporal_features = FeatureRecipe(
    "temporal", ("stats", "temporal"), ("stats", "year", "genres", "genome", "tags")
)
RECIPES = {r.name: r for r in (rich_features, genome_features, tag_features, temporal_features)}
