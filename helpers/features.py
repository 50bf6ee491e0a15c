"""Named, train-only node features (notebooks 03-05, 07): each block is a table whose row ``i`` is
node ``i`` of the :class:`~helpers.graph.IdMaps`, computed from the ratings passed in alone (no
test rating leaks in) and vectorised (the same code runs on 25M ratings); and the recipes that
list a model's blocks (``CONTENT``, ``DESCRIBED``, ``NEW_MOVIE``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from torch import Tensor

from helpers.data import MovieData
from helpers.graph import IdMaps

SECONDS_PER_DAY = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SHRINKAGE = 10.0  # a movie's mean rating counts as much as this many ratings at the global mean


def _counts(index: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(index, weights=weights, minlength=n).astype(np.float64)


def user_stats(ratings: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Mean, log count and variance of each user's ratings (row i = user node i)."""
    user, n = maps.users.index(ratings["userId"]), len(maps.users)
    stars = ratings["rating"].to_numpy(np.float64)
    count = _counts(user, n)
    mean = np.where(count > 0, _counts(user, n, stars) / np.maximum(count, 1), stars.mean())
    squares = _counts(user, n, stars**2) / np.maximum(count, 1)
    variance = np.where(count > 0, np.maximum(squares - mean**2, 0.0), 0.0)
    columns = {"rating_mean": mean, "rating_log_count": np.log1p(count), "rating_var": variance}
    return pd.DataFrame(columns, index=pd.Index(maps.users.ids, name="userId"))


def _shares(index: np.ndarray, bucket: np.ndarray, n_nodes: int, n_buckets: int) -> np.ndarray:
    """Share of each node's ratings in each bucket: [n_nodes, n_buckets], rows sum to 1."""
    counts = _counts(index * n_buckets + bucket, n_nodes * n_buckets).reshape(n_nodes, n_buckets)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)


