"""The explorer's logic as plain functions: filter, rank and explain one user's recommendations.

Everything here takes arrays and DataFrames and returns DataFrames (or raises
:class:`ExplorerError`, whose message is written for the learner), so it is unit-tested without
a browser; ``helpers.explorer`` only wires widgets to it. Scores are computed once
(:class:`UserScores`); an update is then masks, a partial sort and a ten-row table.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import networkx as nx
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

NO_GENRE = "(no genres listed)"
LOVED = 4.5  # stars: a user "loved" a movie it rated at least this
LIKED = 4.0  # stars: the rated movies a recommendation may be explained by
PRECOMPUTE_LIMIT = 50_000_000  # users x movies scores held in memory at most (200 MB of float32)


class ExplorerError(ValueError):
    """Bad input to the explorer; the message says what to change, and the widget shows it."""


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Catalogue:
    """The movies a list may hold (those with a train rating), one row per score column."""

    movies: pd.DataFrame  # movieId, title, year, genres, ratings; row i = score column i
    genres: tuple[str, ...]
    genre_hot: np.ndarray  # bool [movies, genres]
    year: np.ndarray  # float, NaN where the title has no year
    n_ratings: np.ndarray  # train ratings per movie

    @classmethod
    def build(cls, movies: pd.DataFrame, train: pd.DataFrame) -> Catalogue:
        """Movies with at least one train rating, sorted by id, with titles split from years."""
        counts = train["movieId"].value_counts()
        table = movies[movies["movieId"].isin(counts.index)].sort_values("movieId")
        table = table.reset_index(drop=True)
        split = table["genres"].astype(str).str.split("|")
        genres = tuple(sorted({g for names in split for g in names} - {NO_GENRE}))
        hot = np.zeros((len(table), len(genres)), dtype=bool)
        column = {name: j for j, name in enumerate(genres)}
        for i, names in enumerate(split):
            hot[i, [column[g] for g in names if g in column]] = True
        year = table["year"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
        n_ratings = counts.reindex(table["movieId"]).to_numpy(dtype=np.int64)
        view = pd.DataFrame(
            {
                "movieId": table["movieId"].to_numpy(),
                "title": table["title"]
                .astype(str)
                .str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True),
                "year": table["year"].array,
                "genres": [", ".join(names) for names in split],
                "ratings": n_ratings,
            }
        )
        return cls(view, genres, hot, year, n_ratings)

    def __len__(self) -> int:
        return len(self.movies)

    @property
    def movie_ids(self) -> np.ndarray:
        return self.movies["movieId"].to_numpy()

    def year_bounds(self) -> tuple[int, int]:
        """Earliest and latest release year in the catalogue (for the year slider)."""
        return int(np.nanmin(self.year)), int(np.nanmax(self.year))

    def positions(self, movie_ids: np.ndarray) -> np.ndarray:
        """Catalogue rows of raw movie ids (-1 where a movie is not in the catalogue)."""
        return pd.Index(self.movie_ids).get_indexer(np.asarray(movie_ids))

    def full_titles(self) -> pd.Series:
        """Titles with their year, as in movies.csv ("Toy Story (1995)")."""
        year = self.movies["year"].astype("string").fillna("")
        return self.movies["title"] + np.where(year == "", "", " (" + year + ")")

    def find(self, title: str) -> int:
        """Catalogue row of a movie by (part of) its title; the most-rated of several matches."""
        full = self.full_titles().str.lower()
        wanted = title.strip().lower()
        hits = np.flatnonzero(full == wanted)
        if len(hits) == 0:
            hits = np.flatnonzero(full.str.contains(wanted, regex=False))
        if not wanted or len(hits) == 0:
            raise ExplorerError(f"No movie title contains {title!r}; try a shorter part of it.")
        return int(hits[np.argmax(self.n_ratings[hits])])


# --------------------------------------------------------------------------- users' ratings


@dataclass(frozen=True)
class RatedIndex:
    """Each user's train ratings as catalogue rows (CSR), so "hide rated" is one slice."""

    user_ids: np.ndarray  # sorted raw ids
    indptr: np.ndarray
    positions: np.ndarray
    stars: np.ndarray

    @classmethod
    def build(cls, train: pd.DataFrame, catalogue: Catalogue) -> RatedIndex:
        users = train["userId"].to_numpy()
        order = np.argsort(users, kind="stable")
        user_ids, counts = np.unique(users[order], return_counts=True)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        positions = catalogue.positions(train["movieId"].to_numpy()[order])
        stars = train["rating"].to_numpy(dtype=np.float32)[order]
        return cls(user_ids, indptr, positions, stars)

    def __len__(self) -> int:
        return len(self.user_ids)

    def row(self, user_id: object) -> int:
        """The user's row; an unknown or malformed id raises a message saying which ids exist."""
        try:
            user = int(str(user_id).strip())
        except ValueError:
            raise ExplorerError(
                f"{user_id!r} is not a user id: type a whole number such as {self.user_ids[0]}."
            ) from None
        row = int(np.searchsorted(self.user_ids, user))
        if row == len(self.user_ids) or self.user_ids[row] != user:
            raise ExplorerError(
                f"User {user} has no training ratings, so there is nothing to recommend from. "
                f"Pick one of the {len(self):,} users with ids {self.user_ids[0]} to "
                f"{self.user_ids[-1]}."
            )
        return row

    def of(self, user_id: object) -> tuple[np.ndarray, np.ndarray]:
        """Catalogue rows and stars of the user's train ratings."""
        row = self.row(user_id)
        part = slice(self.indptr[row], self.indptr[row + 1])
        return self.positions[part], self.stars[part]

    def loved_by(self, position: int, stars: float = LOVED) -> np.ndarray:
        """Ids of users who rated catalogue row ``position`` at least ``stars``."""
        hit = (self.positions == position) & (self.stars >= stars)
        rows = np.searchsorted(self.indptr, np.flatnonzero(hit), side="right") - 1
        return self.user_ids[rows]


