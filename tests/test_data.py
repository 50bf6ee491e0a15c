"""The data layer: checksums, mirror resolution, offline errors, schema validation, row counts."""

import shutil
import urllib.error
from pathlib import Path

import pandas as pd
import pytest

from helpers import data


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache, so every test fetches through the mirror (or fails to)."""
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(data.DATASET_ENV, raising=False)
    return tmp_path / "cache"


def test_mirror_folder_serves_the_verified_archive(shared, cache, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(shared))
    folder = data.dataset_dir("ml-latest-small")
    assert folder == cache / "ml-latest-small"
    assert (cache / "ml-latest-small.zip").exists()
    assert not list(cache.glob("*.part")), "no partial download may be left behind"
    assert (
        data.file_digest(cache / "ml-latest-small.zip") == data.RELEASES["ml-latest-small"].sha256
    )


def test_mirror_as_file_url(shared, cache, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, shared.as_uri())
    assert len(data.load_ratings("ml-latest-small")) == 100_836


def test_row_counts_of_ml_latest_small(shared, cache, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(shared))
    ratings, movies = data.load_ratings(), data.load_movies()
    assert len(ratings) == 100_836
    assert ratings["userId"].nunique() == 610
    assert len(movies) == 9_742
    assert len(data.load_tags()) == 3_683
    assert ratings.dtypes.to_dict() == {
        "userId": "int32", "movieId": "int32", "rating": "float32", "timestamp": "int64"
    }  # fmt: skip
    assert movies.set_index("movieId").loc[1, "year"] == 1995


def test_second_load_uses_the_parquet_cache(shared, cache, monkeypatch):
    monkeypatch.setenv(data.MIRROR_ENV, str(shared))
    first = data.load_ratings()
    assert list((cache / "parquet").glob("ratings-*.parquet"))
    pd.testing.assert_frame_equal(first, data.load_ratings())


def test_corrupted_archive_is_refused_and_removed(shared, cache, monkeypatch):
    mirror = cache.parent / "mirror"
    mirror.mkdir()
    corrupt = bytearray((shared / "ml-latest-small.zip").read_bytes())
    corrupt[5000] ^= 0xFF  # one flipped byte: same size, different checksum
    (mirror / "ml-latest-small.zip").write_bytes(bytes(corrupt))
    monkeypatch.setenv(data.MIRROR_ENV, str(mirror))
    with pytest.raises(data.DataError, match="corrupt or incomplete.*deleted"):
        data.dataset_dir("ml-latest-small")
    assert not (cache / "ml-latest-small.zip").exists()
    assert not (cache / "ml-latest-small").exists()


def test_truncated_archive_in_cache_is_removed(shared, cache, monkeypatch):
    cache.mkdir(parents=True)
    (cache / "ml-latest-small.zip").write_bytes(
        (shared / "ml-latest-small.zip").read_bytes()[:1000]
    )
    monkeypatch.setenv(data.MIRROR_ENV, str(shared))
    with pytest.raises(data.DataError, match="1,000 bytes"):
        data.dataset_dir("ml-latest-small")
    assert not (cache / "ml-latest-small.zip").exists()


def test_offline_without_mirror_says_how_to_fix_it(cache, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    with pytest.raises(data.DataError, match=f"set {data.MIRROR_ENV}") as error:
        data.load_ratings("ml-latest-small")
    assert "GroupLens" in str(error.value)
    assert not list(cache.rglob("*.part"))


def test_mirror_that_is_not_a_folder(cache, monkeypatch, tmp_path):
    monkeypatch.setenv(data.MIRROR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(data.DataError, match="is not a folder"):
        data.load_ratings("ml-latest-small")


def test_user_folder_in_csv_layout(shared, cache, tmp_path):
    folder = tmp_path / "my-movielens"
    folder.mkdir()
    for name in ("ratings.csv", "movies.csv"):
        shutil.copy(shared / "ml-latest-small" / name, folder / name)
    assert len(data.load_ratings(str(folder))) == 100_836


def test_unknown_data_set_name(cache):
    with pytest.raises(data.DataError, match="Unknown data set 'ml-1b'"):
        data.load_ratings("ml-1b")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ratings.csv"
    path.write_text(text)
    return path


def test_missing_column_is_named(cache, tmp_path):
    path = _write(tmp_path, "userId,movieId,stars,timestamp\n1,1,4.0,0\n")
    with pytest.raises(data.DataError, match=r"lacks the column\(s\) \['rating'\]"):
        data.read_table(path, "ratings")


def test_rating_out_of_range(cache, tmp_path):
    path = _write(tmp_path, "userId,movieId,rating,timestamp\n1,1,4.0,0\n1,2,7.5,0\n")
    with pytest.raises(data.DataError, match="outside 0.5..5"):
        data.read_table(path, "ratings")


def test_duplicate_pairs(cache, tmp_path):
    path = _write(tmp_path, "userId,movieId,rating,timestamp\n1,1,4.0,0\n1,1,3.0,5\n")
    with pytest.raises(data.DataError, match="duplicate"):
        data.read_table(path, "ratings")


def test_wrong_type(cache, tmp_path):
    path = _write(tmp_path, "userId,movieId,rating,timestamp\n1,one,4.0,0\n")
    with pytest.raises(data.DataError, match="wrong type"):
        data.read_table(path, "ratings")


def test_missing_file(cache, tmp_path):
    with pytest.raises(data.DataError, match="does not exist"):
        data.read_table(tmp_path / "nope.csv", "ratings")


def test_genome_in_both_published_formats(shared, cache, monkeypatch):
    excel = shared / "ml-25m" / "partial" / "genome-scores.first4999rows.excel-resaved.csv"
    kaggle = shared / "ml-20m" / "partial" / "genome_scores.kaggle-format.subset.csv"
    for source, movies in [(excel, {1, 2, 3, 4, 5}), (kaggle, None)]:
        monkeypatch.setenv(data.GENOME_ENV, str(source))
        genome = data.load_genome()
        assert list(genome.columns) == ["movieId", "tagId", "relevance"]
        assert genome["relevance"].between(0, 1).all()
        if movies:
            assert set(genome["movieId"]) == movies
    monkeypatch.setenv(data.GENOME_ENV, "none")
    assert data.load_genome().empty


def test_user_sample_keeps_whole_histories_in_file_order(shared, cache, monkeypatch):
    monkeypatch.setenv("MOVIELENS_MIRROR", str(shared))
    full = data.load_ratings("ml-latest-small")
    monkeypatch.setenv(data.USER_SAMPLE_ENV, "50")
    sample = data.load_ratings("ml-latest-small")
    assert sample["userId"].nunique() == 50
    assert data.run_label() == "ml-latest-small-50users"
    chosen = full[full["userId"].isin(sample["userId"].unique())].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample, chosen)  # every rating of those users, same order
    pd.testing.assert_frame_equal(sample, data.load_ratings("ml-latest-small"))  # seeded


@pytest.mark.parametrize("value", ["0", "ten", "-5", "10.5"])
def test_bad_user_sample_says_what_to_set(value, monkeypatch):
    monkeypatch.setenv(data.USER_SAMPLE_ENV, value)
    with pytest.raises(data.DataError, match="positive whole number"):
        data.user_sample()


def test_user_sample_larger_than_the_data_set():
    ratings = pd.DataFrame({"userId": [1, 1, 2], "movieId": [1, 2, 1], "rating": [4.0] * 3})
    with pytest.raises(data.DataError, match="only 2"):
        data.sample_users(ratings, 3)


def test_other_data_sets_write_their_own_results(monkeypatch, tmp_path):
    from helpers import checkpoint, leaderboard

    monkeypatch.delenv(data.USER_SAMPLE_ENV, raising=False)
    monkeypatch.delenv(data.DATASET_ENV, raising=False)
    assert leaderboard.path().name == "leaderboard.csv"
    assert checkpoint.default_path().name == "final.pt"
    monkeypatch.setenv(data.DATASET_ENV, str(tmp_path / "ratings-25M"))
    assert leaderboard.path().name == "leaderboard-ratings-25M.csv"
    assert checkpoint.default_path().name == "final-ratings-25M.pt"


def test_failed_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")

    def crash(scratch: Path) -> None:
        scratch.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        data.write_atomically(target, crash)
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    data.write_atomically(target, lambda scratch: scratch.write_text("new"))
    assert target.read_text() == "new"
