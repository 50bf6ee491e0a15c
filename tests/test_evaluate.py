"""`python -m helpers.evaluate` on folders in ml-latest-small layout."""

import subprocess
import sys

import pandas as pd
import pytest

from helpers import evaluate, pipeline


@pytest.fixture
def small_folder(shared, tmp_path):
    """A small real folder: the first 6,000 ratings of ml-latest-small and all movies."""
    folder = tmp_path / "small"
    folder.mkdir()
    ratings = pd.read_csv(shared / "ml-latest-small" / "ratings.csv", nrows=6000)
    ratings.to_csv(folder / "ratings.csv", index=False)
    (folder / "movies.csv").write_bytes((shared / "ml-latest-small" / "movies.csv").read_bytes())
    return folder


@pytest.mark.parametrize("model", ["bias", pipeline.DEFAULT_MODEL])
def test_every_test_rating_gets_a_prediction(small_folder, tmp_path, model):
    out = tmp_path / "out"
    assert (
        evaluate.main(
            ["--data-dir", str(small_folder), "--seed", "7", "--out", str(out), "--model", model]
        )
        == 0
    )
    ratings = pd.read_csv(small_folder / "ratings.csv")
    predictions = pd.read_csv(out / "predictions.csv")
    assert list(predictions.columns) == ["userId", "movieId", "rating", "prediction"]
    assert len(predictions) == round(len(ratings) * 0.2)
    assert predictions["prediction"].between(0.5, 5).all()
    topk = pd.read_csv(out / "topk.csv")
    assert list(topk.columns) == ["userId", "rank", "movieId"]
    assert set(topk["userId"]) == set(predictions["userId"])
    assert topk.groupby("userId")["rank"].max().eq(20).all()
    train = ratings.merge(predictions[["userId", "movieId"]], how="left", indicator=True)
    seen = train[train["_merge"] == "left_only"]
    assert topk.merge(seen, on=["userId", "movieId"]).empty, "a top-20 list holds a rated movie"


def test_cli_on_the_real_folder(shared, tmp_path):
    folder = str(shared / "ml-latest-small")
    command = [sys.executable, "-m", "helpers.evaluate", "--data-dir", folder,
               "--seed", "43", "--out", str(tmp_path), "--model", "bias"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "RMSE" in result.stdout and "NDCG@10" in result.stdout
    assert len(pd.read_csv(tmp_path / "predictions.csv")) == 20_168


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert evaluate.main(["--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err
