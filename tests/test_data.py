"""The data layer: checksums, mirrors, caches, concurrent loads, schema checks, the genome."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pooch
import pytest
import requests

from helpers import data, download
from helpers.settings import REPO, Settings

SMALL = "ml-latest-small"
HEADER = "userId,movieId,rating,timestamp\n"


@pytest.fixture
def cache(tmp_path) -> Path:
    """An empty cache of this test's own, so nothing touches the kit's data/ folder."""
    return tmp_path / "cache"


@pytest.fixture
def settings(shared, cache) -> Settings:
    """The course data through the shared folder used as a mirror, into an empty cache."""
    return Settings(mirror=str(shared), cache=cache)


def _files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (none if it does not exist)."""
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _folder(tmp_path: Path, **tables: str) -> Settings:
    """A user folder of CSVs (``ratings="..."``) as the data set, with its own cache."""
    folder = tmp_path / "movielens"
    folder.mkdir(exist_ok=True)
    for table, text in tables.items():
        (folder / f"{table.replace('_', '-')}.csv").write_text(text)
    return Settings(dataset=str(folder), cache=tmp_path / "cache")


def _no_downloads(monkeypatch) -> None:
    """Make any fetch of an archive fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("nothing may be downloaded here")

    monkeypatch.setattr(download, "fetch_archive", refuse)
    monkeypatch.setattr(requests, "get", refuse)


# Mirrors, checksums and the parquet cache ---------------------------------------------------


def test_published_checksums_match_the_shared_files(shared):
    for release in (SMALL, "ml-25m", "ml-20m"):
        for name, published in download.RELEASES[release].files.items():
            path = shared / release / name
            if path.exists():
                assert pooch.file_hash(path) == published, path
    archive = shared / f"{SMALL}.zip"
    assert pooch.file_hash(archive) == download.RELEASES[SMALL].sha256
    assert archive.stat().st_size == download.RELEASES[SMALL].size


def test_mirror_folder_serves_the_verified_archive(settings, cache):
    archive = download.fetch_archive(SMALL, settings)
    assert archive == cache / f"{SMALL}.zip"
    assert pooch.file_hash(archive) == download.RELEASES[SMALL].sha256
    assert _files(cache) == [archive], "no partial download may be left behind"


def test_mirror_as_file_url(shared, cache):
    settings = Settings(mirror=shared.as_uri(), cache=cache)
    assert len(data.load_ratings(settings)) == 100_836
    assert pooch.file_hash(cache / f"{SMALL}.zip") == download.RELEASES[SMALL].sha256


def test_row_counts_and_types_of_ml_latest_small(settings):
    ratings, movies = data.load_ratings(settings), data.load_movies(settings)
    assert len(ratings) == 100_836
    assert ratings["userId"].nunique() == 610
    assert len(movies) == 9_742
    assert len(data.load_tags(settings)) == 3_683
    assert len(data.load_table("links", settings)) == 9_742
    assert ratings.dtypes.to_dict() == {
        "userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"
    }  # fmt: skip
    assert movies["movieId"].dtype == "int32"
    toy_story = movies.set_index("movieId").loc[1]
    assert toy_story["title"] == "Toy Story (1995)" and toy_story["year"] == 1995
    assert ratings["rating"].between(0.5, 5).all()


def test_second_load_uses_the_parquet_cache(settings, cache, monkeypatch):
    first = data.load_ratings(settings)
    assert len(list((cache / "parquet").glob("ratings-*.parquet"))) == 1
    _no_downloads(monkeypatch)  # the archive is not even opened again
    pd.testing.assert_frame_equal(first, data.load_ratings(settings))


def test_verified_csvs_of_a_release_are_read_from_the_mirror(settings, cache):
    movies = data.load_table("movies", settings, "ml-25m")  # no ml-25m.zip anywhere
    assert len(movies) == 62_423
    assert not (cache / "ml-25m.zip").exists()


def test_corrupted_archive_is_refused_and_not_kept(shared, tmp_path, cache):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    corrupt = bytearray((shared / f"{SMALL}.zip").read_bytes())
    corrupt[5000] ^= 0xFF  # one flipped byte: same size, different checksum
    (mirror / f"{SMALL}.zip").write_bytes(bytes(corrupt))
    with pytest.raises(data.DataError, match="is damaged or incomplete.*not kept"):
        data.load_ratings(Settings(mirror=str(mirror), cache=cache))
    assert _files(cache) == []


def test_truncated_archive_in_the_cache_is_replaced_from_the_mirror(settings, shared, cache):
    cache.mkdir()
    (cache / f"{SMALL}.zip").write_bytes((shared / f"{SMALL}.zip").read_bytes()[:1000])
    assert len(data.load_ratings(settings)) == 100_836
    assert pooch.file_hash(cache / f"{SMALL}.zip") == download.RELEASES[SMALL].sha256


def test_offline_without_mirror_says_how_to_fix_it(cache, monkeypatch):
    def offline(*args, **kwargs):
        raise requests.ConnectionError("Temporary failure in name resolution")

    monkeypatch.setattr(requests, "get", offline)
    with pytest.raises(data.DataError, match="offline, set MOVIELENS_MIRROR") as error:
        data.load_ratings(Settings(cache=cache))
    assert download.GROUPLENS in str(error.value)
    assert _files(cache) == []


# Two processes, one cache --------------------------------------------------------------------

LOAD = """
import sys, time, types
from pathlib import Path
helpers = types.ModuleType("helpers")  # skip helpers/__init__.py (torch): 1 s per process, not 4
helpers.__path__ = ["helpers"]
sys.modules["helpers"] = helpers
from helpers import data
from helpers.settings import Settings
settings = Settings.from_env()
Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.005)
print(len(data.load_ratings(settings)))
"""


def test_processes_loading_into_one_empty_cache_do_not_crash_each_other(shared, tmp_path, cache):
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOVIELENS")}
    env |= {"MOVIELENS_MIRROR": str(shared), "MOVIELENS_CACHE": str(cache)}
    go, count = tmp_path / "go", 6
    loads = [
        subprocess.Popen(
            [sys.executable, "-c", LOAD, str(tmp_path / f"ready-{i}"), str(go)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready-*"))) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        go.touch()  # all imported: start every load at once
        results = [load.communicate(timeout=120) for load in loads]
    finally:
        for load in loads:
            load.kill()
    for load, (out, err) in zip(loads, results, strict=True):
        assert load.returncode == 0, err
        assert out.strip() == "100836"
    assert [path.name for path in _files(cache)][:1] == [f"{SMALL}.zip"]
    kept = (".zip", ".parquet", ".sha256")  # .sha256: each parquet copy's digest
    assert not [path for path in _files(cache) if path.suffix not in kept]


def test_two_writers_of_one_file_never_share_a_scratch_name(tmp_path):
    target, both = tmp_path / "table.parquet", threading.Barrier(2, timeout=10)
    scratches, errors = [], []

    def write(scratch: Path) -> None:
        scratches.append(scratch)
        scratch.write_text(threading.current_thread().name)
        both.wait()  # both writers hold their scratch file at once

    def run() -> None:
        try:
            data.write_atomically(target, write)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=run, name=f"writer-{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(scratches)) == 2
    assert target.read_text() in ("writer-0", "writer-1")
    assert list(tmp_path.iterdir()) == [target]


# A mirror of extracted CSVs --------------------------------------------------------------------


def _csv_mirror(tmp_path: Path, shared: Path, *names: str) -> Path:
    """A mirror holding ``names`` of ml-latest-small extracted, as GroupLens lays them out."""
    folder = tmp_path / "mirror" / SMALL
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(shared / SMALL / name, folder / name)
    return folder.parent


def test_mirror_of_csvs_accepts_only_the_published_files(shared, tmp_path, cache, monkeypatch):
    mirror = _csv_mirror(tmp_path, shared, "ratings.csv", "movies.csv")
    ratings = mirror / SMALL / "ratings.csv"
    lines = (shared / SMALL / "ratings.csv").read_bytes().splitlines(keepends=True)
    ratings.write_bytes(b"".join(lines[: 1 + 50_000]))  # cut short: a valid, smaller table
    settings = Settings(mirror=str(mirror), cache=cache)
    with pytest.raises(data.DataError, match="not GroupLens' file"):
        data.load_ratings(settings)
    shutil.copy(shared / SMALL / "ratings.csv", ratings)
    _no_downloads(monkeypatch)
    assert len(data.load_ratings(settings)) == 100_836
    assert len(data.load_movies(settings)) == 9_742
    assert not (cache / f"{SMALL}.zip").exists()


@pytest.mark.parametrize("first", ["movies", "ratings"])
def test_the_archive_wins_over_an_edited_csv_beside_it(shared, tmp_path, cache, first):
    mirror = _csv_mirror(tmp_path, shared, "ratings.csv")
    shutil.copy(shared / f"{SMALL}.zip", mirror)
    movies = (shared / SMALL / "movies.csv").read_bytes()
    edited = movies.replace(b"Toy Story (1995)", b"Toy Story (2095)")
    assert len(edited) == len(movies) and edited != movies
    (mirror / SMALL / "movies.csv").write_bytes(edited)
    settings = Settings(mirror=str(mirror), cache=cache)
    if first == "ratings":
        data.load_ratings(settings)
    for _ in range(2):  # fresh, then from the parquet cache
        toy_story = data.load_movies(settings).set_index("movieId").loc[1]
        assert toy_story["title"] == "Toy Story (1995)" and toy_story["year"] == 1995


# The parquet cache is keyed on content ---------------------------------------------------------


def test_parquet_cache_follows_the_content_not_the_file_date(tmp_path):
    settings = _folder(tmp_path, ratings=HEADER + "1,1,4.0,0\n1,2,3.5,0\n")
    path = Path(settings.dataset) / "ratings.csv"
    assert data.load_ratings(settings)["rating"].tolist() == [4.0, 3.5]
    before = path.stat()
    path.write_text(HEADER + "1,1,2.0,0\n1,2,3.5,0\n")  # same size, new rating
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert data.load_ratings(settings)["rating"].tolist() == [2.0, 3.5]


def test_truncated_parquet_copy_is_rebuilt(settings, cache):
    first = data.load_ratings(settings)
    (copy,) = (cache / "parquet").glob("ratings-*.parquet")
    copy.write_bytes(copy.read_bytes()[: copy.stat().st_size // 2])
    pd.testing.assert_frame_equal(data.load_ratings(settings), first)
    pd.testing.assert_frame_equal(pd.read_parquet(copy), first)


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])  # 0.1, 0.9: inside values pyarrow decodes
def test_bytes_overwritten_inside_the_parquet_copy_are_never_read(settings, cache, where):
    first = data.load_ratings(settings)
    (copy,) = (cache / "parquet").glob("ratings-*.parquet")
    raw = bytearray(copy.read_bytes())
    offset = int(len(raw) * where)
    raw[offset : offset + 8] = b"\x00" * 8
    copy.write_bytes(bytes(raw))
    pd.testing.assert_frame_equal(data.load_ratings(settings), first)
    pd.testing.assert_frame_equal(pd.read_parquet(copy), first)  # rebuilt from the CSV


def test_user_folder_in_csv_layout(shared, tmp_path):
    settings = _folder(tmp_path)
    for name in ("ratings.csv", "movies.csv"):
        shutil.copy(shared / SMALL / name, Path(settings.dataset) / name)
    assert len(data.load_ratings(settings)) == 100_836
    assert data.has_table("movies", settings) and not data.has_table("tags", settings)
    assert settings.label == "movielens"


# Bad CSVs: one clear DataError each ------------------------------------------------------------

BAD_RATINGS = {
    "header only": (HEADER, "no rows"),
    "user id above int32": (HEADER + "1,1,4.0,0\n3000000000,1,4.0,0\n", "out of range"),
    "missing column": ("userId,movieId,stars,timestamp\n1,1,4.0,0\n", r"lacks.*\['rating'\]"),
    "rating above 5": (HEADER + "1,1,4.0,0\n1,2,7.5,0\n", r"1 ratings outside 0.5..5 .*7.5"),
    "rating of 0": (HEADER + "1,1,0.0,0\n", "outside 0.5..5"),
    "duplicate pairs": (HEADER + "1,1,4.0,0\n1,1,3.0,5\n", r"1 duplicate \('userId', 'movieId'\)"),
    "word as movie id": (HEADER + "1,one,4.0,0\n", "wrong type"),
    "empty timestamp": (HEADER + "1,1,4.0,\n", r"empty values in \['timestamp'\]"),
    "empty rating": (HEADER + "1,1,,0\n", r"empty values in \['rating'\]"),
    "ragged row": (HEADER + "1,1,4.0,0,extra\n", "not a readable CSV"),
}


@pytest.mark.parametrize("text, message", BAD_RATINGS.values(), ids=BAD_RATINGS)
def test_bad_ratings_give_one_clear_error(tmp_path, text, message):
    settings = _folder(tmp_path, ratings=text)
    with pytest.raises(data.DataError, match=message):
        data.load_ratings(settings)
    if message != "no rows":
        assert _files(settings.cache) == [], "a refused table is not cached"


def test_missing_file(tmp_path):
    settings = _folder(tmp_path, movies="movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    with pytest.raises(data.DataError, match="ratings.csv does not exist"):
        data.load_ratings(settings)


def test_unknown_data_set_and_table(tmp_path):
    with pytest.raises(data.DataError, match="Unknown data set 'ml-1b'"):
        data.load_ratings(Settings(dataset="ml-1b", cache=tmp_path))
    with pytest.raises(data.DataError, match="Unknown data set"):
        data.load_ratings(Settings(dataset=str(tmp_path / "nowhere"), cache=tmp_path))
    with pytest.raises(data.DataError, match="Unknown table 'rating'"):
        data.load_table("rating", Settings(cache=tmp_path))


# The Tag Genome --------------------------------------------------------------------------------


def test_genome_in_kaggle_format_with_its_tag_names(shared, cache):
    kaggle = shared / "ml-20m" / "partial" / "genome_scores.kaggle-format.subset.csv"
    settings = Settings(genome=str(kaggle), cache=cache)
    genome = data.load_genome(settings)
    assert genome.dtypes.to_dict() == {"movieId": "int32", "tagId": "int32", "relevance": "float32"}
    assert len(genome) == 165_781 and genome["movieId"].nunique() == 147
    tags = data.load_genome_tags(settings)
    assert list(tags.columns) == ["tagId", "tag"] and len(tags) == 1_128
    grouplens = pd.read_csv(shared / "ml-25m" / "genome-tags.csv")
    assert tags["tag"].tolist() == grouplens["tag"].tolist()
    some = data.load_genome(settings, movie_ids=[1, 2])
    assert set(some["movieId"]) == {1, 2} and len(some) == 2 * 1_128


def test_genome_resaved_by_excel_with_a_bom(shared, cache):
    excel = shared / "ml-25m" / "partial" / "genome-scores.first4999rows.excel-resaved.csv"
    assert excel.read_bytes().startswith(b"\xef\xbb\xbf")
    genome = data.load_genome(Settings(genome=str(excel), cache=cache))
    assert list(genome.columns) == ["movieId", "tagId", "relevance"]
    assert len(genome) == 4_999 and set(genome["movieId"]) == {1, 2, 3, 4, 5}
    assert genome["relevance"].iloc[0] == pytest.approx(0.02875)


@pytest.mark.parametrize("choice", ["none", "None", "NONE"])
def test_genome_none(cache, monkeypatch, choice):
    _no_downloads(monkeypatch)
    settings = Settings(dataset="ml-25m", genome=choice, cache=cache)
    assert data.load_genome(settings) is None and data.load_genome_tags(settings) is None


def test_no_genome_for_ml_latest_small_downloads_nothing(tmp_path, cache, monkeypatch):
    _no_downloads(monkeypatch)
    stray = tmp_path / SMALL / "genome-scores.csv"  # a folder in the working directory
    stray.parent.mkdir()
    stray.write_text("movieId,tagId,relevance\n1,1,0.5\n")
    monkeypatch.chdir(tmp_path)  # must not be taken for the release
    settings = Settings(cache=cache)
    assert data.load_genome(settings) is None and data.load_genome_tags(settings) is None
    assert _files(cache) == []


def test_a_folder_brings_its_own_genome(tmp_path):
    settings = _folder(
        tmp_path,
        genome_scores="movieId,tagId,relevance\n1,1,0.5\n1,2,0.25\n",
        genome_tags="tagId,tag\n1,funny\n2,dark\n",
    )
    assert data.load_genome(settings)["relevance"].tolist() == [0.5, 0.25]
    assert data.load_genome_tags(settings)["tag"].tolist() == ["funny", "dark"]


def test_missing_genome_path_says_how_to_set_it(tmp_path):
    settings = Settings(genome=str(tmp_path / "genome-scores.csv"), cache=tmp_path / "cache")
    with pytest.raises(data.DataError, match="MOVIELENS_GENOME=.*does not exist") as error:
        data.load_genome(settings)
    assert data.GENOME_HELP in str(error.value)


# Atomic writes ----------------------------------------------------------------------------------


def _crash(scratch: Path) -> None:
    scratch.write_text("half")
    raise OSError("disk full")


def test_failed_write_leaves_no_target_and_no_scratch_file(tmp_path):
    target = tmp_path / "table.parquet"
    with pytest.raises(OSError, match="disk full"):
        data.write_atomically(target, _crash)
    assert list(tmp_path.iterdir()) == []
    assert not list(tmp_path.glob("*.part"))


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(OSError, match="disk full"):
        data.write_atomically(target, _crash)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    data.write_atomically(target, lambda scratch: scratch.write_text("new"))
    assert target.read_text() == "new"
    assert list(tmp_path.iterdir()) == [target]


# User samples -----------------------------------------------------------------------------------


def test_user_sample_keeps_whole_histories_in_file_order(settings):
    full = data.load_ratings(settings)
    sampled = settings.replace(user_sample=50)
    sample = data.load_ratings(sampled)
    assert sample["userId"].nunique() == 50
    assert sampled.label == "ml-latest-small-50users"
    chosen = full[full["userId"].isin(sample["userId"].unique())].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample, chosen)  # every rating of those users, same order
    pd.testing.assert_frame_equal(sample, data.load_ratings(sampled))  # seeded
    with pytest.raises(data.DataError, match="only 610.*MOVIELENS_USER_SAMPLE"):
        data.load_ratings(settings.replace(user_sample=611))


def test_user_sample_larger_than_the_data_set():
    ratings = pd.DataFrame({"userId": [1, 1, 2], "movieId": [1, 2, 1], "rating": [4.0] * 3})
    with pytest.raises(data.DataError, match="Cannot sample 3 users.*only 2"):
        data.sample_users(ratings, 3)
    assert data.sample_users(ratings, 2).equals(ratings)


def test_sample_users_keeps_the_order_of_an_unsorted_table():
    ratings = pd.DataFrame(
        {"userId": [3, 1, 2, 1, 3, 2], "movieId": [9, 8, 7, 1, 2, 3], "rating": [4.0] * 6}
    )
    for seed in range(4):
        sample = data.sample_users(ratings, 2, seed=seed)
        kept = ratings[ratings["userId"].isin(sample["userId"].unique())].reset_index(drop=True)
        assert sample["userId"].nunique() == 2
        pd.testing.assert_frame_equal(sample, kept)


# Operating-system errors and misleading messages (issue 30, items 13 and 17) ----------------


def _one_sentence_without(error: pytest.ExceptionInfo, *misleading: str) -> str:
    text = str(error.value)
    assert "\n" not in text and not [word for word in misleading if word in text], text
    return text


def test_a_cache_that_is_a_file_is_named_not_blamed_on_the_network(settings, cache):
    cache.write_text("not a folder")
    with pytest.raises(data.DataError, match="MOVIELENS_CACHE") as error:
        data.load_ratings(settings)
    _one_sentence_without(error, "offline", "SHA-256", "put the zip")


def test_a_cache_that_is_a_file_stops_a_folder_data_set_in_one_sentence(tmp_path):
    settings = _folder(tmp_path, ratings=HEADER + "1,1,4.0,0\n")
    settings.cache.write_text("not a folder")
    with pytest.raises(data.DataError, match="MOVIELENS_CACHE") as error:
        data.load_ratings(settings)
    _one_sentence_without(error)


def test_a_ratings_file_that_cannot_be_read_is_named(tmp_path):
    settings = _folder(tmp_path)
    (Path(settings.dataset) / "ratings.csv").mkdir()  # unreadable as a file, even for root
    with pytest.raises(data.DataError, match="Cannot read .*ratings.csv") as error:
        data.load_ratings(settings)
    _one_sentence_without(error)


def test_a_full_disk_says_so(tmp_path, monkeypatch):
    import errno

    settings = _folder(tmp_path, ratings=HEADER + "1,1,4.0,0\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with pytest.raises(data.DataError, match="No space left") as error:
        data.load_ratings(settings)
    _one_sentence_without(error)


def test_a_mirror_copy_that_cannot_be_read_is_not_called_offline(tmp_path, cache):
    mirror = tmp_path / "mirror"
    (mirror / f"{SMALL}.zip").mkdir(parents=True)  # unreadable as a file, even for root
    with pytest.raises(data.DataError, match="Could not copy .* from the mirror") as error:
        data.load_ratings(Settings(mirror=str(mirror), cache=cache))
    _one_sentence_without(error, "offline", "SHA-256")


def test_a_damaged_zip_in_the_cache_is_not_answered_with_put_the_zip_there(
    shared, cache, monkeypatch
):
    cache.mkdir()
    (cache / f"{SMALL}.zip").write_bytes((shared / f"{SMALL}.zip").read_bytes()[:1000])

    def offline(*args, **kwargs):
        raise requests.ConnectionError("Temporary failure in name resolution")

    monkeypatch.setattr(requests, "get", offline)
    with pytest.raises(data.DataError, match="replace the damaged") as error:
        data.load_ratings(Settings(cache=cache))
    assert "put the zip in" not in str(error.value)
