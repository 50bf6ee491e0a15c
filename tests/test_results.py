"""The committed results agree with each other: the seed-42 rows of ``results/seeds.csv``
(written by ``benchmarks/seeds.py``) are the numbers the notebooks recorded in
``results/leaderboard.csv`` for the same model on the same split. A model retrained with
changed code, and not re-benchmarked, fails here."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tools.stored_outputs import PORTABLE_NUMERICS

RESULTS = Path(__file__).resolve().parents[1] / "results"
TOLERANCE = 0.002  # the same code on another CPU moves a metric in its third decimal at most
# (protocol, benchmark name, metric) -> (notebook, leaderboard name)
SAME_MODEL = {
    ("warm", "bias", "RMSE"): ("02", "user + item bias"),
    ("warm", "svd++", "RMSE"): ("02", "SVD++"),
    ("warm", "most-popular", "NDCG@10"): ("02", "most popular"),
    ("warm", "ease", "NDCG@10"): ("02", "EASE"),
    ("warm", "graphsage", "NDCG@10"): ("02", "GraphSAGE (ids)"),
    ("warm", "graphsage", "RMSE"): ("02", "GraphSAGE (ids)"),
    ("warm", "graphsage-content", "NDCG@10"): ("03", "GraphSAGE + year, genres"),
    ("warm", "graphsage-content", "RMSE"): ("03", "GraphSAGE + year, genres"),
    ("warm", "graphsage-final", "NDCG@10"): ("04", "GraphSAGE + genome, tags"),
    ("warm", "graphsage-final", "RMSE"): ("04", "GraphSAGE + genome, tags"),
    ("warm", "gnn-ranking", "NDCG@10"): ("06", "GNN (ranking + rating)"),
    ("warm", "gnn-rating", "RMSE"): ("06", "GNN (ranking + rating)"),
    ("new-users", "graphsage-cold-users", "NDCG@10"): ("07", "GraphSAGE (inductive, new users)"),
    ("new-users", "graphsage-cold-users", "RMSE"): ("07", "GraphSAGE (inductive, new users)"),
    ("new-movies", "graphsage-cold-movies", "NDCG@10"): (
        "07",
        "GraphSAGE (inductive, new movies)",
    ),
    ("new-movies", "graphsage-cold-movies", "RMSE"): ("07", "GraphSAGE (inductive, new movies)"),
}


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    seeds = pd.read_csv(RESULTS / "seeds.csv").query("seed == 42")
    board = pd.read_csv(RESULTS / "leaderboard.csv", dtype={"notebook": str})
    return seeds.set_index(["protocol", "model"]), board.set_index(["notebook", "model"])


@pytest.mark.parametrize("claim", sorted(SAME_MODEL), ids=lambda c: "-".join(c))
def test_benchmark_seed_42_matches_the_notebooks(tables, claim):
    seeds, board = tables
    protocol, name, metric = claim
    assert (protocol, name) in seeds.index, f"benchmarks/seeds.py has no seed-42 row for {name}"
    assert SAME_MODEL[claim] in board.index, f"no notebook recorded {SAME_MODEL[claim]}"
    benchmark = seeds.loc[(protocol, name), metric]
    notebook = board.loc[SAME_MODEL[claim], metric]
    assert benchmark == pytest.approx(notebook, abs=TOLERANCE), (
        f"{name} {metric}: seeds.csv {benchmark:.4f}, notebook {notebook:.4f}; "
        "re-run benchmarks/seeds.py for this model"
    )


def test_the_seeds_benchmark_runs_with_the_notebook_kernels_numerics():
    """Without the kernels' settings its GraphSAGE rows land elsewhere than the notebooks'."""
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE_NUMERICS}
    probe = "import os, sys; sys.path.insert(0, 'benchmarks'); import seeds; print(os.environ)"
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=RESULTS.parent, env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    for name, value in PORTABLE_NUMERICS.items():
        assert f"'{name}': '{value}'" in shown.stdout
