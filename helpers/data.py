"""Load the MovieLens tables, typed and validated, through a parquet cache (notebook 01).

:mod:`helpers.download` brings each table's CSV; here it is typed, checked against its schema and
kept as a parquet copy, which is rebuilt from the CSV when its bytes changed, never read.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import download
from helpers.download import DataError, Source, write_atomically  # data.DataError for notebooks
from helpers.settings import Settings

STARS = (0.5, 5.0)  # MovieLens' rating scale: every prediction shown or scored is clipped to it
# Column -> dtype of every table as the kit uses them (int32/float32 keep 25M in memory).
SCHEMAS = {
    "ratings": {"userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"},
    "movies": {"movieId": "int32", "title": "string", "genres": "string"},
    "tags": {"userId": "int32", "movieId": "int32", "tag": "string", "timestamp": "int64"},
    "links": {"movieId": "int32", "imdbId": "string", "tmdbId": "Int64"},
    "genome-scores": {"movieId": "int32", "tagId": "int32", "relevance": "float32"},
    "genome-tags": {"tagId": "int32", "tag": "string"},
}
GENOME_HELP = (
    "set MOVIELENS_GENOME to a genome-scores.csv, or MOVIELENS_GENOME=ml-25m to download "
    "ml-25m.zip (262 MB) once"
)


def read_table(source: Source, table: str, settings: Settings) -> pd.DataFrame:
    """The table typed and validated, through a parquet copy named by the CSV's content, with the
    SHA-256 of the copy's bytes beside it (``<name>.parquet.sha256``)."""
    key = hashlib.sha256(f"{table}|{source.key}".encode()).hexdigest()[:20]
    cached = settings.cache / "parquet" / f"{table}-{key}.parquet"
    digest = cached.with_name(f"{cached.name}.sha256")
    try:
        if (frame := read_cached(cached, digest)) is not None:
            return frame
        frame = typed(read_csv(source), table, source.name)  # DataError, never OSError
        write_atomically(cached, lambda scratch: frame.to_parquet(scratch, index=False))
        sha256 = hashlib.sha256(cached.read_bytes()).hexdigest()
        write_atomically(digest, lambda scratch: scratch.write_text(sha256))
    except OSError as error:  # a full disk, or a cache that is not a folder one may write
        raise download.unwritable_cache(settings, error) from error
    return frame


def read_csv(source: Source) -> pd.DataFrame:
    """The CSV's cells as strings; DataError when it cannot be opened or parsed."""
    try:
        with source.open() as handle:
            return pd.read_csv(handle, engine="pyarrow", dtype="string", encoding="utf-8-sig")
    except DataError:
        raise
    except Exception as error:  # an OSError, or one of pyarrow's several types for a bad CSV
        raise DataError(f"{source.name} is not a readable CSV ({error}).") from error


def read_cached(cached: Path, digest: Path) -> pd.DataFrame | None:
    """The parquet copy if its bytes still have the SHA-256 stored in ``digest``, else None
    (missing, cut short or overwritten: it is rebuilt from the CSV)."""
    try:
        raw, expected = cached.read_bytes(), digest.read_text().strip()
    except FileNotFoundError:  # other OSErrors: the cache itself is unusable (read_table)
        return None
    if hashlib.sha256(raw).hexdigest() == expected:
        try:
            return pd.read_parquet(io.BytesIO(raw))
        except Exception:  # pyarrow raises several types for a file it cannot read
            pass
    cached.unlink(missing_ok=True)
    return None


def typed(frame: pd.DataFrame, table: str, source: str = "table") -> pd.DataFrame:
    """The schema's columns with their dtypes; raise :class:`DataError` naming any problem."""
    schema = SCHEMAS[table]
    frame.columns = [column.strip().strip('"') for column in frame.columns]
    if missing := [column for column in schema if column not in frame.columns]:
        raise DataError(
            f"{source} lacks the column(s) {missing} of a MovieLens {table} table (it has "
            f"{list(frame.columns)}). Is it the right file?"
        )
    frame = frame[list(schema)]
    if empty := [c for c in frame.columns if c != "tmdbId" and frame[c].isna().any()]:
        raise DataError(f"{source}: empty values in {empty}.")
    try:
        frame = frame.astype(schema)
    except (ValueError, TypeError, OverflowError) as error:  # OverflowError: beyond int32
        raise DataError(
            f"{source}: a column has values of the wrong type or out of range ({error})."
        ) from error
    keys = {"ratings": ["userId", "movieId"], "movies": ["movieId"], "links": ["movieId"]}
    if table in keys and (count := int(frame.duplicated(keys[table]).sum())):
        raise DataError(f"{source}: {count:,} duplicate {tuple(keys[table])} rows.")
    if table == "ratings" and len(bad := frame["rating"][~frame["rating"].between(*STARS)]):
        scale = f"{STARS[0]:g}..{STARS[1]:g}"
        raise DataError(f"{source}: {len(bad):,} ratings outside {scale} (e.g. {bad.iloc[0]}).")
    if table == "genome-scores" and not frame["relevance"].between(0.0, 1.0).all():
        raise DataError(f"{source}: genome relevance values outside 0..1.")
    return frame


