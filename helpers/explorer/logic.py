"""The explorer's logic (notebook 08): a list for a user or for *you*, filtered and ranked, and why
a movie is on it, as plain functions; an :class:`ExplorerError` says what to change."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from helpers.data import STARS
from helpers.metrics import Rated, clip, top_k

NO_GENRE = "(no genres listed)"
YOU = 0  # the user id of the person at the keyboard (MovieLens ids start at 1)
PRECOMPUTE_LIMIT = 50_000_000  # users x movies scores held in memory at most (200 MB)
EXPLAINING_STARS = 4.0  # stars a rated movie needs to explain a recommendation


class ExplorerError(ValueError):
    """Bad input to the explorer; the message says what to change, and the widget shows it."""


class ExplorerPrompt(ExplorerError):
    """Nothing to show yet, and no mistake made: the message invites the next step."""


@dataclass(frozen=True)
class Catalogue:
    """The movies a list may hold (those with a train rating), one row per score column."""

    movies: pd.DataFrame  # movieId, title (no year), year, genres, ratings
    genres: tuple[str, ...]
    genre_hot: np.ndarray  # bool [movies, genres]
    n_ratings: np.ndarray
    movie_ids: np.ndarray
    year: np.ndarray  # float, NaN where unknown

    @classmethod
    def of(cls, movies: pd.DataFrame, train: pd.DataFrame) -> Catalogue:
        counts = train["movieId"].value_counts()
        rated = movies["movieId"].isin(counts.index)
        table = movies[rated].sort_values("movieId", ignore_index=True)
        names = table["genres"].astype(str)
        hot = names.str.get_dummies("|").drop(columns=NO_GENRE, errors="ignore")  # sorted genres
        n_ratings, ids = counts.reindex(table["movieId"]).to_numpy(np.int64), table["movieId"]
        year = table["year"].astype("Float64").to_numpy(np.float64, na_value=np.nan)
        view = table[["movieId", "title", "year"]].assign(
            title=table["title"].astype(str).str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True),
            genres=names.str.replace("|", ", ", regex=False),
            ratings=n_ratings,
        )
        return cls(view, tuple(hot.columns), hot.to_numpy(bool), n_ratings, ids.to_numpy(), year)

    def __len__(self) -> int:
        return len(self.movies)

    def labels(self) -> pd.Series:
        """Titles with their year; a label two movies share gets the id ("Emma (1996) #838")."""
        return self._labels[0]

    @cached_property  # the labels and their lower case, built once: a click must not rebuild them
    def _labels(self) -> tuple[pd.Series, pd.Series]:
        year = self.movies["year"].astype("string").fillna("")
        labels = self.movies["title"] + np.where(year == "", "", " (" + year + ")")
        shared = labels.duplicated(keep=False)
        labels[shared] += " #" + self.movies.loc[shared, "movieId"].astype(str)
        return labels, labels.str.lower()

    def find(self, title: str) -> int:
        """Catalogue row of a movie by its full label, or by a part that only one title has."""
        labels, wanted = self._labels[1], title.strip().lower()
        hits = np.flatnonzero(labels == wanted)
        if len(hits) == 0 and wanted:
            hits = np.flatnonzero(labels.str.contains(wanted, regex=False))
        if len(hits) == 0:
            raise ExplorerError(f"No movie title contains {title!r}; try a shorter part of it.")
        if len(hits) > 1:
            best = hits[np.argsort(-self.n_ratings[hits], kind="stable")[:3]]
            options = "; ".join(self.labels().iloc[best])
            raise ExplorerError(
                f"{len(hits)} titles contain {title!r} (e.g. {options}): pick one from the list."
            )
        return int(hits[0])


@dataclass(frozen=True)
class Filters:
    """What the learner asked for; ``years=None`` keeps every year (and movies without one)."""

    genres: tuple[str, ...] = ()
    match: Literal["any", "all"] = "any"
    years: tuple[int, int] | None = None
    min_stars: float = STARS[0]
    min_ratings: int = 1
    hide_rated: bool = True
    k: int = 10
    order: Literal["top", "least"] = "top"


@dataclass(frozen=True)
class Recommendations:
    """A results table, the catalogue rows behind it, and the status line to show above it."""

    table: pd.DataFrame
    positions: np.ndarray
    status: str


def recommend(
    catalogue: Catalogue, scores: np.ndarray, rated: np.ndarray, filters: Filters, stars: np.ndarray
) -> Recommendations:
    """Filter, rank by ``scores`` (the top, or the bottom: the movies the user is least likely to
    pick, not those it would rate lowest) and tabulate with the predicted ``stars``."""
    unknown = sorted(set(filters.genres) - set(catalogue.genres))
    if unknown:
        raise ExplorerError(f"Unknown genre(s) {unknown}; choose from {list(catalogue.genres)}.")
    if int(filters.k) < 1:
        raise ExplorerError(f"K must be at least 1 (got {filters.k}).")
    if filters.years is not None and filters.years[0] > filters.years[1]:
        raise ExplorerError(f"The year range {filters.years} is empty: put the earlier year first.")
    steps = [("movies in the catalogue", np.ones(len(catalogue), bool))]  # an empty list says why
    if filters.hide_rated:
        steps.append(("not rated by the user", ~np.isin(np.arange(len(catalogue)), rated)))
    if filters.genres:
        hot = catalogue.genre_hot[:, [catalogue.genres.index(g) for g in filters.genres]]
        joined = (" or " if filters.match == "any" else " and ").join(filters.genres)
        steps.append((f"in {joined}", hot.any(1) if filters.match == "any" else hot.all(1)))
    if filters.years is not None:
        low, high = filters.years
        steps.append((f"released {low}-{high}", (catalogue.year >= low) & (catalogue.year <= high)))
    if (least := filters.min_ratings) > 1:
        steps.append((f"with at least {least} ratings", catalogue.n_ratings >= least))
    if (floor := filters.min_stars) > STARS[0]:
        steps.append((f"predicted at least {floor:g} stars", stars >= floor))
    names, masks = zip(*steps, strict=True)
    masks = np.logical_and.accumulate(masks)  # each step keeps what the steps before it kept
    remaining = int(masks[-1].sum())
    if not remaining:
        chain = " -> ".join(f"{int(m.sum()):,} {n}" for n, m in zip(names, masks, strict=True))
        culprit = names[masks.any(axis=1).argmin()]  # the first step that kept nothing
        raise ExplorerError(f"No movie passes the filters: {chain}. Relax the filter '{culprit}'.")
    signed = np.where(masks[-1], scores if filters.order == "top" else -scores, -np.inf)
    positions = top_k(signed[None, :], min(int(filters.k), remaining))[0]
    table = catalogue.movies.iloc[positions][["title", "year", "genres", "ratings"]]
    table.insert(3, "predicted stars", clip(stars[positions]).round(2))
    table.index = pd.RangeIndex(1, len(positions) + 1, name="rank")
    which = "Top" if filters.order == "top" else "Least likely"
    status = f"{which} {len(positions)} of {remaining:,} movies that pass the filters."
    if remaining < filters.k:
        passes = "movie passes" if remaining == 1 else "movies pass"
        status = f"Only {remaining:,} {passes} the filters (you asked for {filters.k}): all shown."
    return Recommendations(table, positions, status)


class Scores:
    """Each user's scores (any recommender's ``score``) for every catalogue movie, computed once:
    small data as one users x movies matrix, MovieLens 25M per user when shown, in an LRU cache."""

    def __init__(self, score, user_ids: np.ndarray, movie_ids: np.ndarray, cache: int = 256):
        self.score, self.movie_ids, self.user_ids = score, movie_ids, np.sort(user_ids)
        self.matrix, self.cache = None, lru_cache(cache)(self._one)
        if len(user_ids) * len(movie_ids) <= PRECOMPUTE_LIMIT:
            chunks = np.split(self.user_ids, range(1024, len(self.user_ids), 1024))
            self.matrix = np.concatenate([score(c, movie_ids) for c in chunks]).astype(np.float32)

    def _one(self, user: int) -> np.ndarray:
        return np.asarray(self.score(np.array([user]), self.movie_ids)[0], np.float32)

    def __call__(self, user: int) -> np.ndarray:
        row = int(np.searchsorted(self.user_ids, user))
        if row == len(self.user_ids) or self.user_ids[row] != user:
            raise ExplorerError(f"User {user} has no scores; pick a user from the list.")
        return self.cache(user) if self.matrix is None else self.matrix[row]


def user_row(rated: Rated, text: object) -> int:
    """The user id typed in ``text``; a malformed or unknown id says which ids exist."""
    try:
        user = int(str(text).strip())
    except ValueError:
        raise ExplorerError(
            f"{text!r} is not a user id: type a whole number such as {rated.user_ids[0]}."
        ) from None
    try:
        return rated.require_user(user)
    except ValueError as unknown:  # the explorer shows its own errors: the same sentence
        raise ExplorerError(str(unknown)) from None


class YourRatings:
    """The ratings you gave in the explorer: catalogue rows and stars, in the order given."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue, self.stars = catalogue, {}

    def add(self, title: str, stars: float) -> int:
        """Rate a movie (a full title from the list, or a part only one title has)."""
        low, high, given = *STARS, float(stars)
        if not (low <= given <= high and (2 * given).is_integer()):
            raise ExplorerError(
                f"{stars} is not a rating: give {low:g} to {high:g} stars in half stars."
            )
        position = self.catalogue.find(title)
        self.stars[position] = given
        return position

    def remove(self, title: str) -> None:
        """Forget your rating of a movie; one you have not rated is an error, not a no-op."""
        position = self.catalogue.find(title)
        if position not in self.stars:
            label = self.catalogue.labels().iloc[position]
            raise ExplorerError(f"You have not rated {label!r}, so there is nothing to remove.")
        del self.stars[position]


