"""The kit's results table (notebooks 02-07): every model's protocol numbers in one CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from filelock import FileLock

from helpers.data import write_atomically
from helpers.settings import Settings

COLUMNS = ["notebook", "model", "RMSE", "MAE", "NDCG@10", "Recall@10", "coverage"]


def path(settings: Settings) -> Path:
    """``results/leaderboard.csv`` for the course data, else ``leaderboard-<label>.csv``."""
    name = "leaderboard.csv" if settings.is_course_data else f"leaderboard-{settings.label}.csv"
    return settings.results / name


def load(settings: Settings) -> pd.DataFrame:
    """The table so far (empty when no notebook has run yet)."""
    if not path(settings).exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path(settings), dtype={"notebook": str})


def lock(settings: Settings) -> FileLock:
    """The lock every writer of the table holds from reading it to renaming the new copy."""
    target = path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(target.with_name(f".{target.name}.lock"))


def record(settings: Settings, notebook: str, model: str, metrics: dict[str, float]) -> None:
    """Add or replace the row of (notebook, model) and write the table atomically.

    Read, change and rename happen under :func:`lock`, so two notebooks or processes recording
    at once both keep their rows.
    """
    with lock(settings):
        table = load(settings)
        table = table[~((table["notebook"] == notebook) & (table["model"] == model))]
        row = {"notebook": notebook, "model": model} | {k: round(v, 4) for k, v in metrics.items()}
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)[COLUMNS]
        table = table.sort_values(["notebook", "model"], kind="stable").reset_index(drop=True)
        write_atomically(path(settings), lambda scratch: table.to_csv(scratch, index=False))


def show(settings: Settings, notebooks: list[str] | None = None) -> pd.DataFrame:
    """The table for display: the chosen notebooks' rows, 3 decimals, best NDCG@10 first."""
    table = load(settings)
    if notebooks is not None:
        table = table[table["notebook"].isin(notebooks)]
    table = table.sort_values(["NDCG@10", "RMSE"], ascending=[False, True], na_position="last")
    return table.round(3).reset_index(drop=True)