# --------------------------------------------------------------------------- scores


class UserScores:
    """A user's scores (or predicted stars) for every catalogue movie, computed once, not per click.

    Small data (users x movies fits ``PRECOMPUTE_LIMIT``): one matrix up front. MovieLens 25M
    scale: one row per user on first use (a matrix-vector product), kept in an LRU cache.
    ``score(users, movies)`` is any recommender's ``score`` over raw ids.
    """

    def __init__(
        self,
        score: Callable[[np.ndarray, np.ndarray], np.ndarray],
        user_ids: np.ndarray,
        movie_ids: np.ndarray,
        precompute: bool | None = None,
        cache_size: int = 256,
        chunk: int = 1024,
        progress: bool = False,
    ):
        self.score, self.movie_ids = score, np.asarray(movie_ids)
        self.user_ids = np.sort(np.asarray(user_ids))
        if precompute is None:
            precompute = len(self.user_ids) * len(self.movie_ids) <= PRECOMPUTE_LIMIT
        self.matrix = None
        if precompute:
            starts = range(0, len(self.user_ids), chunk)
            rows = [
                np.asarray(score(self.user_ids[s : s + chunk], self.movie_ids), dtype=np.float32)
                for s in tqdm(starts, desc="scores", disable=not progress)
            ]
            self.matrix = np.concatenate(rows)
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.cache_size = cache_size

    def __call__(self, user_id: int) -> np.ndarray:
        row = int(np.searchsorted(self.user_ids, user_id))
        if row == len(self.user_ids) or self.user_ids[row] != user_id:
            raise ExplorerError(f"User {user_id} has no scores; pick a user from the list.")
        if self.matrix is not None:
            return self.matrix[row]
        if user_id not in self.cache:
            scores = self.score(np.array([user_id]), self.movie_ids)[0]
            self.cache[user_id] = np.asarray(scores, dtype=np.float32)
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        self.cache.move_to_end(user_id)
        return self.cache[user_id]


# --------------------------------------------------------------------------- filters and ranking


@dataclass(frozen=True)
class Filters:
    """What the learner asked for; ``years=None`` keeps every year (and movies without one)."""

    genres: tuple[str, ...] = ()
    match: Literal["any", "all"] = "any"
    years: tuple[int, int] | None = None
    min_stars: float = 0.5
    min_ratings: int = 1
    hide_rated: bool = True
    k: int = 10
    order: Literal["top", "least"] = "top"


