"""The kit's results table (notebooks 02-07): every model's protocol numbers in one CSV; and the
stored seeds (``results/seeds.csv``) notebooks 05 and 06 compare over."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
from filelock import FileLock

from helpers.data import write_atomically
from helpers.settings import REPO, Settings

COLUMNS = ["notebook", "model", "RMSE", "MAE", "NDCG@10", "Recall@10", "coverage"]


def path(settings: Settings) -> Path:
    """``results/leaderboard.csv`` for the course data, else ``leaderboard-<label>.csv``."""
    name = "leaderboard.csv" if settings.is_course_data else f"leaderboard-{settings.label}.csv"
    return settings.results / name


class LeaderboardError(ValueError):
    """The results table is damaged; the message says how to get a good one back."""


def problem(text: str) -> str | None:
    """What is wrong with the text of a results table, or None when it is whole."""
    if not text.endswith("\n"):
        return "it is cut off: its last line does not end"
    rows = list(csv.reader(io.StringIO(text)))
    if rows[0] != COLUMNS:
        return f"its header is {','.join(rows[0])!r}, not {','.join(COLUMNS)!r}"
    for number, row in enumerate(rows[1:], 2):
        if row and row[0].startswith(("<<<<<<<", "=======", ">>>>>>>", "|||||||")):
            return f"line {number} is a git conflict marker; resolve the conflict"
        if len(row) != len(COLUMNS):
            return f"line {number} has {len(row)} fields, not {len(COLUMNS)}"
        if not all(_is_number(value) for value in row[2:]):
            return f"line {number} has a metric that is not a number"
    return None


def _is_number(value: str) -> bool:
    try:
        float(value or "nan")
    except ValueError:
        return False
    return True


def load(settings: Settings) -> pd.DataFrame:
    """The table so far (empty when no notebook has run yet, or the file is empty)."""
    target = path(settings)
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    if not text.strip():
        return pd.DataFrame(columns=COLUMNS)
    if (wrong := problem(text)) is not None:
        raise LeaderboardError(
            f"{target} is damaged ({wrong}). Restore it (`git checkout -- {target.name}` in "
            "results/) or delete it; the notebooks then record their rows again."
        )
    return pd.read_csv(io.StringIO(text), dtype={"notebook": str})


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


def stored_seeds(settings: Settings) -> pd.DataFrame:
    """``results/seeds.csv``: the models of ``benchmarks/seeds.py`` on the course data's splits of
    seeds 42-44. They are that data's numbers whatever ``settings`` load, so on another data set
    this says so first."""
    if not settings.is_course_data:
        print(
            "The per-seed results below are the course data's (ml-latest-small, every user: "
            f"results/seeds.csv), not {settings.label}'s; to measure {settings.label}'s, run "
            "benchmarks/seeds.py with these settings and --csv a file of your own."
        )
    return pd.read_csv(REPO / "results" / "seeds.csv")
