"""Synthetic MovieLens-shaped data sets at any size, in the ml-25m file layout.

There is no real 25M-rating data on the course machines, so the scale benchmark and the
``ml-25m`` dry runs use this generator. What it imitates (measured on ml-25m):

* users: ids 1..n, at least 20 ratings each, long-tailed (lognormal) activity, mean ~154;
* movies: non-contiguous ids, Zipf-like popularity (a few blockbusters, a long tail), ~5 % never
  rated, multi-hot genres with MovieLens' genre frequencies, a release year in every title;
* ratings: the half-star grid with MovieLens' marginal distribution (4.0, then 3.0, most common),
  generated as user bias + movie bias + a low-rank user-movie fit + noise, so models can learn;
* timestamps between 1995 and 2019, never before the movie's release year;
* tags from ~9 % of users, and a Tag Genome (1,128 tags) for the most popular ~22 % of movies,
  driven by the same latent factors (so genome features carry signal).

Every file says it is synthetic: titles read ``Synthetic Movie 123 (1995)``, tags
``synthetic tag 17``, and the folder holds a README.txt. Point the kit at it with
``MOVIELENS_DATASET=/path/to/folder``. Command line::

    python -m tools.synthetic --out data/synthetic/ratings-25M --ratings 25000000
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from tqdm.auto import tqdm

# ml-25m's genre frequencies (share of the 62,423 movies carrying each genre).
GENRES = {
    "Drama": 0.410, "Comedy": 0.270, "Thriller": 0.139, "Romance": 0.124, "Action": 0.118,
    "Horror": 0.096, "Documentary": 0.090, "Crime": 0.085, "Adventure": 0.066, "Sci-Fi": 0.058,
    "Children": 0.047, "Animation": 0.047, "Mystery": 0.047, "Fantasy": 0.044, "War": 0.030,
    "Western": 0.022, "Musical": 0.017, "Film-Noir": 0.006, "IMAX": 0.003,
}  # fmt: skip
NO_GENRES = "(no genres listed)"
STARS = np.arange(1, 11) / 2  # 0.5 .. 5.0
# ml-25m's share of each half-star value, 0.5 .. 5.0.
STAR_SHARES = np.array([0.016, 0.031, 0.016, 0.066, 0.050, 0.196, 0.126, 0.266, 0.085, 0.145])
STAR_TEXT = pa.array([f"{s:.1f}" for s in STARS])
FIRST_TS, LAST_TS = 789_652_009, 1_574_327_703  # ml-25m's first and last rating (1995..2019)
YEAR_1970 = 1970
SECONDS_PER_YEAR = 31_556_952
GENOME_TAGS = 1128
FACTORS = 8
MIN_RATINGS = 20
CHUNK = 2_000_000


@dataclass(frozen=True)
class Shape:
    """How many users and movies a synthetic data set of ``n_ratings`` gets by default."""

    n_ratings: int
    n_users: int
    n_movies: int

    @classmethod
    def default(
        cls, n_ratings: int, n_users: int | None = None, n_movies: int | None = None
    ) -> Shape:
        """ml-25m proportions: ~154 ratings per user; movies grow like sqrt(ratings), 62k at 25M."""
        users = n_users or max(10, round(n_ratings / 154))
        movies = n_movies or int(min(62_423, max(200, 12.5 * np.sqrt(n_ratings))))
        return cls(n_ratings, users, movies)


def _write_csv(columns: dict[str, pa.Array | np.ndarray], path: Path, header: bool) -> None:
    """Append columns to a CSV without quotes (no synthetic value contains a comma)."""
    table = pa.table(columns)
    with open(path, "ab") as handle:
        if header:
            handle.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(
            table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none")
        )


def _user_counts(rng: np.random.Generator, shape: Shape, cap: int) -> np.ndarray:
    """Ratings per user: 20 + a lognormal tail (median ~71, mean ~154), summing to n_ratings."""
    extra_total = shape.n_ratings - MIN_RATINGS * shape.n_users
    if extra_total < 0:
        raise ValueError(
            f"{shape.n_ratings:,} ratings cannot give {shape.n_users:,} users {MIN_RATINGS} each: "
            f"use at most {shape.n_ratings // MIN_RATINGS:,} users or more ratings."
        )
    if cap < MIN_RATINGS or shape.n_ratings > cap * shape.n_users:
        raise ValueError(
            f"{shape.n_movies:,} movies are too few for {shape.n_ratings:,} ratings by "
            f"{shape.n_users:,} users (a user rates at most {cap:,}): add movies or users."
        )
    tail = rng.lognormal(mean=3.93, sigma=1.39, size=shape.n_users)
    counts = MIN_RATINGS + np.floor(tail * extra_total / tail.sum()).astype(np.int64)
    for _ in range(100):  # cap the heaviest users, hand their excess to the others
        counts = np.minimum(counts, cap)
        missing = shape.n_ratings - int(counts.sum())
        if missing == 0:
            break
        room = np.flatnonzero(counts < cap)
        np.add.at(counts, rng.choice(room, size=missing, replace=True), 1)
    return counts


def _popularity(rng: np.random.Generator, n_movies: int) -> np.ndarray:
    """Sampling weights: Zipf with an offset over a random ranking; ~5 % of movies never rated."""
    rank = rng.permutation(n_movies)
    weights = (rank + max(10, n_movies // 100)) ** -1.8
    weights[rng.random(n_movies) < 0.05] = 0.0
    return weights / weights.sum()


def _rated_pairs(
    rng: np.random.Generator, counts: np.ndarray, popularity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, movie) index pairs, ``counts[u]`` per user, sorted by user then movie.

    Movies are drawn by popularity and duplicates dropped; each round redraws only what is
    missing, and the last rounds draw uniformly so heavy users also reach the long tail.
    """
    n_movies = len(popularity)
    rated = np.flatnonzero(popularity > 0)
    uniform = np.zeros(n_movies)
    uniform[rated] = 1.0 / len(rated)
    keys = np.empty(0, dtype=np.int64)
    deficit = counts.copy()
    for round_ in range(40):
        users = np.repeat(np.arange(len(counts), dtype=np.int64), deficit)
        weights = popularity if round_ < 3 else uniform
        movies = rng.choice(n_movies, size=len(users), p=weights)
        keys = _sorted_unique(np.concatenate([keys, users * n_movies + movies]))
        have = np.bincount(keys // n_movies, minlength=len(counts))
        deficit = counts - have
        if not deficit.any():
            break
    else:
        raise RuntimeError("could not draw enough distinct movies per user; add movies.")
    return (keys // n_movies).astype(np.int32), (keys % n_movies).astype(np.int32)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort beats numpy 2's hash-based ``np.unique`` here by ~10x)."""
    values.sort()
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


class _World:
    """The hidden truth behind the ratings: biases, latent factors, genres, years, activity."""

    def __init__(self, rng: np.random.Generator, shape: Shape):
        n_users, n_movies = shape.n_users, shape.n_movies
        self.movie_ids = np.sort(
            rng.choice(np.arange(1, 3 * n_movies + 1), n_movies, replace=False)
        )
        self.genres = self._genres(rng, n_movies)
        genre_axes = rng.normal(0, 1, (len(GENRES), FACTORS)).astype(np.float32)
        from_genres = (
            self.genres @ genre_axes / np.sqrt(np.maximum(self.genres.sum(1, keepdims=True), 1))
        )
        noise = rng.normal(0, 1, (n_movies, FACTORS)).astype(np.float32)
        self.movie_factors = (0.5 * (0.6 * from_genres + 0.8 * noise)).astype(np.float32)
        self.user_factors = rng.normal(0, 0.5, (n_users, FACTORS)).astype(np.float32)
        self.user_bias = rng.normal(0, 0.45, n_users).astype(np.float32)
        self.movie_bias = rng.normal(0, 0.5, n_movies).astype(np.float32)
        age = np.minimum(rng.exponential(18, n_movies), 2019 - 1902).astype(np.int16)
        self.year = (2019 - age).astype(np.int16)
        self.no_year = rng.random(n_movies) < 0.005
        release = (self.year.astype(np.int64) - YEAR_1970) * SECONDS_PER_YEAR
        self.release_ts = np.clip(release, FIRST_TS, LAST_TS)
        self.user_start = rng.uniform(FIRST_TS, LAST_TS, n_users)
        session = np.where(rng.random(n_users) < 0.5, 3600.0, 86_400.0 * 365)
        self.user_span = rng.exponential(1.0, n_users) * session

    @staticmethod
    def _genres(rng: np.random.Generator, n_movies: int) -> np.ndarray:
        """Multi-hot [movies, 19] with MovieLens frequencies; ~8 % carry no genre at all."""
        shares = np.array(list(GENRES.values()))
        hot = rng.random((n_movies, len(GENRES))) < shares
        empty = ~hot.any(1)
        hot[empty, rng.choice(len(GENRES), empty.sum(), p=shares / shares.sum())] = True
        hot[rng.random(n_movies) < 0.08] = False
        return hot.astype(np.float32)

    def score(self, rng: np.random.Generator, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Continuous taste: biases + low-rank fit + noise (mapped to half stars later)."""
        fit = np.einsum("ij,ij->i", self.user_factors[users], self.movie_factors[movies])
        noise = rng.normal(0, 0.7, len(users)).astype(np.float32)
        return self.user_bias[users] + self.movie_bias[movies] + fit + noise

    def timestamps(
        self, rng: np.random.Generator, users: np.ndarray, movies: np.ndarray
    ) -> np.ndarray:
        """Seconds since 1970: inside the user's active span, never before the movie came out."""
        ts = self.user_start[users] + rng.random(len(users)) * self.user_span[users]
        after = self.release_ts[movies] + rng.random(len(users)) * 86_400 * 90
        return np.clip(np.maximum(ts, after), FIRST_TS, LAST_TS).astype(np.int64)


def _star_cuts(
    world: _World, rng: np.random.Generator, users: np.ndarray, movies: np.ndarray
) -> np.ndarray:
    """Score thresholds that give MovieLens' half-star shares (quantiles of a sample)."""
    sample = rng.choice(len(users), size=min(len(users), 500_000), replace=False)
    scores = world.score(rng, users[sample], movies[sample])
    return np.quantile(scores, np.cumsum(STAR_SHARES)[:-1])


def _write_ratings(world, rng, users, movies, cuts, path: Path, progress: bool) -> None:
    path.unlink(missing_ok=True)
    for start in tqdm(range(0, len(users), CHUNK), desc="ratings.csv", disable=not progress):
        u, m = users[start : start + CHUNK], movies[start : start + CHUNK]
        stars = np.searchsorted(cuts, world.score(rng, u, m)).astype(np.int8)
        _write_csv(
            {
                "userId": u + 1,
                "movieId": world.movie_ids[m],
                "rating": pa.DictionaryArray.from_arrays(pa.array(stars), STAR_TEXT),
                "timestamp": world.timestamps(rng, u, m),
            },
            path,
            header=start == 0,
        )


def _write_movies(world: _World, folder: Path) -> None:
    alphabetical = np.argsort(list(GENRES))  # MovieLens lists a movie's genres A-Z
    names = np.array(list(GENRES))[alphabetical]
    hot = world.genres.astype(bool)[:, alphabetical]
    genre_text = ["|".join(names[row]) or NO_GENRES for row in hot]
    year = np.where(world.no_year, "", [f" ({y})" for y in world.year])
    titles = [f"Synthetic Movie {i}{y}" for i, y in zip(world.movie_ids, year, strict=True)]
    (folder / "movies.csv").unlink(missing_ok=True)
    _write_csv(
        {"movieId": world.movie_ids, "title": titles, "genres": genre_text},
        folder / "movies.csv",
        True,
    )


def _write_links(world: _World, rng: np.random.Generator, folder: Path) -> None:
    ids = world.movie_ids
    tmdb = pa.array(ids + 900_000, mask=rng.random(len(ids)) < 0.002)  # a few missing, as in ml-25m
    (folder / "links.csv").unlink(missing_ok=True)
    _write_csv(
        {"movieId": ids, "imdbId": [f"{9_000_000 + i:07d}" for i in ids], "tmdbId": tmdb},
        folder / "links.csv",
        True,
    )


def _tag_logits(world: _World, rng: np.random.Generator):
    """A function movie block -> [block, 1128] genome-tag logits (latent factors + genres)."""
    factors = rng.normal(0, 1, (FACTORS, GENOME_TAGS)).astype(np.float32)
    genres = (rng.random((len(GENRES), GENOME_TAGS)) < 0.05).astype(np.float32) * 2.5
    offset = rng.normal(-2.2, 0.8, GENOME_TAGS).astype(np.float32)

    def logits(part: slice) -> np.ndarray:
        return 1.5 * world.movie_factors[part] @ factors + world.genres[part] @ genres + offset

    return logits


def _write_genome(
    world: _World, rng: np.random.Generator, popularity: np.ndarray, folder: Path, progress: bool
) -> np.ndarray:
    """Genome scores for the most popular ~22 % of movies; returns every movie's favourite tag."""
    n_movies = len(world.movie_ids)
    covered = np.sort(np.argsort(-popularity)[: max(1, int(0.22 * n_movies))])
    favourite = np.empty(n_movies, dtype=np.int32)
    path = folder / "genome-scores.csv"
    path.unlink(missing_ok=True)
    block = 2000
    is_covered = np.zeros(n_movies, dtype=bool)
    is_covered[covered] = True
    tag_logits = _tag_logits(world, rng)
    for start in tqdm(range(0, n_movies, block), desc="genome-scores.csv", disable=not progress):
        logits = tag_logits(slice(start, start + block))
        favourite[start : start + block] = logits.argmax(1)
        rows = np.flatnonzero(is_covered[start : start + block])
        if len(rows) == 0:
            continue
        relevance = 1.0 / (
            1.0 + np.exp(-logits[rows] - rng.normal(0, 0.3, (len(rows), GENOME_TAGS)))
        )
        _write_csv(
            {
                "movieId": np.repeat(world.movie_ids[start + rows], GENOME_TAGS),
                "tagId": np.tile(np.arange(1, GENOME_TAGS + 1, dtype=np.int32), len(rows)),
                "relevance": np.round(relevance.ravel(), 5),
            },
            path,
            header=not path.exists(),
        )
    if not path.exists():
        _write_csv(
            {
                "movieId": np.empty(0, np.int32),
                "tagId": np.empty(0, np.int32),
                "relevance": np.empty(0),
            },
            path,
            True,
        )
    tags = [f"synthetic tag {t}" for t in range(1, GENOME_TAGS + 1)]
    (folder / "genome-tags.csv").unlink(missing_ok=True)
    _write_csv(
        {"tagId": np.arange(1, GENOME_TAGS + 1, dtype=np.int32), "tag": tags},
        folder / "genome-tags.csv",
        True,
    )
    return favourite


def _write_tags(world, rng, users, movies, favourite, n_users: int, folder: Path) -> None:
    """~0.044 tags per rating, by ~9 % of users, half of them the movie's favourite genome tag."""
    taggers = rng.random(n_users) < 0.09
    pool = np.flatnonzero(taggers[users])
    n_tags = min(len(pool), round(0.044 * len(users))) if len(pool) else 0
    pick = np.sort(rng.choice(pool, size=n_tags, replace=False)) if n_tags else pool[:0]
    u, m = users[pick], movies[pick]
    zipf = np.minimum(rng.zipf(1.3, n_tags), GENOME_TAGS) - 1
    tag = np.where(rng.random(n_tags) < 0.5, favourite[m], zipf) + 1
    (folder / "tags.csv").unlink(missing_ok=True)
    _write_csv(
        {
            "userId": u + 1,
            "movieId": world.movie_ids[m],
            "tag": [f"synthetic tag {t}" for t in tag],
            "timestamp": world.timestamps(rng, u, m),
        },
        folder / "tags.csv",
        True,
    )


README = """SYNTHETIC DATA - NOT MOVIELENS

This folder was written by `python -m tools.synthetic` (the course kit's generator). It has the
file layout of GroupLens' ml-25m release so the kit can read it (MOVIELENS_DATASET={folder}),
but every user, movie, rating, tag and genome score in it is random: titles read
"Synthetic Movie <id> (<year>)" and tags "synthetic tag <n>". Numbers measured on it describe
speed and memory, never recommendation quality on real MovieLens.

ratings: {n_ratings:,}   users: {n_users:,}   movies: {n_movies:,}   seed: {seed}
Shape: lognormal user activity (>= 20 ratings each), Zipf-like movie popularity, MovieLens'
half-star distribution, ratings = user bias + movie bias + rank-{factors} fit + noise.
"""


def generate(
    folder: Path | str,
    n_ratings: int = 100_000,
    n_users: int | None = None,
    n_movies: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write a synthetic ml-25m-layout data set of ``n_ratings`` ratings into ``folder``."""
    shape = Shape.default(n_ratings, n_users, n_movies)
    rng = np.random.default_rng(seed)
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    world = _World(rng, shape)
    popularity = _popularity(rng, shape.n_movies)
    cap = int((popularity > 0).sum() * 0.5)
    counts = _user_counts(rng, shape, cap)
    users, movies = _rated_pairs(rng, counts, popularity)
    cuts = _star_cuts(world, rng, users, movies)
    _write_ratings(world, rng, users, movies, cuts, folder / "ratings.csv", progress)
    _write_movies(world, folder)
    _write_links(world, rng, folder)
    favourite = _write_genome(world, rng, popularity, folder, progress)
    _write_tags(world, rng, users, movies, favourite, shape.n_users, folder)
    text = README.format(folder=folder, seed=seed, factors=FACTORS, **vars(shape))
    (folder / "README.txt").write_text(text)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic MovieLens-shaped data set.")
    parser.add_argument("--out", required=True, help="folder to write (created if needed)")
    parser.add_argument("--ratings", type=int, default=100_000, help="number of ratings")
    parser.add_argument("--users", type=int, default=None, help="default: ratings / 154")
    parser.add_argument(
        "--movies", type=int, default=None, help="default: 12.5 sqrt(ratings), <= 62,423"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    folder = generate(args.out, args.ratings, args.users, args.movies, args.seed)
    print(f"wrote {folder} in {time.perf_counter() - started:.0f} s (synthetic, see README.txt)")


if __name__ == "__main__":
    main()
