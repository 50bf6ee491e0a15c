"""What a guard's six shares cost on one held-out split of a list model: the shares ranked
one at a time, each through the blend's own ``score`` (both models' score grids made and
standardised six times, as the guards did before this benchmark's change), against
``helpers.recommend.users_numbers`` (each batch of users' two standardised grids made once, then
mixed at every share), the way ``WarmGuard`` (notebooks 02-05) and ``ColdGuard`` (07) now rank.
A guard does this once per bucket's split; ``ColdGuard`` for new users on six splits (K = 1, 2,
4, 5, 10, 20), and for new movies again on 20 random halves of the held-out movies
(``movie_spread``): it ranks that many times more.

The model is a stand-in with the right shapes, not a trained one (the cost depends on the
shapes only): a ``GNNRecommender`` with random 64-d list embeddings of the fit part's users and
movies, blended with most popular, on the validation part of the protocol's train part (seed
42), the whole validation part as one split (a ``WarmGuard`` ranks the same users, bucket by
bucket); every user with a validation rating of 4 or more ranks every fit-part movie. The data
set is the configured one (``MOVIELENS_DATASET``, default ml-latest-small); for a larger one, a
folder made by ``tools/synthetic.py`` (synthetic, not MovieLens). The two ways take turns
(old, new, old, new, ...) and must give every user the same NDCG@10 at every share, or the
script stops.

    python benchmarks/guard_speed.py --repeats 5 --json benchmarks/guard-speed.json
    MOVIELENS_DATASET=<folder> python benchmarks/guard_speed.py --json benchmarks/guard-speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sage_conv import machine  # this folder, like seeds.py's peers

from helpers import baselines, data, protocol
from helpers.graph import IdMap, IdMaps
from helpers.metrics import Ranking
from helpers.recommend import SHARES, Blend, Embeddings, GNNRecommender, users_numbers
from helpers.settings import THREADS, Settings, seed_everything


def one_share_at_a_time(asked: protocol.Asked, ranking: Ranking) -> dict[float, pd.Series]:
    """Each user's NDCG@10 at each share, each share ranked through the blend's ``score``."""
    return {
        share: ranking.per_user(replace(asked.model, shares={0: share}).score)
        .set_index("userId")["NDCG@10"]
        .groupby(level=0)
        .mean()
        for share in SHARES
    }


def stand_in(fit_part: pd.DataFrame) -> Blend:
    """Random 64-d list embeddings of the fit part's users and movies, blended with popularity."""
    draw = np.random.default_rng(0)
    maps = IdMaps(IdMap.from_ids(fit_part["userId"]), IdMap.from_ids(fit_part["movieId"]))

    def normal(*shape: int) -> np.ndarray:
        return draw.normal(0, 0.1, shape).astype(np.float32)

    lists = Embeddings(
        normal(len(maps.users), 64), normal(len(maps.movies), 64), normal(len(maps.movies))
    )
    model = GNNRecommender("stand-in", maps, baselines.BiasBaseline().fit(fit_part), lists=lists)
    return Blend(model, baselines.MostPopular().fit(fit_part), {0: 1.0}, pd.Series(dtype=float), "")


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each way")
    parser.add_argument("--json", help="also add this run's numbers to this file's rows")
    args = parser.parse_args()
    seed_everything(42)  # and the course's 2 threads, as the notebooks
    settings = Settings.from_env()
    train = protocol.protocol_split(data.load_ratings(settings)).train
    fit_part, valid_part = protocol.validation_split(train)
    asked = protocol.warm_asked(stand_in(fit_part), protocol.Split(fit_part, valid_part))
    ranking = Ranking(asked.known, asked.test, asked.catalogue)
    times = {"one share at a time": [], "users_numbers": []}
    for _ in range(args.repeats):
        seconds, slow = timed(lambda: one_share_at_a_time(asked, ranking))
        times["one share at a time"].append(seconds)
        seconds, fast = timed(lambda: users_numbers([asked], [ranking]))
        times["users_numbers"].append(seconds)
        for share in SHARES:
            pd.testing.assert_series_equal(slow[share], fast[share], check_exact=True)
    before, after = (statistics.median(t) for t in times.values())
    row = {
        "data": settings.label,
        "train ratings": len(train),
        "ranked users": len(ranking.users),
        "movies": len(asked.catalogue),
        "one share at a time (s)": round(before, 2),
        "users_numbers (s)": round(after, 2),
        "ratio": round(before / after, 2),
        "repeats": args.repeats,
        "every run (s)": {way: [round(t, 2) for t in runs] for way, runs in times.items()},
        "threads": THREADS,
        "cpu": machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(pd.Series({k: v for k, v in row.items() if k != "every run (s)"}).to_string())
    print("Every user's NDCG@10 the same both ways, at every share.")
    if args.json:  # one row per data set: a run replaces the row of its own
        path = Path(args.json)
        rows = json.loads(path.read_text())["rows"] if path.exists() else []
        rows = [old for old in rows if old["data"] != row["data"]] + [row]
        path.write_text(json.dumps({"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
