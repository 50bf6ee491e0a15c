"""The results table: no row lost to a concurrent writer, a damaged file said in one sentence."""

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest

from helpers import Settings, leaderboard

METRICS = {"RMSE": 0.9, "MAE": 0.7, "NDCG@10": 0.1, "Recall@10": 0.2, "coverage": 0.5}


def _record_many(results: str, notebook: str, count: int) -> None:
    settings = Settings().replace(results=Path(results))
    for number in range(count):
        leaderboard.record(settings, notebook, f"model {number}", METRICS)


def test_two_processes_recording_at_once_keep_every_row(tmp_path):
    context = multiprocessing.get_context("fork")
    writers = [
        context.Process(target=_record_many, args=(str(tmp_path), notebook, 200))
        for notebook in ("02", "03")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    table = pd.read_csv(tmp_path / "leaderboard.csv", dtype={"notebook": str})
    assert len(table) == 400
    assert table.groupby("notebook").size().to_dict() == {"02": 200, "03": 200}


def _settings(tmp_path) -> Settings:
    return Settings().replace(results=tmp_path)


def test_an_empty_file_is_an_empty_table(tmp_path):
    settings = _settings(tmp_path)
    leaderboard.path(settings).write_bytes(b"")
    assert leaderboard.load(settings).empty
    leaderboard.record(settings, "02", "bias", METRICS)
    assert len(leaderboard.load(settings)) == 1


def _whole(tmp_path) -> str:
    settings = _settings(tmp_path)
    for notebook, model in (("02", "bias"), ("02", "GraphSAGE"), ("03", "EASE")):
        leaderboard.record(settings, notebook, model, METRICS)
    return leaderboard.path(settings).read_text()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) - 7], "cut off"),
        (lambda text: text[: text.index("\n") + 12] + "\n", "fields"),
        (
            lambda text: (
                text.replace("02,GraphSAGE", "<<<<<<< HEAD\n02,GraphSAGE", 1)
                + "=======\n02,GraphSAGE,1,1,1,1,1\n>>>>>>> other\n"
            ),
            "git conflict marker",
        ),
    ],
    ids=["cut-off", "cut-off-at-a-line-end", "conflict-markers"],
)
def test_a_damaged_table_is_refused_in_one_sentence(tmp_path, damage, message):
    settings = _settings(tmp_path)
    leaderboard.path(settings).write_text(damage(_whole(tmp_path)))
    for call in (lambda: leaderboard.load(settings), lambda: leaderboard.show(settings),
                 lambda: leaderboard.record(settings, "04", "x", METRICS)):  # fmt: skip
        with pytest.raises(leaderboard.LeaderboardError, match=message) as caught:
            call()
        assert str(caught.value).count(". ") <= 2 and "git checkout" in str(caught.value)


def test_stored_seeds_say_whose_numbers_they_are_on_another_data_set(tmp_path, capsys):
    course = leaderboard.stored_seeds(Settings(results=tmp_path))
    assert capsys.readouterr().out == ""
    other = leaderboard.stored_seeds(Settings(dataset=str(tmp_path)))
    said = capsys.readouterr().out
    assert "course data's (ml-latest-small" in said and f"not {tmp_path.name}'s" in said
    assert other.equals(course) and {"protocol", "model", "seed"} <= set(course.columns)
