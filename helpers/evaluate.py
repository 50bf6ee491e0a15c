"""Apply the kit's protocols to any folder in ml-latest-small layout (README, notebook 02):

    python -m helpers.evaluate --data-dir DIR --seed 42 --out OUTDIR [--model NAME]
        [--protocol warm|new-users|new-movies] [--onboarding K]

Prints the metrics, writes ``predictions.csv`` (every test rating) and ``topk.csv`` (each test
user's 20 best unseen movies); a bad argument ends in one ``error:`` line, before any training.
"""

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import data, download, metrics, protocol
from helpers.metrics import Rated, best_unrated, clip
from helpers.models import DEFAULT_MODEL, MODELS, NO_FOLD_IN
from helpers.settings import VARIABLES, Settings

TOP_N = 20
PROTOCOLS = {
    "warm": DEFAULT_MODEL,
    "new-users": "graphsage-cold-users",
    "new-movies": "graphsage-cold-movies",
}


def predictions_table(model, test: pd.DataFrame) -> pd.DataFrame:
    """Every test rating with the model's prediction (clipped to the star scale)."""
    predicted = model.predict(test["userId"].to_numpy(), test["movieId"].to_numpy())
    table = test[["userId", "movieId", "rating"]].reset_index(drop=True)
    return table.assign(prediction=clip(predicted).round(4))


def topk_table(model, rated: Rated, users: np.ndarray, n: int = TOP_N) -> pd.DataFrame:
    """The ``n`` best-scored catalogue movies of every user that it has not rated."""
    chunks = [users[start : start + 512] for start in range(0, len(users), 512)]
    best = np.concatenate([best_unrated(model.score, rated, chunk, n) for chunk in chunks])
    width = best.shape[1]
    ranks = np.tile(np.arange(1, width + 1), len(users))
    movie_ids = rated.catalogue[best].ravel()
    return pd.DataFrame({"userId": np.repeat(users, width), "rank": ranks, "movieId": movie_ids})


def run(model_name: str, kind: str, ratings, source, settings, seed: int, k: int):
    """Train on the protocol's train part; return the metrics and the two output tables."""
    everyone = np.sort(ratings["movieId"].unique())
    if kind == "warm":
        train, test = protocol.protocol_split(ratings, seed)
        model = MODELS[model_name](train, source, settings, seed, progress=True)
        result, rated = metrics.evaluate(model, train, test), Rated.of(train)
    elif kind == "new-users":
        parts = protocol.new_users_split(ratings, seed, k)
        trained = MODELS[model_name](parts.train, source, settings, seed, progress=True)
        if not hasattr(trained, "fold_in"):
            raise ValueError(f"{model_name} cannot take users who join after training.")
        result, test = protocol.new_users(trained, parts), parts.test
        model, rated = trained.fold_in(parts.onboarding), Rated.of(parts.onboarding, everyone)
    else:
        train, test = protocol.new_movies_split(ratings, seed)
        model = MODELS[model_name](train, source, settings, seed, progress=True)
        result = protocol.new_movies(model, protocol.Split(train, test))
        rated = Rated.of(test.iloc[:0], np.sort(test["movieId"].unique()))
    users = np.sort(test["userId"].unique())
    return result, predictions_table(model, test), topk_table(model, rated, users)


def check_arguments(args: argparse.Namespace, name: str) -> Path:
    """Refuse what can be checked before loading data; return the ``--out`` folder, writable."""
    if args.onboarding < 1:
        raise ValueError(f"--onboarding must be at least 1, not {args.onboarding}.")
    if args.protocol == "new-users" and name in NO_FOLD_IN:
        able = ", ".join(sorted(set(MODELS) - NO_FOLD_IN))
        raise ValueError(
            f"{name} cannot take users who join after training; for --protocol new-users "
            f"choose one of: {able}."
        )
    if not Path(args.data_dir).expanduser().is_dir():
        raise ValueError(f"--data-dir {args.data_dir} is not a folder.")
    if not args.out.strip():
        raise ValueError("--out is empty; name a folder for the CSV outputs (e.g. --out results).")
    return download.writable_out(args.out)


def check_ratings(ratings: pd.DataFrame, folder: Path, args: argparse.Namespace) -> None:
    """Refuse ratings too few to split for the chosen protocol, before any training."""
    if ratings["userId"].nunique() < 5:
        raise ValueError(f"{folder}/ratings.csv has fewer than 5 users: too few to split.")
    if args.protocol != "new-users":
        return
    parts = protocol.new_users_split(ratings, args.seed, args.onboarding)
    if parts.test.empty:
        longest = int(parts.onboarding.groupby("userId").size().max())
        raise ValueError(
            f"--onboarding {args.onboarding} leaves the new users no ratings to test: the longest "
            f"of their histories has {longest}. Choose a smaller --onboarding (the protocol: 5)."
        )


def changed_settings(settings: Settings) -> str:
    """The ``MOVIELENS_*`` settings in force that change the numbers, for the header."""
    chosen = {"user_sample": settings.user_sample, "max_epochs": settings.max_epochs,
              "genome": settings.genome}  # fmt: skip
    named = [f"{VARIABLES[key]}={value}" for key, value in chosen.items() if value is not None]
    return f", with {', '.join(named)}" if named else ""


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when the outputs are written, 2 after one ``error:`` line."""
    parser = argparse.ArgumentParser(description="Apply the kit's evaluation protocols.")
    parser.add_argument("--data-dir", required=True, help="folder with ratings.csv, movies.csv ...")
    parser.add_argument("--seed", type=int, default=42, help="random_state of the split")
    parser.add_argument("--out", required=True, help="folder for the CSV outputs")
    parser.add_argument("--protocol", default="warm", choices=list(PROTOCOLS))
    parser.add_argument(
        "--onboarding", type=int, default=protocol.ONBOARDING, help="K of new users"
    )
    models = f"one of: {', '.join(MODELS)} (default: per protocol, {PROTOCOLS})"
    parser.add_argument("--model", choices=sorted(MODELS), metavar="NAME", help=models)
    args = parser.parse_args(argv)
    name = args.model or PROTOCOLS[args.protocol]
    try:
        out = check_arguments(args, name)
        folder = Path(args.data_dir).expanduser().resolve()
        settings = Settings.from_env().replace(dataset=str(folder))
        ratings = data.load_ratings(settings)
        check_ratings(ratings, folder, args)
        source = data.load_movie_data(settings)
        result, predictions, topk = run(
            name, args.protocol, ratings, source, settings, args.seed, args.onboarding
        )
    except (data.DataError, ValueError) as error:  # SettingsError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # one the kit has no sentence of its own for
        print(f"error: {error.filename or 'a file'}: {error.strerror or error}.", file=sys.stderr)
        return 2
    print(f"{name} on {folder}, {args.protocol} protocol, seed {args.seed}"
          f"{changed_settings(settings)}:")  # fmt: skip
    for metric, value in result.items():
        print(f"  {metric:<10} {value:.4f}")
    tables = {out / "predictions.csv": predictions, out / "topk.csv": topk}
    writes = {path: partial(table.to_csv, index=False) for path, table in tables.items()}
    try:
        download.write_together(writes)
    except OSError as error:
        print(f"error: cannot write into {out} ({error.strerror or error}); its previous "
              "predictions.csv and topk.csv are kept as they were.", file=sys.stderr)  # fmt: skip
        return 2
    print(f"wrote {out / 'predictions.csv'} and {out / 'topk.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
