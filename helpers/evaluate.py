"""Apply the kit's protocol to any folder in ml-latest-small layout.

    python -m helpers.evaluate --data-dir DIR --seed 42 --out OUTDIR [--model NAME]

Splits ``DIR/ratings.csv`` with ``random_state=SEED``, trains the model on the train part,
prints RMSE, MAE, NDCG@10, Recall@10 and coverage, and writes ``OUTDIR/predictions.csv`` (every
test rating) and ``OUTDIR/topk.csv`` (the 20 best unseen movies of every test user).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from helpers import metrics, pipeline
from helpers.data import DataError, load_ratings, write_atomically
from helpers.split import protocol_split

TOP_N = 20


def predictions_table(model: metrics.Recommender, test: pd.DataFrame) -> pd.DataFrame:
    """Every test rating with the model's prediction (clipped to the star scale)."""
    predicted = model.predict(test["userId"].to_numpy(), test["movieId"].to_numpy())
    table = test[["userId", "movieId", "rating"]].reset_index(drop=True)
    return table.assign(prediction=np.clip(predicted, 0.5, 5.0).round(4))


def topk_table(
    model: metrics.Recommender, train: pd.DataFrame, test: pd.DataFrame, n: int = TOP_N
) -> pd.DataFrame:
    """The ``n`` best-scored movies of every test user among the movies it did not rate in train."""
    movies = metrics.catalogue(train)
    users = np.sort(test["userId"].unique())
    parts, seen = [], metrics.SeenIndex(train, movies)
    for start in tqdm(range(0, len(users), 512), desc="top-k", leave=False):
        chunk = users[start : start + 512]
        scores = np.asarray(model.score(chunk, movies), dtype=np.float64)
        scores[seen.mask(chunk)] = -np.inf
        best = metrics.top_k(scores, n)
        parts.append(
            pd.DataFrame(
                {
                    "userId": np.repeat(chunk, best.shape[1]),
                    "rank": np.tile(np.arange(1, best.shape[1] + 1), len(chunk)),
                    "movieId": movies[best].ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write through a temporary name so an interrupted run leaves no half-written file."""
    write_atomically(path, lambda scratch: frame.to_csv(scratch, index=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply the kit's evaluation protocol.")
    parser.add_argument("--data-dir", required=True, help="folder with ratings.csv, movies.csv ...")
    parser.add_argument("--seed", type=int, default=42, help="random_state of the 80/20 split")
    parser.add_argument("--out", required=True, type=Path, help="folder for the CSV outputs")
    parser.add_argument(
        "--model", default=pipeline.DEFAULT_MODEL, choices=sorted(pipeline.MODELS), metavar="NAME",
        help=f"one of: {', '.join(pipeline.MODELS)} (default: {pipeline.DEFAULT_MODEL})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    data_dir = str(Path(args.data_dir).expanduser().resolve())
    try:
        if not Path(data_dir).is_dir():
            raise DataError(f"--data-dir {args.data_dir} is not a folder.")
        ratings = load_ratings(data_dir)
        train, test = protocol_split(ratings, args.seed)
        model = pipeline.build(args.model, train, data_dir, args.seed, progress=True)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = metrics.evaluate(model, train, test)
    print(f"{args.model} on {data_dir}, seed {args.seed}:")
    for name, value in result.items():
        print(f"  {name:<10} {value:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(predictions_table(model, test), args.out / "predictions.csv")
    write_csv(topk_table(model, train, test), args.out / "topk.csv")
    print(f"wrote {args.out / 'predictions.csv'} and {args.out / 'topk.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
