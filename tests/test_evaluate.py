"""`python -m helpers.evaluate`: the three protocols on folders in ml-latest-small layout, and one
``error:`` line (exit code 2), before any training, for every bad input."""

import math
import subprocess
import sys

import pandas as pd
import pytest

from helpers import evaluate


@pytest.fixture(scope="module")
def folder(small_folder):
    return str(small_folder)


def _run(*args, env=None):
    command = [sys.executable, "-m", "helpers.evaluate", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def test_warm_protocol_writes_every_prediction_and_unseen_top_lists(folder, tmp_path):
    assert (
        evaluate.main(
            ["--data-dir", folder, "--seed", "7", "--out", str(tmp_path), "--model", "bias"]
        )
        == 0
    )
    ratings = pd.read_csv(f"{folder}/ratings.csv")
    predictions, topk = (
        pd.read_csv(tmp_path / "predictions.csv"),
        pd.read_csv(tmp_path / "topk.csv"),
    )
    assert list(predictions.columns) == ["userId", "movieId", "rating", "prediction"]
    assert (
        len(predictions) == math.ceil(len(ratings) * 0.2)  # scikit-learn rounds the test part up
        and predictions["prediction"].between(0.5, 5).all()
    )
    assert (
        list(topk.columns) == ["userId", "rank", "movieId"]
        and topk.groupby("userId")["rank"].max().eq(20).all()
    )
    train = ratings.merge(predictions[["userId", "movieId"]], how="left", indicator=True)
    assert topk.merge(train[train["_merge"] == "left_only"], on=["userId", "movieId"]).empty


def test_new_users_protocol_never_lists_an_onboarding_movie(folder, tmp_path):
    assert evaluate.main(["--data-dir", folder, "--out", str(tmp_path), "--protocol", "new-users",
                          "--onboarding", "3", "--model", "ease"]) == 0  # fmt: skip
    from helpers.protocol import new_users_split

    parts = new_users_split(pd.read_csv(f"{folder}/ratings.csv"), 42, 3)
    topk = pd.read_csv(tmp_path / "topk.csv")
    assert (
        set(topk["userId"]) == set(parts.test["userId"])
        and topk.groupby("userId").size().eq(20).all()
    )
    assert topk.merge(parts.onboarding, on=["userId", "movieId"]).empty
    assert len(pd.read_csv(tmp_path / "predictions.csv")) == len(parts.test)


def protocol(folder: str, out, *args: str) -> int:
    """``python -m helpers.evaluate`` on ``folder``, writing into ``out``; its exit code."""
    return evaluate.main(["--data-dir", folder, "--out", str(out), *args])


def test_new_movies_protocol_lists_only_new_movies(folder, tmp_path):
    assert protocol(folder, tmp_path, "--protocol", "new-movies", "--model", "bias") == 0
    from helpers.protocol import new_movies_split

    _, test = new_movies_split(pd.read_csv(f"{folder}/ratings.csv"), 42)
    assert set(pd.read_csv(tmp_path / "topk.csv")["movieId"]) <= set(test["movieId"])


def test_a_model_that_cannot_fold_in_users_is_refused(folder, tmp_path, capsys):
    assert protocol(folder, tmp_path, "--protocol", "new-users", "--model", "lightgcn") == 2
    assert "cannot take users who join" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ("userId,movieId,rating,timestamp\n", "no rows"),
        (
            "userId,movieId,rating,timestamp\n3000000000,1,4.0,0\n" + "1,1,4.0,0\n2,1,4.0,0\n",
            "wrong type",
        ),
        ("userId,movieId,stars,timestamp\n1,1,4.0,0\n", "lacks the column"),
    ],
)
def test_bad_ratings_end_in_one_error_line(tmp_path, small_folder, ratings, message):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ratings.csv").write_text(ratings)
    (bad / "movies.csv").write_bytes((small_folder / "movies.csv").read_bytes())
    result = _run("--data-dir", bad, "--out", tmp_path / "out", "--model", "bias")
    assert (
        result.returncode == 2 and result.stderr.startswith("error:") and message in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_out_naming_a_file_is_refused_before_training(folder, tmp_path):
    existing = tmp_path / "predictions.csv"
    existing.write_text("keep me")
    result = _run("--data-dir", folder, "--out", existing)
    assert (
        result.returncode == 2
        and "is a file" in result.stderr
        and existing.read_text() == "keep me"
    )


def test_bad_settings_are_refused(folder, tmp_path):
    import os

    for value in ("abc", "0"):
        result = _run(
            "--data-dir",
            folder,
            "--out",
            tmp_path,
            env=os.environ | {"MOVIELENS_MAX_EPOCHS": value},
        )
        assert result.returncode == 2 and "MOVIELENS_MAX_EPOCHS" in result.stderr


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert evaluate.main(["--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def _no_training(*args, **kwargs):
    raise AssertionError("a bad argument must be refused before any training")


def test_settings_that_change_the_numbers_are_named_in_the_header(folder, tmp_path, capsys):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIELENS")}
    changed = env | {"MOVIELENS_USER_SAMPLE": "20", "MOVIELENS_MAX_EPOCHS": "3"}
    sample = _run("--data-dir", folder, "--out", tmp_path, "--model", "bias", env=changed)
    assert sample.returncode == 0, sample.stderr
    header = sample.stdout.splitlines()[0]
    assert "MOVIELENS_USER_SAMPLE=20" in header and "MOVIELENS_MAX_EPOCHS=3" in header
    plain = _run("--data-dir", folder, "--out", tmp_path, "--model", "bias", env=env)
    assert "MOVIELENS" not in plain.stdout.splitlines()[0]


def test_an_empty_out_is_refused_and_writes_nothing_here(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert protocol(folder, "", "--model", "bias") == 2
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_out_is_refused_before_training(folder, tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(evaluate, "MODELS", dict.fromkeys(evaluate.MODELS, _no_training))
    assert protocol(folder, tmp_path / "file" / "out", "--model", "bias") == 2
    assert "cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["gnn", "gnn-ranking", "gnn-rating", "lightgcn"])
def test_models_that_cannot_fold_in_are_refused_before_training(folder, tmp_path, monkeypatch,
                                                                capsys, name):  # fmt: skip
    monkeypatch.setattr(evaluate, "MODELS", dict.fromkeys(evaluate.MODELS, _no_training))
    assert protocol(folder, tmp_path, "--protocol", "new-users", "--model", name) == 2
    assert "cannot take users who join" in capsys.readouterr().err


def test_onboarding_beyond_every_history_is_refused_before_training(folder, tmp_path, monkeypatch,
                                                                    capsys):  # fmt: skip
    monkeypatch.setattr(evaluate, "MODELS", dict.fromkeys(evaluate.MODELS, _no_training))
    args = ("--protocol", "new-users", "--model", "bias", "--onboarding", "100000")
    assert protocol(folder, tmp_path, *args) == 2
    assert "leaves the new users no ratings to test" in capsys.readouterr().err


def test_a_cache_that_is_a_file_ends_in_one_error_line(folder, tmp_path):
    import os

    (tmp_path / "cache").write_text("")
    env = os.environ | {"MOVIELENS_CACHE": str(tmp_path / "cache")}
    result = _run("--data-dir", folder, "--out", tmp_path / "out", "--model", "bias", env=env)
    assert result.returncode == 2 and result.stderr.startswith("error:"), result.stderr
    assert "MOVIELENS_CACHE" in result.stderr and "Traceback" not in result.stderr
