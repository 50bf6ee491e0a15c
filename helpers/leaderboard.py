"""The kit's results table: every notebook adds its models' protocol numbers to one CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from helpers.data import DEFAULT_DATASET, repo_root, run_label, write_atomically

COLUMNS = ["notebook", "model", "RMSE", "MAE", "NDCG@10", "Recall@10", "coverage"]


def path() -> Path:
    """``results/leaderboard.csv`` (committed, ml-latest-small), else one file per data set.

    Another data set or a user sample writes ``results/leaderboard-<run label>.csv``
    (git-ignored), so it never mixes with, or overwrites, the committed table.
    """
    label = run_label()
    name = "leaderboard.csv" if label == DEFAULT_DATASET else f"leaderboard-{label}.csv"
    return repo_root() / "results" / name


def load() -> pd.DataFrame:
    """The table so far (empty when no notebook has run yet)."""
    if not path().exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path(), dtype={"notebook": str})


def record(notebook: str, model: str, metrics: dict[str, float]) -> pd.DataFrame:
    """Add or replace the row of (notebook, model), write the table atomically, return it."""
    table = load()
    table = table[~((table["notebook"] == notebook) & (table["model"] == model))]
    row = {"notebook": notebook, "model": model} | {k: round(v, 4) for k, v in metrics.items()}
    table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)[COLUMNS]
    table = table.sort_values(["notebook", "model"], kind="stable").reset_index(drop=True)
    write_atomically(path(), lambda scratch: table.to_csv(scratch, index=False))
    return table


def show(notebooks: list[str] | None = None) -> pd.DataFrame:
    """The table for display: chosen notebooks, 3 decimals, best RMSE first."""
    table = load()
    if notebooks is not None:
        table = table[table["notebook"].isin(notebooks)]
    return table.sort_values("RMSE", na_position="last").round(3).reset_index(drop=True)