def check(filters: Filters, catalogue: Catalogue) -> None:
    """Raise :class:`ExplorerError` for settings no list can satisfy, naming the bad one."""
    unknown = sorted(set(filters.genres) - set(catalogue.genres))
    if unknown:
        raise ExplorerError(f"Unknown genre(s) {unknown}; choose from {list(catalogue.genres)}.")
    if filters.match not in ("any", "all"):
        raise ExplorerError(f"Genre match must be 'any' or 'all', not {filters.match!r}.")
    if filters.order not in ("top", "least"):
        raise ExplorerError(f"Order must be 'top' or 'least', not {filters.order!r}.")
    if int(filters.k) < 1:
        raise ExplorerError(f"K must be at least 1 (got {filters.k}).")
    if filters.years is not None and filters.years[0] > filters.years[1]:
        raise ExplorerError(f"The year range {filters.years} is empty: put the earlier year first.")


def filter_steps(
    catalogue: Catalogue, stars: np.ndarray, rated: np.ndarray, filters: Filters
) -> list[tuple[str, np.ndarray]]:
    """The candidate mask after each active filter, in order, so an empty result can say why.

    ``stars`` are the predicted stars the minimum-stars filter reads.
    """
    mask = np.ones(len(catalogue), dtype=bool)
    steps = [("movies in the catalogue", mask)]
    if filters.hide_rated:
        mask = mask.copy()
        mask[rated[rated >= 0]] = False
        steps.append(("not rated by the user", mask))
    if filters.genres:
        columns = [catalogue.genres.index(g) for g in filters.genres]
        hot = catalogue.genre_hot[:, columns]
        joined = " or " if filters.match == "any" else " and "
        genre_ok = hot.any(axis=1) if filters.match == "any" else hot.all(axis=1)
        mask = mask & genre_ok
        steps.append((f"in {joined.join(filters.genres)}", mask))
    if filters.years is not None:
        low, high = filters.years
        mask = mask & (catalogue.year >= low) & (catalogue.year <= high)
        steps.append((f"released {low}-{high}", mask))
    if filters.min_ratings > 1:
        mask = mask & (catalogue.n_ratings >= filters.min_ratings)
        steps.append((f"with at least {filters.min_ratings} ratings", mask))
    if filters.min_stars > 0.5:
        mask = mask & (stars >= filters.min_stars)
        steps.append((f"predicted at least {filters.min_stars:g} stars", mask))
    return steps


def rank(scores: np.ndarray, mask: np.ndarray, k: int, order: str = "top") -> np.ndarray:
    """Catalogue rows of the ``k`` best (or worst) scored candidates, ties to the lower row."""
    candidates = np.flatnonzero(mask)
    signed = -scores[candidates] if order == "top" else scores[candidates]
    k = min(int(k), len(candidates))
    if k < len(candidates):
        keep = np.sort(np.argpartition(signed, k - 1)[:k])
        candidates, signed = candidates[keep], signed[keep]
    return candidates[np.argsort(signed, kind="stable")]


def table(catalogue: Catalogue, stars: np.ndarray, positions: np.ndarray) -> pd.DataFrame:
    """The results table: rank, title, year, genres, predicted stars, number of ratings."""
    rows = catalogue.movies.iloc[positions]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(positions) + 1),
            "title": rows["title"].to_numpy(),
            "year": rows["year"].to_numpy(),
            "genres": rows["genres"].to_numpy(),
            "predicted stars": np.round(np.clip(stars[positions], 0.5, 5.0), 2),
            "ratings": rows["ratings"].to_numpy(),
        }
    )


@dataclass(frozen=True)
class Recommendations:
    """A results table, the catalogue rows behind it, and the status line to show above it."""

    table: pd.DataFrame
    positions: np.ndarray
    status: str


def recommend(
    catalogue: Catalogue,
    scores: np.ndarray,
    rated: np.ndarray,
    filters: Filters,
    stars: np.ndarray | None = None,
) -> Recommendations:
    """Filter, rank by ``scores`` and tabulate; an empty result names the filter to relax.

    ``stars`` are the predicted stars to filter on and show; by default the scores themselves
    (a rating model), while a ranking model's scores are not on the star scale.
    """
    check(filters, catalogue)
    stars = scores if stars is None else stars
    steps = filter_steps(catalogue, stars, rated, filters)
    mask = steps[-1][1]
    remaining = int(mask.sum())
    if remaining == 0:
        raise ExplorerError(empty_message(steps))
    positions = rank(scores, mask, filters.k, filters.order)
    which = "Top" if filters.order == "top" else "Least relevant"
    status = f"{which} {len(positions)} of {remaining:,} movies that pass the filters."
    if remaining < filters.k:
        status = (
            f"Only {remaining:,} {'movie passes' if remaining == 1 else 'movies pass'} the filters"
            f" (you asked for {filters.k}): all shown."
        )
    return Recommendations(table(catalogue, stars, positions), positions, status)