def for_you(
    model, catalogue: Catalogue, yours: YourRatings, filters: Filters
) -> tuple[Recommendations, np.ndarray]:
    """Your list and rated rows, your ratings folded into ``model`` as :data:`YOU` (no training)."""
    if not yours.stars:
        raise ExplorerPrompt(
            "Rate a movie you have seen (search its title, pick stars, Add) to get your list."
        )
    rated, ids, you = np.fromiter(yours.stars, np.int64), catalogue.movie_ids, np.array([YOU])
    given = np.fromiter(yours.stars.values(), np.float32)
    order = np.arange(len(rated))  # timestamps: your ratings in the order you gave them
    frame = {"userId": YOU, "movieId": ids[rated], "rating": given, "timestamp": order}
    joined = model.fold_in(pd.DataFrame(frame))
    scores, stars = joined.score(you, ids)[0], joined.predict(np.full(len(ids), YOU), ids)
    return recommend(catalogue, scores, rated, filters, stars), rated


def because_you_liked(
    vectors: np.ndarray, positions: np.ndarray, rated: np.ndarray, stars: np.ndarray
) -> pd.DataFrame:
    """For each recommended row, the movie rated :data:`EXPLAINING_STARS`+ (else the best 3) nearest
    by cosine of mean-centred vectors (the direction all movies share says nothing)."""
    known = rated >= 0
    rated, stars = rated[known], stars[known]
    if len(rated) == 0:
        raise ExplorerError(
            "Nothing to explain: no rated movie is in the catalogue; rate one that is."
        )
    if len(positions) == 0:
        raise ExplorerError("Nothing to explain: pass at least one catalogue row to explain.")
    good = stars >= EXPLAINING_STARS
    liked = rated[good] if good.any() else rated[np.argsort(-stars, kind="stable")[:3]]
    centred = vectors - vectors.mean(axis=0)
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    similarity = np.round(unit[positions] @ unit[liked].T, 2)  # rounded: near-ties to the first
    nearest = similarity.argmax(axis=1)
    best = similarity[np.arange(len(positions)), nearest]
    return pd.DataFrame({"position": positions, "liked": liked[nearest], "similarity": best})