def load_table(table: str, settings: Settings, dataset: str | None = None) -> pd.DataFrame:
    """One table (``ratings``, ``movies``, ``tags``, ``links``, ``genome-*``) of a data set."""
    if table not in SCHEMAS:
        raise DataError(f"Unknown table {table!r}; choose one of {list(SCHEMAS)}.")
    return read_table(download.table_source(table, settings, dataset), table, settings)


def has_table(table: str, settings: Settings) -> bool:
    """Whether the data set has ``table`` (a folder may lack tags.csv; releases have it)."""
    folder = Path(settings.dataset).expanduser()
    return settings.dataset in download.RELEASES or (folder / f"{table}.csv").exists()


def load_ratings(settings: Settings) -> pd.DataFrame:
    """Ratings in file order (the protocol split depends on it), of a user sample if asked."""
    ratings = load_table("ratings", settings)
    if settings.user_sample:
        ratings = sample_users(ratings, settings.user_sample)
    if ratings.empty:
        raise DataError("The ratings table has no rows: there is nothing to learn from.")
    return ratings


def sample_users(ratings: pd.DataFrame, users: int, seed: int = 0) -> pd.DataFrame:
    """The ratings of ``users`` users drawn at random (seeded), in their original order."""
    ids = ratings["userId"].unique()
    if users > len(ids):
        raise DataError(
            f"Cannot sample {users:,} users: the data set has only {len(ids):,}. "
            "Lower MOVIELENS_USER_SAMPLE or unset it."
        )
    chosen = np.random.default_rng(seed).choice(ids, size=users, replace=False)
    return ratings[ratings["userId"].isin(chosen)].reset_index(drop=True)


def load_movies(settings: Settings) -> pd.DataFrame:
    """Movies with ``title``, ``genres`` (``|``-separated) and ``year`` parsed from the title."""
    movies = load_table("movies", settings)
    year = movies["title"].str.extract(r"\((\d{4})\)\s*$", expand=False)
    return movies.assign(year=pd.to_numeric(year).astype("Int16"))


def load_tags(settings: Settings) -> pd.DataFrame:
    """User-applied free-text tags."""
    return load_table("tags", settings)


def _genome_source(settings: Settings, table: str) -> Source | None:
    """Where the genome's ``table`` is read from, or None where there is none."""
    choice = settings.genome
    if choice and choice.lower() == "none":
        return None
    if choice in download.RELEASES or (choice is None and settings.dataset in ("ml-25m", "ml-20m")):
        return download.table_source(table, settings, choice or settings.dataset)
    if choice is None:  # a folder's own genome; the other releases (ml-latest-small) have none
        own = settings.dataset not in download.RELEASES and has_table(table, settings)
        return download.table_source(table, settings) if own else None
    path = Path(choice).expanduser()
    if table == "genome-tags":  # the tag names beside the scores (GroupLens or Kaggle name)
        path = next(iter(sorted(path.parent.glob("genome[-_]tags*.csv"))), None)
        return download.file_source(path) if path else None
    if not path.exists():
        raise DataError(f"MOVIELENS_GENOME={choice!r} does not exist; {GENOME_HELP}.")
    return download.file_source(path)


def load_genome(settings: Settings, movie_ids: np.ndarray | None = None) -> pd.DataFrame | None:
    """Tag Genome relevance (movieId, tagId, relevance), or None where none is configured: ml-25m
    and ml-20m bring their own; ``MOVIELENS_GENOME`` names a genome-scores.csv or a release."""
    source = _genome_source(settings, "genome-scores")
    if source is None:
        return None
    scores = read_table(source, "genome-scores", settings)
    if movie_ids is not None:
        scores = scores[scores["movieId"].isin(movie_ids)]
    return scores.reset_index(drop=True)


def load_genome_tags(settings: Settings) -> pd.DataFrame | None:
    """The genome's tag names (tagId, tag), or None where they are not at hand."""
    source = _genome_source(settings, "genome-tags")
    return read_table(source, "genome-tags", settings) if source else None


@dataclass(frozen=True)
class MovieData:
    """What feature blocks read besides ratings: the catalogue, and genome and tags if any."""

    movies: pd.DataFrame
    genome: pd.DataFrame | None = None
    genome_tags: pd.DataFrame | None = None
    tags: pd.DataFrame | None = None


def load_movie_data(settings: Settings) -> MovieData:
    """The movies, genome and user tags of the configured data set (notebooks 03-08)."""
    tags = load_tags(settings) if has_table("tags", settings) else None
    return MovieData(load_movies(settings), load_genome(settings), load_genome_tags(settings), tags)