def empty_message(steps: list[tuple[str, np.ndarray]]) -> str:
    """ "No movie passes ...": the count after each filter, and which filter emptied the list."""
    counts = [(name, int(mask.sum())) for name, mask in steps]
    chain = " -> ".join(f"{n:,} {name}" for name, n in counts)
    culprit = next(name for name, n in counts if n == 0)
    return f"No movie passes the filters: {chain}. Relax the filter '{culprit}'."


# --------------------------------------------------------------------------- explanations


def liked_movies(
    catalogue: Catalogue, rated: np.ndarray, stars: np.ndarray, n: int = 5
) -> pd.DataFrame:
    """The user's ``n`` highest-rated movies (most-rated first among equal stars)."""
    known = rated >= 0
    rated, stars = rated[known], stars[known]
    order = np.lexsort((-catalogue.n_ratings[rated], -stars))[:n]
    rows = catalogue.movies.iloc[rated[order]]
    return pd.DataFrame(
        {"title": rows["title"].to_numpy(), "year": rows["year"].to_numpy(), "stars": stars[order]}
    ).assign(position=rated[order])


def because_you_liked(
    catalogue: Catalogue,
    movie_vectors: np.ndarray,
    positions: np.ndarray,
    rated: np.ndarray,
    stars: np.ndarray,
) -> pd.DataFrame:
    """For each recommended row, the liked movie nearest to it in embedding space.

    Nearness is the cosine of the movie embeddings after subtracting their mean.

    "Liked" is rated at least ``LIKED`` stars; a user without such a rating is explained by its
    three best-rated movies. A learner can then see *why* a movie was suggested.
    """
    known = rated >= 0
    rated, stars = rated[known], stars[known]
    if len(rated) == 0 or len(positions) == 0:
        raise ExplorerError("Nothing to explain: the user has no rated movie in the catalogue.")
    liked = rated[stars >= LIKED]
    if len(liked) == 0:
        liked = rated[np.argsort(-stars, kind="stable")[:3]]
    # Centred first: the direction every movie shares says nothing about any one of them.
    centred = movie_vectors - movie_vectors.mean(axis=0)
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    # Rounded before argmax: near-ties go to the first liked movie, not to float noise.
    similarity = np.round(unit[positions] @ unit[liked].T, 2)
    nearest = similarity.argmax(axis=1)
    because = catalogue.movies.iloc[liked[nearest]]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(positions) + 1),
            "title": catalogue.movies["title"].to_numpy()[positions],
            "because you liked": because["title"].to_numpy(),
            "similarity": similarity[np.arange(len(positions)), nearest],
        }
    ).assign(position=positions, liked_position=liked[nearest])


def explanation_graph(user_id: int, liked: pd.DataFrame, because: pd.DataFrame) -> nx.DiGraph:
    """User -> movies it rated highly -> the recommendations they explain (layered for drawing).

    ``liked`` comes from :func:`liked_movies`, ``because`` from :func:`because_you_liked`; nodes
    are ``("user", id)`` or ``("movie", catalogue row)`` with a ``label`` and a ``layer``.
    """
    graph = nx.DiGraph()
    user = ("user", user_id)
    graph.add_node(user, label=f"user {user_id}", layer=0)
    stars = dict(zip(liked["position"], liked["stars"], strict=True))
    for title, position, stars_given in zip(
        liked["title"], liked["position"], liked["stars"], strict=True
    ):
        graph.add_node(("movie", position), label=title, layer=1)
        graph.add_edge(user, ("movie", position), kind="rated", stars=float(stars_given))
    for row in because.itertuples(index=False):
        source, target = ("movie", row.liked_position), ("movie", row.position)
        if source not in graph:
            graph.add_node(source, label=row[2], layer=1)
            graph.add_edge(user, source, kind="rated", stars=stars.get(row.liked_position))
        if target != source:
            graph.add_node(target, label=row.title, layer=2)
            graph.add_edge(source, target, kind="because", similarity=float(row.similarity))
    return graph
