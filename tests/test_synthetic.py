"""The synthetic generator writes valid, MovieLens-shaped, clearly labelled, reproducible data."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import Settings, baselines, data
from helpers.protocol import protocol_split
from tools import synthetic

N_RATINGS = 30_000


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return synthetic.generate(
        tmp_path_factory.mktemp("synthetic"), N_RATINGS, seed=3, progress=False
    )


@pytest.fixture(scope="module")
def tables(folder, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """Every table read through the kit's own typed, validating reader."""
    settings = Settings(dataset=str(folder), cache=tmp_path_factory.mktemp("cache"))
    tables = {table: data.load_table(table, settings) for table in data.SCHEMAS}
    tables["movies"] = data.load_movies(settings)
    return tables


def test_ratings_have_movielens_shape(tables):
    ratings = tables["ratings"]
    shape = synthetic.Shape.default(N_RATINGS)
    assert len(ratings) == N_RATINGS
    assert sorted(ratings["userId"].unique()) == list(range(1, shape.n_users + 1))
    per_user = ratings.groupby("userId").size()
    assert per_user.min() >= 20
    assert per_user.max() > 4 * per_user.median()  # long-tailed activity
    per_movie = ratings.groupby("movieId").size().sort_values(ascending=False)
    assert per_movie.iloc[: len(per_movie) // 100].sum() > 0.1 * N_RATINGS  # blockbusters
    assert set((ratings["rating"] * 2).unique()) <= set(range(1, 11))  # the half-star grid
    shares = ratings["rating"].value_counts(normalize=True)
    assert shares.index[:2].tolist() == [4.0, 3.0]  # MovieLens' two most common ratings
    assert ratings["timestamp"].between(synthetic.FIRST_TS, synthetic.LAST_TS).all()
    ordered = ratings.sort_values(["userId", "movieId"], kind="stable")
    assert ordered.index.equals(ratings.index)  # file order like ml-25m: user, then movie


def test_ids_are_consistent_across_files(tables):
    movie_ids = set(tables["movies"]["movieId"])
    assert set(tables["ratings"]["movieId"]) < movie_ids  # some movies are never rated
    assert set(tables["tags"]["movieId"]) <= movie_ids
    assert set(tables["genome-scores"]["movieId"]) <= movie_ids
    assert set(tables["links"]["movieId"]) == movie_ids
    assert set(tables["tags"]["userId"]) <= set(tables["ratings"]["userId"])
    assert set(tables["genome-scores"]["tagId"]) == set(tables["genome-tags"]["tagId"])
    assert len(tables["genome-tags"]) == synthetic.GENOME_TAGS
    assert tables["genome-scores"].groupby("movieId").size().eq(synthetic.GENOME_TAGS).all()


def test_movies_have_years_and_movielens_genres(tables):
    movies = tables["movies"]
    assert movies["year"].notna().mean() > 0.98
    assert movies["year"].dropna().between(1900, 2019).all()
    genres = set(movies["genres"].str.split("|").explode())
    assert genres <= set(synthetic.GENRES) | {synthetic.NO_GENRES}
    assert len(genres) > 15


def test_every_file_says_it_is_synthetic(folder, tables):
    assert "SYNTHETIC" in (folder / "README.txt").read_text()
    assert tables["movies"]["title"].str.startswith("Synthetic Movie ").all()
    assert tables["tags"]["tag"].str.startswith("synthetic tag ").all()
    assert tables["genome-tags"]["tag"].str.startswith("synthetic tag ").all()


def test_ratings_carry_learnable_signal(tables):
    train, test = protocol_split(tables["ratings"])
    truth = test["rating"].to_numpy()

    def rmse(model) -> float:
        predicted = model.fit(train).predict(test["userId"].to_numpy(), test["movieId"].to_numpy())
        return float(np.sqrt(np.mean((predicted - truth) ** 2)))

    assert rmse(baselines.BiasBaseline()) < 0.95 * rmse(baselines.GlobalMean())


def test_same_seed_same_files(tmp_path):
    first = synthetic.generate(tmp_path / "a", 3_000, seed=5, progress=False)
    second = synthetic.generate(tmp_path / "b", 3_000, seed=5, progress=False)
    third = synthetic.generate(tmp_path / "c", 3_000, seed=6, progress=False)
    read = lambda folder: (folder / "ratings.csv").read_bytes()  # noqa: E731
    assert read(first) == read(second) != read(third)


def test_impossible_shapes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="20 each"):
        synthetic.generate(tmp_path, 1_000, n_users=100, progress=False)
    with pytest.raises(ValueError, match="add movies"):
        synthetic.generate(tmp_path, 20_000, n_users=50, n_movies=300, progress=False)


def test_command_line(tmp_path, capsys):
    synthetic.main(["--out", str(tmp_path), "--ratings", "2000", "--seed", "1"])
    assert "synthetic" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "ratings.csv")) == 2000
