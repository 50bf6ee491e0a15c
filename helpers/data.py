"""Find, download, verify, cache and load MovieLens tables.

The one switch: ``MOVIELENS_DATASET`` selects the data set every notebook uses (a release such as
``ml-25m``, or a folder); ``MOVIELENS_USER_SAMPLE=N`` keeps the ratings of N users drawn at
random (seeded), for the student notebook's sub-graph experiments.

Where the files come from, in order:

1. ``MOVIELENS_DATASET`` may name a folder in MovieLens CSV layout (your own data, or the
   synthetic generator's output): it is read as it is.
2. The cache (``MOVIELENS_CACHE``, default ``<repo>/data``, git-ignored) holds archives that were
   fetched and verified before.
3. A local mirror (``MOVIELENS_MIRROR``): a folder, ``file://`` or ``http(s)://`` base laid out
   like GroupLens' ``datasets/movielens/`` folder (``ml-latest-small.zip`` ...). A folder may
   also hold the extracted CSVs in ``<name>/``.
4. GroupLens itself.

Every archive is checked against its published checksum before it is used; a partial or corrupt
download is removed and reported. Loaded tables are typed, validated and cached as parquet.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens"
MIRROR_ENV = "MOVIELENS_MIRROR"
CACHE_ENV = "MOVIELENS_CACHE"
DATASET_ENV = "MOVIELENS_DATASET"
GENOME_ENV = "MOVIELENS_GENOME"
USER_SAMPLE_ENV = "MOVIELENS_USER_SAMPLE"
DEFAULT_DATASET = "ml-latest-small"


class DataError(RuntimeError):
    """A MovieLens file is missing, corrupt or unexpected; the message says what to do."""


@dataclass(frozen=True)
class Release:
    """One GroupLens release: its archive name, published checksums and the tables it holds."""

    name: str
    sha256: str | None
    md5: str | None
    size: int | None
    tables: tuple[str, ...]
    file_sha256: dict[str, str] = field(default_factory=dict)


RELEASES: dict[str, Release] = {
    "ml-latest-small": Release(
        "ml-latest-small",
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        md5="31a303aabbc519bd33d025e44d6c2570",
        size=978_202,
        tables=("ratings", "movies", "tags", "links"),
    ),
    "ml-25m": Release(
        "ml-25m",
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
        md5="6b51fb2759a8657d3bfcbfc42b592ada",
        size=261_978_986,
        tables=("ratings", "movies", "tags", "links", "genome-scores", "genome-tags"),
        file_sha256={
            "ratings.csv": "9c85525758597dca76e8d98cebb9c13e018c2317b09a0878b6d383179526e385",
            "genome-scores.csv": "dcee649a8ba5c02b14b5ac5ff34dd27edcf58beff1d902cdf9c114927d1f8f70",
            "tags.csv": "84793c391a8e2a8b93190b5e780f781563a184c413d02ff2104cc2f442e2830a",
            "movies.csv": "c50dea6973e619f9bc1decd4afa3e35358b83a5fb663dac0ec82252a011d023d",
            "links.csv": "dd07bbd9aa8e76d263d8323ddd18ec87b6e00a79a68a5896afe9a737af22322b",
            "genome-tags.csv": "c84bf1e2addbf38432426a2bb2a117a59d76c0873fc875fe8764e92842fd3bfb",
        },
    ),
    "ml-20m": Release(
        "ml-20m",
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        md5="cd245b17a1ae2cc31bb14903e1204af3",
        size=198_702_078,
        tables=("ratings", "movies", "tags", "links", "genome-scores", "genome-tags"),
    ),
}

# Column name -> dtype of every table, as the kit uses them (int32/float32 keep 25M in memory).
SCHEMAS: dict[str, dict[str, str]] = {
    "ratings": {"userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"},
    "movies": {"movieId": "int32", "title": "string", "genres": "string"},
    "tags": {"userId": "int32", "movieId": "int32", "tag": "string", "timestamp": "int64"},
    "links": {"movieId": "int32", "imdbId": "string", "tmdbId": "Int64"},
    "genome-scores": {"movieId": "int32", "tagId": "int32", "relevance": "float32"},
    "genome-tags": {"tagId": "int32", "tag": "string"},
}


# --------------------------------------------------------------------------- locations


def repo_root() -> Path:
    """The kit's checkout (the folder above ``helpers``)."""
    return Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """Where downloads, extracted archives and parquet copies live (git-ignored)."""
    return Path(os.environ.get(CACHE_ENV) or repo_root() / "data").expanduser()