def user_temporal(ratings: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Share of ratings per hour and weekday (UTC: "hour 20" is afternoon in California),
    recency (to the last rating of anyone) and activity span."""
    user, n = maps.users.index(ratings["userId"]), len(maps.users)
    seconds = ratings["timestamp"].to_numpy(np.int64)
    hours = _shares(user, (seconds // 3600) % 24, n, 24)
    days = _shares(user, (seconds // SECONDS_PER_DAY + 3) % 7, n, 7)  # 1970-01-01: a Thursday
    first, last = np.full(n, np.iinfo(np.int64).max), np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, user, seconds)
    np.maximum.at(last, user, seconds)
    rated, now = last >= first, seconds.max() if len(seconds) else 0
    columns = {f"hour_{h:02d}": hours[:, h] for h in range(24)}
    columns |= {f"day_{name}": days[:, d] for d, name in enumerate(WEEKDAYS)}
    columns["recency_log_days"] = np.log1p(np.where(rated, (now - last) / SECONDS_PER_DAY, 0.0))
    columns["span_log_days"] = np.log1p(np.where(rated, (last - first) / SECONDS_PER_DAY, 0.0))
    return pd.DataFrame(columns, index=pd.Index(maps.users.ids, name="userId"))


def movie_stats(train: pd.DataFrame, maps: IdMaps, shrinkage: float = SHRINKAGE) -> pd.DataFrame:
    """Log popularity and mean rating shrunk toward the global mean (one 5-star rating must not
    beat a classic with hundreds; no train ratings: the global mean)."""
    movie, n = maps.movies.index(train["movieId"]), len(maps.movies)
    stars = train["rating"].to_numpy(np.float64)
    count, total = _counts(movie, n), _counts(movie, n, stars)
    shrunk = (total + shrinkage * (stars.mean() if len(stars) else 0.0)) / (count + shrinkage)
    columns = {"rating_log_count": np.log1p(count), "rating_mean_shrunk": shrunk}
    return pd.DataFrame(columns, index=pd.Index(maps.movies.ids, name="movieId"))


def movie_year(movies: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Release year from the title; a missing year gets the median and ``year_missing`` = 1."""
    year = movies.set_index("movieId").reindex(maps.movies.ids)["year"].astype("Float64")
    missing = year.isna().to_numpy()
    median = float(year.median()) if (~missing).any() else 0.0
    filled = year.fillna(median).to_numpy(np.float64)
    columns = {"year": filled, "year_missing": missing.astype(np.float64)}
    return pd.DataFrame(columns, index=pd.Index(maps.movies.ids, name="movieId"))


def movie_genres(movies: pd.DataFrame, maps: IdMaps) -> pd.DataFrame:
    """Multi-hot genres, one ``genre_<name>`` column each (``genre_none`` for no genre listed)."""
    genres = movies.set_index("movieId").reindex(maps.movies.ids)["genres"]
    genres = genres.fillna("(no genres listed)").astype(str)
    hot = genres.str.get_dummies(sep="|").rename(columns={"(no genres listed)": "none"})
    hot.columns = [f"genre_{name}" for name in hot.columns]
    return hot.astype(np.float64).set_axis(pd.Index(maps.movies.ids, name="movieId"))


@dataclass(frozen=True)
class Reduction:
    """A seeded TruncatedSVD of a movie x term matrix: movie scores and term loadings."""

    WORDS: ClassVar[str] = r"(?u)\b[a-zA-Z]\w+\b"  # a word: a letter, then letters or digits
    scores: pd.DataFrame  # index movieId, columns <prefix>_00 ...
    loadings: pd.DataFrame  # index component name, columns term
    explained: np.ndarray  # share of variance of each component

    def top_terms(self, n: int = 6) -> pd.DataFrame:
        """The ``n`` terms with the largest loadings on each component, one row per component."""
        best = np.argsort(-self.loadings.to_numpy(), axis=1, kind="stable")[:, :n]
        terms = self.loadings.columns.to_numpy()[best]
        table = pd.DataFrame(terms, index=self.loadings.index, columns=range(1, terms.shape[1] + 1))
        return table.assign(explained=self.explained.round(3))

    @classmethod
    def of_matrix(
        cls, matrix, movie_ids: np.ndarray, terms: np.ndarray, prefix: str, n: int, seed: int
    ) -> Reduction:
        """TruncatedSVD (seeded) to ``n`` columns; components a small matrix lacks are zeros."""
        fitted = min(n, min(matrix.shape) - 1)
        scores, loadings = np.zeros((matrix.shape[0], n)), np.zeros((n, matrix.shape[1]))
        explained = np.zeros(n)
        if fitted >= 1:
            svd = TruncatedSVD(n_components=fitted, random_state=seed)
            scores[:, :fitted] = svd.fit_transform(matrix)
            loadings[:fitted], explained[:fitted] = svd.components_, svd.explained_variance_ratio_
        names = [f"{prefix}_{c:02d}" for c in range(n)]
        scores = pd.DataFrame(scores, index=pd.Index(movie_ids, name="movieId"), columns=names)
        return cls(scores, pd.DataFrame(loadings, index=names, columns=terms), explained)

    @classmethod
    def of_texts(
        cls, texts: pd.Series, movie_ids: np.ndarray, prefix: str, n: int, seed: int
    ) -> Reduction:
        """TF-IDF of the words of each movie's text (words used at least twice), reduced."""
        try:
            tfidf = TfidfVectorizer(token_pattern=cls.WORDS, min_df=2, sublinear_tf=True)
            matrix = tfidf.fit_transform(texts.astype(str))
            terms = tfidf.get_feature_names_out()
        except ValueError:  # no word appears twice
            matrix, terms = sparse.csr_matrix((len(movie_ids), 1)), np.array(["-"])
        return cls.of_matrix(matrix, movie_ids, terms, prefix, n, seed)


def genome_reduction(
    genome: pd.DataFrame, tag_names: pd.DataFrame | None = None, n: int = 16, seed: int = 42
) -> Reduction:
    """Genome relevance (long table movieId, tagId, relevance) as a movie x tag matrix, reduced."""
    movie_ids, rows = np.unique(genome["movieId"].to_numpy(), return_inverse=True)
    tag_ids, cols = np.unique(genome["tagId"].to_numpy(), return_inverse=True)
    matrix = np.zeros((len(movie_ids), len(tag_ids)), dtype=np.float32)
    matrix[rows, cols] = genome["relevance"].to_numpy(np.float32)
    terms = tag_ids.astype(str)
    if tag_names is not None:
        names = tag_names.set_index("tagId")["tag"].reindex(tag_ids)
        terms = names.fillna(pd.Series(terms, index=tag_ids)).to_numpy()
    return Reduction.of_matrix(matrix, movie_ids, terms, "genome", n, seed)


def train_tags(tags: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """Tags whose (user, movie) pair is a train rating: a tag can reveal a held-out rating."""
    pairs = [table[["userId", "movieId"]].to_numpy(np.int64) for table in (tags, train)]
    keys = [pair[:, 0] << 32 | pair[:, 1] for pair in pairs]
    return tags[np.isin(*keys)]


def tag_reduction(tags: pd.DataFrame, n: int = 16, seed: int = 42) -> Reduction:
    """User tags as one document per movie (TF-IDF of its tags' words), reduced."""
    documents = tags.groupby("movieId")["tag"].agg(lambda t: " ".join(t.astype(str)))
    return Reduction.of_texts(documents, documents.index.to_numpy(), "tags", n, seed)


def title_reduction(movies: pd.DataFrame, n: int = 16, seed: int = 42) -> Reduction:
    """The words of each title (year removed): sequels, series and languages share words."""
    titles = movies["title"].str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True)
    return Reduction.of_texts(titles, movies["movieId"].to_numpy(), "title", n, seed)


def on_movie_nodes(reduction: Reduction, maps: IdMaps, indicator: str) -> pd.DataFrame:
    """A reduction's scores on movie nodes, zeros plus ``indicator`` = 0 for movies it lacks."""
    scores = reduction.scores.reindex(maps.movies.ids)
    present = scores.notna().all(axis=1).to_numpy()
    return scores.fillna(0.0).assign(**{indicator: present.astype(np.float64)})


@dataclass(frozen=True)
class NodeFeatures:
    """One node type's features: named raw columns and the standardisation fitted on them."""

    CLIP: ClassVar[float] = 3.0  # scaled features are clipped to this many standard deviations
    raw: pd.DataFrame
    mean: pd.Series
    std: pd.Series

    @classmethod
    def standardise(cls, raw: pd.DataFrame) -> NodeFeatures:
        """Fit mean/std on this train-derived table; constant columns keep std 1."""
        std = raw.std(ddof=0)
        return cls(raw, raw.mean(), std.where(std > 1e-12, 1.0))

    def apply(self, raw: pd.DataFrame) -> NodeFeatures:
        """Other rows (more ratings, new users) scaled as these were."""
        return NodeFeatures(raw[self.raw.columns], self.mean, self.std)

    @property
    def columns(self) -> list[str]:
        return list(self.raw.columns)

    def tensor(self) -> Tensor:
        """The scaled table as a float32 [nodes, features] tensor, clipped to :attr:`CLIP` std:
        a rare flag (``has_genome`` on 1 % of movies) would otherwise scale to 10 and swamp the
        rest."""
        scaled = ((self.raw - self.mean) / self.std).clip(-self.CLIP, self.CLIP)
        return torch.tensor(scaled.to_numpy(np.float32))


def stats_block(train: pd.DataFrame, maps: IdMaps, source: MovieData) -> pd.DataFrame:
    """Movie block: popularity and shrunk mean rating (:func:`movie_stats`)."""
    return movie_stats(train, maps)


def year_block(train: pd.DataFrame, maps: IdMaps, source: MovieData) -> pd.DataFrame:
    """Movie block: release year (:func:`movie_year`)."""
    return movie_year(source.movies, maps)


def genres_block(train: pd.DataFrame, maps: IdMaps, source: MovieData) -> pd.DataFrame:
    """Movie block: multi-hot genres (:func:`movie_genres`)."""
    return movie_genres(source.movies, maps)


def title_block(train: pd.DataFrame, maps: IdMaps, source: MovieData) -> pd.DataFrame:
    """Movie block: the title's words, reduced, and ``has_title``."""
    return on_movie_nodes(title_reduction(source.movies), maps, "has_title")


def genome_block(train: pd.DataFrame, maps: IdMaps, source: MovieData) -> pd.DataFrame | None:
    """Movie block: the Tag Genome, reduced, and ``has_genome``; None without a genome."""
    if source.genome is None or not len(source.genome):
        return None
    return on_movie_nodes(genome_reduction(source.genome), maps, "has_genome")


def tags_block(train: pd.DataFrame, maps: IdMaps, source: MovieData) -> pd.DataFrame | None:
    """Movie block: the train pairs' user tags, reduced, and ``has_tags``; None without tags."""
    if source.tags is None:
        return None
    return on_movie_nodes(tag_reduction(train_tags(source.tags, train)), maps, "has_tags")


UserBlock = Callable[[pd.DataFrame, IdMaps], pd.DataFrame]
MovieBlock = Callable[[pd.DataFrame, IdMaps, MovieData], pd.DataFrame | None]


@dataclass(frozen=True)
class FeatureRecipe:
    """Which feature blocks each node type gets (notebooks 03-05, 07): functions ``(ratings,
    maps)`` for users (:func:`user_stats`) and ``(train, maps, source)`` for movies
    (:func:`year_block`), given the train ratings only; their tables join in the order given."""

    name: str
    user_blocks: tuple[UserBlock, ...] = ()
    movie_blocks: tuple[MovieBlock, ...] = ()

    def __post_init__(self):
        if not all(callable(block) for block in self.user_blocks + self.movie_blocks):
            raise TypeError("A recipe's blocks are functions, e.g. features.user_stats.")

    def users(self, ratings: pd.DataFrame, maps: IdMaps) -> pd.DataFrame | None:
        """The raw user table of this recipe (None without user blocks)."""
        parts = [block(ratings, maps) for block in self.user_blocks]
        return pd.concat(parts, axis=1) if parts else None

    def movies(self, train: pd.DataFrame, maps: IdMaps, source: MovieData) -> pd.DataFrame | None:
        """The raw movie table (None without blocks); a block the source lacks data for is left
        out (the genome or tags)."""
        parts = [block(train, maps, source) for block in self.movie_blocks]
        parts = [part for part in parts if part is not None]
        return pd.concat(parts, axis=1) if parts else None


rich_features = FeatureRecipe("rich", (user_stats,), (stats_block, year_block, genres_block))  # 03
CONTENT = FeatureRecipe("year and genres", (), (year_block, genres_block))  # notebook 03
DESCRIBED = FeatureRecipe(  # notebook 04
    "described", (), (year_block, genres_block, genome_block, tags_block)
)
NEW_MOVIE = FeatureRecipe(  # notebook 07
    "new movie", (), (year_block, genres_block, title_block, genome_block)
)
temporal_features = FeatureRecipe(  # every block: benchmarks/scale.py, tests
    "temporal",
    (user_stats, user_temporal),
    (stats_block, year_block, genres_block, genome_block, tags_block),
)


@dataclass
class FeatureTables:
    """A recipe's feature tables, standardised on the ratings a model trains on (notebook 03)."""

    recipe: FeatureRecipe | None
    users: NodeFeatures | None
    movies: NodeFeatures | None

    @classmethod
    def fit(cls, recipe, ratings: pd.DataFrame, maps: IdMaps, source: MovieData) -> FeatureTables:
        if recipe is None:
            return cls(None, None, None)
        tables = recipe.users(ratings, maps), recipe.movies(ratings, maps, source)
        return cls(recipe, *(None if t is None else NodeFeatures.standardise(t) for t in tables))

    def on(self, ratings: pd.DataFrame, maps: IdMaps) -> tuple[Tensor | None, Tensor | None]:
        """Feature tensors for the graph of ``ratings``: users recomputed and scaled as fitted,
        movies as fitted (their SVDs must not move)."""
        if self.recipe is None:
            return None, None
        users = self.users.apply(self.recipe.users(ratings, maps)).tensor() if self.users else None
        return users, self.movies.tensor() if self.movies else None
