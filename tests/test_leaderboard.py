"""The results table: no row lost to a concurrent writer, a damaged file said in one sentence."""

import multiprocessing
from pathlib import Path

import pandas as pd

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