def dataset_name() -> str:
    """The data set the notebooks use: ``MOVIELENS_DATASET`` or ml-latest-small."""
    return os.environ.get(DATASET_ENV) or DEFAULT_DATASET


def user_sample() -> int | None:
    """``MOVIELENS_USER_SAMPLE`` as a number of users, or None when every user is kept."""
    value = os.environ.get(USER_SAMPLE_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) == 0:
        raise DataError(
            f"{USER_SAMPLE_ENV}={value!r} is not a positive whole number of users; "
            f"set e.g. {USER_SAMPLE_ENV}=10000, or unset it to keep every user."
        )
    return int(value)


def run_label() -> str:
    """A short name for the configured data (set + sample): ``ml-25m-10000users``.

    Results and saved models of anything but the default data set carry it in their file
    names, so a 25M run never overwrites the committed ml-latest-small outputs.
    """
    label = Path(dataset_name()).name
    sample = user_sample()
    return f"{label}-{sample}users" if sample else label


def _mirror_base() -> str | None:
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return None
    if "://" in mirror:
        return mirror.rstrip("/")
    path = Path(mirror).expanduser()
    if not path.is_dir():
        raise DataError(
            f"{MIRROR_ENV}={mirror!r} is not a folder. Point it at a folder laid out like "
            "GroupLens' datasets/movielens/ (holding ml-latest-small.zip ...), or at a file:// "
            "or http:// URL."
        )
    return path.resolve().as_uri()


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(scratch)`` on a scratch file beside ``path``, then rename it to ``path``.

    A crash or a full disk leaves the previous file (or none), never a half-written one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".part")
    try:
        write(scratch)
        scratch.replace(path)
    finally:
        scratch.unlink(missing_ok=True)
    return path


# --------------------------------------------------------------------------- checksums


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks so 25M-sized files need no memory."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(path: Path, release: Release) -> None:
    """Raise :class:`DataError` (and delete the file) unless ``path`` matches the release."""
    problem = None
    if release.size is not None and path.stat().st_size != release.size:
        problem = f"it has {path.stat().st_size:,} bytes, the official archive {release.size:,}"
    elif release.sha256 and file_digest(path, "sha256") != release.sha256:
        problem = "its sha256 differs from the published one"
    elif release.md5 and not release.sha256 and file_digest(path, "md5") != release.md5:
        problem = "its md5 differs from the published one"
    if problem:
        path.unlink(missing_ok=True)
        raise DataError(
            f"{path.name} is corrupt or incomplete ({problem}), so it was deleted. "
            "Run the step again to download a fresh copy; if it keeps failing, check your mirror "
            f"({MIRROR_ENV}) holds the official GroupLens file."
        )


# --------------------------------------------------------------------------- fetching


def _download(url: str, target: Path, expected_size: int | None) -> None:
    """Copy ``url`` to ``target`` with a progress bar; only a complete file ever gets the name."""

    def fetch(scratch: Path) -> None:
        with urllib.request.urlopen(url, timeout=60) as response, open(scratch, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or expected_size
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=f"download {target.name}"
            ) as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))

    write_atomically(target, fetch)


def _fetch_archive(release: Release) -> Path:
    """Return a verified copy of the release's zip in the cache, fetching it if needed."""
    archive = cache_dir() / f"{release.name}.zip"
    if archive.exists():
        verify_archive(archive, release)
        return archive
    base = _mirror_base()
    url = f"{base or GROUPLENS_URL}/{release.name}.zip"
    try:
        _download(url, archive, release.size)
    except (urllib.error.URLError, OSError) as error:
        where = f"the mirror {base}" if base else "GroupLens"
        raise DataError(
            f"Could not fetch {release.name}.zip from {where} ({error}). If this machine is "
            f"offline, set {MIRROR_ENV} to a folder holding {release.name}.zip (for example "
            f"`export {MIRROR_ENV}=../shared/data/movielens`), or put the zip in {cache_dir()}."
        ) from error
    verify_archive(archive, release)
    return archive


