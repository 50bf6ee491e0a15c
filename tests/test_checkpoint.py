"""The saved final model gives exactly the scores of the model that was trained."""

import numpy as np
import pytest

from helpers import checkpoint, data


@pytest.fixture(scope="module")
def small_dataset(shared, tmp_path_factory):
    """ml-latest-small cut to 40 users, as a data-set folder (trains in seconds)."""
    folder = tmp_path_factory.mktemp("small")
    ratings = data.load_ratings("ml-latest-small")
    ratings[ratings["userId"] <= 40].to_csv(folder / "ratings.csv", index=False)
    data.load_movies("ml-latest-small").drop(columns="year").to_csv(
        folder / "movies.csv", index=False
    )
    data.load_tags("ml-latest-small").to_csv(folder / "tags.csv", index=False)
    return str(folder)


def test_round_trip_gives_identical_scores(small_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "final.pt"
    first = checkpoint.load_or_train_final(small_dataset, seed=42, path=path, epochs=3)
    assert path.exists() and path.with_suffix(".json").exists()

    def no_training(*args, **kwargs):
        raise AssertionError("a saved, up-to-date model must be loaded, not retrained")

    monkeypatch.setattr(checkpoint, "train_final", no_training)
    second = checkpoint.load_or_train_final(small_dataset, seed=42, path=path, epochs=3)
    users = first.recommender.maps.users.ids
    movies = first.recommender.maps.movies.ids
    assert np.array_equal(
        first.recommender.score(users, movies), second.recommender.score(users, movies)
    )
    assert np.array_equal(
        first.recommender.predict(users, movies[: len(users)]),
        second.recommender.predict(users, movies[: len(users)]),
    )
    assert second.meta["movie_features"] == second.movie_features.columns
    assert "has_genome" in second.movie_features.columns
    assert "hour_20" in second.user_features.columns


def test_stale_checkpoint_is_retrained(small_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "final.pt"
    checkpoint.load_or_train_final(small_dataset, seed=42, path=path, epochs=2)
    stamp = path.stat().st_mtime_ns
    checkpoint.load_or_train_final(small_dataset, seed=43, path=path, epochs=2)  # other split
    assert path.stat().st_mtime_ns != stamp


def test_missing_checkpoint_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebook 05"):
        checkpoint.load_final(tmp_path / "nothing.pt")


def test_best_gnn_round_trip_and_reuse(small_dataset, tmp_path, monkeypatch):
    from helpers import pipeline, scale

    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(checkpoint.ARTIFACTS_ENV, str(tmp_path / "artifacts"))
    monkeypatch.setenv(scale.EPOCHS_ENV, "5")
    first = checkpoint.load_or_train_best(small_dataset, seed=42)
    path = checkpoint.default_path("best")
    assert path.exists() and path.with_suffix(".json").exists()
    assert first.stars is not None  # the ranking model carries the rating model

    def no_training(*args, **kwargs):
        raise AssertionError("a saved, up-to-date model must be loaded, not retrained")

    monkeypatch.setattr(pipeline, "build", no_training)
    second = checkpoint.load_or_train_best(small_dataset, seed=42)
    users, movies = first.maps.users.ids, first.maps.movies.ids
    assert np.array_equal(first.score(users, movies), second.score(users, movies))
    assert np.array_equal(
        first.predict(users, movies[: len(users)]), second.predict(users, movies[: len(users)])
    )
    with pytest.raises(AssertionError, match="retrained"):
        checkpoint.load_or_train_best(small_dataset, seed=43)  # another split is stale