def _extract(archive: Path, destination: Path) -> None:
    """Unzip into a temporary folder first so an interrupted run leaves nothing half-written."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        try:
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(scratch)
        except zipfile.BadZipFile as error:
            archive.unlink(missing_ok=True)
            raise DataError(f"{archive} is not a valid zip; it was deleted, run again.") from error
        shutil.rmtree(destination, ignore_errors=True)
        Path(scratch, destination.name).replace(destination)


def dataset_dir(name: str | None = None) -> Path:
    """A folder holding the CSVs of ``name`` (a GroupLens release or a folder path)."""
    name = name or dataset_name()
    if name not in RELEASES:
        folder = Path(name).expanduser()
        if folder.is_dir():
            return folder
        known = ", ".join(RELEASES)
        raise DataError(f"Unknown data set {name!r}: use one of {known}, or a folder of CSVs.")
    extracted = cache_dir() / name
    if (extracted / "ratings.csv").exists():
        return extracted
    mirror = os.environ.get(MIRROR_ENV)
    if mirror and "://" not in mirror and (Path(mirror) / name / "ratings.csv").exists():
        if not (Path(mirror) / f"{name}.zip").exists():
            return Path(mirror).expanduser() / name
    _extract(_fetch_archive(RELEASES[name]), extracted)
    return extracted


def _csv_for(table: str, name: str | None) -> Path:
    """The CSV of ``table`` for data set ``name``, looking beside the ratings and in the mirror."""
    name = name or dataset_name()
    filename = f"{table}.csv"
    mirror = os.environ.get(MIRROR_ENV)
    if table != "ratings" and mirror and "://" not in mirror and name in RELEASES:
        mirrored = Path(mirror).expanduser() / name / filename
        if mirrored.exists() and not (cache_dir() / name / filename).exists():
            return mirrored  # e.g. ml-25m movies.csv without its (absent) ratings
    path = dataset_dir(name) / filename
    if not path.exists():
        raise DataError(f"{path} does not exist: the data set {name!r} has no {table} table.")
    return path


# --------------------------------------------------------------------------- loading


def _parquet_copy(csv: Path) -> Path:
    stat = csv.stat()
    key = hashlib.sha1(f"{csv.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    return cache_dir() / "parquet" / f"{csv.stem}-{key[:12]}.parquet"


def read_table(csv: Path | str, table: str) -> pd.DataFrame:
    """Read one MovieLens CSV with typed columns, validated, through a parquet cache."""
    csv = Path(csv)
    if not csv.exists():
        raise DataError(f"{csv} does not exist. Check the path or run the download step again.")
    cached = _parquet_copy(csv)
    if cached.exists():
        return pd.read_parquet(cached)
    schema = SCHEMAS[table]
    try:
        frame = pd.read_csv(csv, engine="pyarrow", encoding="utf-8-sig", dtype="string")
    except Exception as error:  # pyarrow raises several types for malformed CSVs
        raise DataError(f"{csv} is not a readable CSV ({error}).") from error
    frame.columns = [column.strip().strip('"') for column in frame.columns]
    missing = [column for column in schema if column not in frame.columns]
    if missing:
        raise DataError(
            f"{csv} lacks the column(s) {missing} of a MovieLens {table} table "
            f"(it has {list(frame.columns)}). Is it the right file?"
        )
    frame = frame[list(schema)]
    try:
        frame = frame.astype(schema)
    except (ValueError, TypeError) as error:
        raise DataError(f"{csv}: a column has values of the wrong type ({error}).") from error
    validate(frame, table, source=str(csv))
    write_atomically(cached, lambda scratch: frame.to_parquet(scratch, index=False))
    return frame


def validate(frame: pd.DataFrame, table: str, source: str = "table") -> None:
    """Check the invariants the kit relies on; raise :class:`DataError` naming the problem."""
    keys = {"ratings": ["userId", "movieId"], "movies": ["movieId"], "links": ["movieId"]}
    if table in keys and frame.duplicated(keys[table]).any():
        count = int(frame.duplicated(keys[table]).sum())
        raise DataError(f"{source}: {count:,} duplicate {tuple(keys[table])} rows.")
    if table == "ratings":
        bad = ~frame["rating"].between(0.5, 5.0)
        if bad.any():
            raise DataError(
                f"{source}: {int(bad.sum()):,} ratings outside 0.5..5 "
                f"(e.g. {frame.loc[bad, 'rating'].iloc[0]}). MovieLens ratings are 0.5-5 stars."
            )
    if table == "genome-scores" and not frame["relevance"].between(0.0, 1.0).all():
        raise DataError(f"{source}: genome relevance values outside 0..1.")
    required = [column for column in frame.columns if column != "tmdbId"]
    if frame[required].isna().any().any():
        raise DataError(f"{source}: empty values in {frame.columns[frame.isna().any()].tolist()}.")


def load_table(table: str, name: str | None = None) -> pd.DataFrame:
    """Load one table (``ratings``, ``movies``, ``tags``, ``links``, ``genome-*``) of a data set."""
    if table not in SCHEMAS:
        raise DataError(f"Unknown table {table!r}; choose one of {list(SCHEMAS)}.")
    return read_table(_csv_for(table, name), table)


def load_ratings(name: str | None = None, users: int | None = None) -> pd.DataFrame:
    """Ratings in file order (the protocol split depends on it).

    ``users`` (default: ``MOVIELENS_USER_SAMPLE``) keeps only the ratings of that many users,
    drawn with a fixed seed, still in file order: a sub-graph with each user's full history.
    """
    ratings = load_table("ratings", name)
    users = users or user_sample()
    return sample_users(ratings, users) if users else ratings


def sample_users(ratings: pd.DataFrame, users: int, seed: int = 0) -> pd.DataFrame:
    """The ratings of ``users`` users drawn at random (seeded), in their original order."""
    ids = ratings["userId"].unique()
    if users > len(ids):
        raise DataError(
            f"Cannot sample {users:,} users: the data set has only {len(ids):,}. "
            f"Lower {USER_SAMPLE_ENV} or unset it."
        )
    chosen = np.random.default_rng(seed).choice(ids, size=users, replace=False)
    return ratings[ratings["userId"].isin(chosen)].reset_index(drop=True)


def load_movies(name: str | None = None) -> pd.DataFrame:
    """Movies with ``title``, ``genres`` (``|``-separated) and ``year`` parsed from the title."""
    movies = load_table("movies", name)
    year = movies["title"].str.extract(r"\((\d{4})\)\s*$", expand=False)
    return movies.assign(year=pd.to_numeric(year).astype("Int16"))


def load_tags(name: str | None = None) -> pd.DataFrame:
    """User-applied free-text tags."""
    return load_table("tags", name)


def load_genome(movie_ids: pd.Series | None = None) -> pd.DataFrame:
    """Tag Genome relevance as a long table (movieId, tagId, relevance), possibly empty.

    Source: ``MOVIELENS_GENOME`` (a genome-scores CSV, in GroupLens or Kaggle format, or
    ``none``), else the configured data set's own ``genome-scores.csv`` if it has one, else
    ml-25m's (downloaded on first use). Only ``movie_ids`` are kept when given.
    """
    source = os.environ.get(GENOME_ENV)
    if source and source.lower() == "none":
        scores = pd.DataFrame({c: pd.Series(dtype=t) for c, t in SCHEMAS["genome-scores"].items()})
    elif source:
        scores = read_table(Path(source).expanduser(), "genome-scores")
    else:
        try:
            scores = load_table("genome-scores")
        except DataError:
            scores = load_table("genome-scores", "ml-25m")
    if movie_ids is not None:
        scores = scores[scores["movieId"].isin(movie_ids)]
    return scores.reset_index(drop=True)


def load_genome_tags() -> pd.DataFrame:
    """The 1,128 genome tag names (shared by ml-20m and ml-25m)."""
    try:
        return load_table("genome-tags")
    except DataError:
        return load_table("genome-tags", "ml-25m")
