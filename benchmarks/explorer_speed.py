"""What one click costs in the explorer of notebook 08 (``helpers.explorer``), in milliseconds.

Run (``--json`` writes the numbers; a quick run takes a few minutes)::

    MOVIELENS_MIRROR=/path/to/movielens python benchmarks/explorer_speed.py --json explorer.json
    python benchmarks/explorer_speed.py --updates 30 --ratings 2000000   # quick run

Measured, each as the median and 95th percentile over many updates:

1. **click, user mode**: one control of the widget changes (user, who loved, genres, match,
   years, min stars, min ratings, K, order, hide rated) and ``Explorer.update`` filters, ranks,
   renders the table and draws the "because you liked" picture, as the widget does on every
   click. "table only" times the same states without the picture (``Explorer.results`` and the
   HTML table).
2. **first visit of a user** never shown before: at 25M the scores (and predicted stars) are
   computed per user when first shown and kept in an LRU cache (``logic.Scores``); "scoring"
   times that alone, "click" the whole update. At ml-latest-small one users x movies matrix is
   computed up front instead (part of the setup time).
3. **"you" mode, an update after adding a rating**: ``YourRatings.add``, ``for_you`` (your
   ratings folded into the model, no gradient step), ranking and the HTML table, over sequences
   of 1 to 20 ratings (then a fresh set); and the same through the widget's Add button
   (``Explorer._change``: the list of your ratings, the update and its picture). Targets from
   the issue: <= 200 ms at ml-latest-small, <= 1 s at MovieLens 25M's shape.
4. **the "because you liked" picture**: ``because_you_liked``, ``explanation_graph``,
   ``draw_explanation`` and the SVG, for a user of the data set and for you.

Two data sets:

- ml-latest-small: the real movies and the protocol train part (``protocol_split``, seed 42),
  read through ``helpers.data`` (``MOVIELENS_MIRROR`` etc., as every notebook);
- **synthetic**, MovieLens 25M's shape: 162,541 users, 62,423 movies and ``--ratings``
  (default 25,000,095) random ratings, titles ``Synthetic Movie 123 (1995)``. It is made here,
  in memory; nothing in it is MovieLens.

The models are **stand-ins with the right shapes**, not trained ones: an update's cost depends
on the shapes only, and training would take hours at 25M. The user model is a
``GNNRecommender`` over random list embeddings as wide as LightGCN's
(``helpers.models.lightgcn.LIGHTGCN``)
and 64-d star embeddings on a bias model fitted on train (the shape of notebook 08's ``GNN``,
without the graph filter of its blend); the "you" model is an untrained ``GraphSAGE`` (64
channels, 2 layers, ids only) served through ``SageRecommender`` for lists and for stars, each
blended with its fallback (``helpers.recommend.Blend``: popularity for lists, the bias model for
stars, notebook 07's shares) and combined with ``helpers.recommend.Both`` as notebook 08's
inductive model is.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import helpers
from helpers import data, protocol
from helpers.baselines import BiasBaseline, MostPopular
from helpers.explorer import logic
from helpers.explorer.widget import STYLE, Explorer, _svg, draw_explanation, explanation_graph
from helpers.features import FeatureTables
from helpers.graph import IdMaps, build_graph
from helpers.models.graphsage import GraphSAGE, serve
from helpers.models.lightgcn import LIGHTGCN
from helpers.recommend import Blend, Both, Embeddings, GNNRecommender

GENRES = (
    "Action Adventure Animation Children Comedy Crime Documentary Drama Fantasy Film-Noir "
    "Horror IMAX Musical Mystery Romance Sci-Fi Thriller War Western"
).split()
MAX_YOURS = 20  # ratings you give before the benchmark starts a fresh set
TARGETS_MS = {"ml-latest-small": 200, "synthetic, MovieLens 25M shape": 1000}  # "you" updates
WIDTH = LIGHTGCN.channels  # the list embeddings' width
SMALL, SYNTHETIC = "ml-latest-small", "synthetic, MovieLens 25M shape"


# ---------------------------------------------------------------------------------- data


def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    """ml-latest-small's movies and protocol train ratings (seed 42)."""
    settings = helpers.Settings.from_env()
    ratings = data.load_ratings(settings)
    return data.load_movies(settings), protocol.protocol_split(ratings, seed=42).train


def synthetic_25m(n_users=162_541, n_movies=62_423, n_ratings=25_000_095, seed=0):
    """Synthetic movies and ratings with MovieLens 25M's shape (popular movies get most
    ratings, at least 20 per user when there are enough ratings). Not MovieLens data."""
    rng = np.random.default_rng(seed)
    years = rng.integers(1900, 2020, n_movies)
    movies = pd.DataFrame(
        {
            "movieId": np.arange(1, n_movies + 1, dtype=np.int64),
            "title": [f"Synthetic Movie {i} ({y})" for i, y in enumerate(years, start=1)],
            "genres": [
                "|".join(rng.choice(GENRES, size=rng.integers(1, 4), replace=False))
                for _ in range(n_movies)
            ],
            "year": pd.array(years, dtype="Int16"),
        }
    )
    least = min(20, n_ratings // n_users)  # MovieLens keeps users with at least 20 ratings
    per_user = rng.multinomial(n_ratings - least * n_users, np.full(n_users, 1 / n_users)) + least
    popularity = 1.0 / np.arange(1, n_movies + 1) ** 0.9
    train = pd.DataFrame(
        {
            "userId": np.repeat(np.arange(1, n_users + 1, dtype=np.int64), per_user),
            "movieId": rng.choice(n_movies, size=n_ratings, p=popularity / popularity.sum()) + 1,
            "rating": rng.integers(1, 11, n_ratings).astype(np.float32) / 2,
            "timestamp": rng.integers(789_652_009, 1_574_327_703, n_ratings),
        }
    )
    return movies, train


# ---------------------------------------------------------------------------------- models


def stand_ins(movies: pd.DataFrame, train: pd.DataFrame, seed: int = 0):
    """The user model and the "you" model (see the module docstring), untrained."""
    helpers.seed_everything(seed)
    rng = np.random.default_rng(seed)
    maps = IdMaps.from_tables(train, movies)
    base = BiasBaseline().fit(train)
    n_users, n_movies = len(maps.users), len(maps.movies)

    def normal(rows: int, dim: int, scale: float) -> np.ndarray:
        return rng.normal(0, scale, (rows, dim)).astype(np.float32)

    lists = Embeddings(
        normal(n_users, WIDTH, 0.1), normal(n_movies, WIDTH, 0.1), normal(n_movies, 1, 1.0)[:, 0]
    )
    stars = Embeddings(
        normal(n_users, 64, 0.05), normal(n_movies, 64, 0.05), np.zeros(n_movies, np.float32)
    )
    users = GNNRecommender("stand-in GNN", maps, base, lists, stars)
    graph = build_graph(train, maps)  # the graph the "you" model is served on
    graph["movie"].known = graph["movie"].rated
    sage, tables = GraphSAGE(n_movies, channels=64, layers=2), FeatureTables(None, None, None)
    name = "stand-in GraphSAGE"
    with torch.no_grad():
        lists = serve(sage, graph, maps, tables, base, name, stars=False)
        stars = serve(sage, graph, maps, tables, base, name, stars=True)
    counts = train["userId"].value_counts()  # notebook 07's shares on seed 42, below
    popular = MostPopular().fit(train)
    you = Both(
        Blend(lists, popular, {1: 0.6, 5: 0.6}, counts, name),
        Blend(stars, base, {1: 0.4, 5: 0.6}, counts, name),
        name,
    )
    return users, you


# ---------------------------------------------------------------------------------- timing


def summary(times_ms, target_ms: float | None = None) -> dict:
    """Count, median and 95th percentile (ms); ``within_target`` compares the p95."""
    times = np.asarray(times_ms, dtype=np.float64)
    if len(times) == 0:
        return {"n": 0, "median_ms": None, "p95_ms": None}
    row = {
        "n": len(times),
        "median_ms": round(float(np.median(times)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
    }
    if target_ms is not None:
        row |= {"target_ms": target_ms, "within_target": bool(row["p95_ms"] <= target_ms)}
    return row


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return 1000 * (time.perf_counter() - started)


def offered_titles(app: Explorer) -> list[str]:
    """The titles the widget offers that name one movie (a repeated label cannot be added)."""
    labels = app.catalogue.labels()
    counts = labels.value_counts()
    return [t for t in app.titles if counts[t] == 1]


def change(app: Explorer, kind: int, rng: np.random.Generator):
    """A (control, value) a learner might set, different from the control's current value."""
    users, titles = app.rated.user_ids, app.titles
    if kind == 0:
        return app.user, str(rng.choice(users[users != int(app.user.value)]))
    if kind == 1:  # "who loved": a popular title, or clear it
        return app.loved, "" if app.loved.value else str(rng.choice(titles[:500]))
    if kind == 2:
        picked = rng.choice(app.catalogue.genres, size=int(rng.integers(1, 3)), replace=False)
        return app.genres, () if app.genres.value else tuple(sorted(picked))
    if kind == 3:
        return app.match, "all" if app.match.value == "any" else "any"
    if kind == 4:
        low, high = app.years.min, app.years.max
        if app.years.value != (low, high):
            return app.years, (low, high)
        start = int(rng.integers(low, high - 10))
        return app.years, (start, int(rng.integers(start + 10, high + 1)))
    if kind == 5:
        options = [s for s in (0.5, 2.0, 3.0, 3.5) if s != app.min_stars.value]
        return app.min_stars, float(rng.choice(options))
    if kind == 6:
        options = [r for r in (1, 10, 20, 50) if r != app.min_ratings.value]
        return app.min_ratings, int(rng.choice(options))
    if kind == 7:
        options = [k for k in (5, 10, 20, 50) if k != app.k.value]
        return app.k, int(rng.choice(options))
    if kind == 8:
        return app.order, "least likely" if app.order.value == "top" else "top"
    return app.hide_rated, not app.hide_rated.value


def relax(app: Explorer) -> None:
    """Back to filters that let movies through, after an update that showed an error."""
    app.loved.value, app.genres.value, app.min_stars.value = "", (), 0.5
    app.years.value = (app.years.min, app.years.max)


def table_only(app: Explorer) -> float:
    """Milliseconds of the current state's list and HTML table (no picture)."""
    started = time.perf_counter()
    result = app.results(app.filters())[0]
    _ = STYLE + result.table.to_html(classes="explorer-results", border=0)
    return 1000 * (time.perf_counter() - started)


def time_clicks(app: Explorer, n: int, seed: int = 0) -> dict:
    """User mode: ``n`` single-control changes through the widget, and their table alone."""
    rng, clicks, tables, errors = np.random.default_rng(seed), [], [], 0
    app.mode.value = "a MovieLens user"
    for i in range(n):
        control, value = change(app, i % 10, rng)
        clicks.append(timed(lambda c=control, v=value: setattr(c, "value", v)))  # update runs
        if app.table.value:
            tables.append(table_only(app))
        else:  # an empty list or a movie nobody loved: the error path, timed too
            errors += 1
            relax(app)
    return {
        "click, user mode (widget: table + picture)": summary(clicks) | {"errors": errors},
        "table only (filter, rank, render)": summary(tables),
    }


def forget(app: Explorer) -> None:
    """Empty the per-user caches of scores and predicted stars."""
    app.scores.cache.cache_clear()
    app.stars.cache.cache_clear()


def time_first_visits(app: Explorer, n: int, seed: int = 1) -> dict:
    """Users never shown before (cleared caches): scoring alone, and a whole click."""
    if app.scores.matrix is not None:
        return {}
    relax(app)
    users = np.random.default_rng(seed).choice(app.rated.user_ids, size=2 * n, replace=False)
    scoring, clicks = [], []
    for user in users[:n]:
        forget(app)
        scoring.append(timed(lambda u=int(user): (app.scores(u), app.stars(u))))
    for user in users[n:]:
        forget(app)
        clicks.append(timed(lambda u=str(user): setattr(app.user, "value", u)))
    return {
        "first visit of a user: scoring": summary(scoring),
        "first visit of a user: click": summary(clicks),
    }


def your_sequences(titles: list[str], n: int, seed: int):
    """``n`` (title, stars, fresh) ratings: sets of MAX_YOURS distinct titles, one at a time."""
    rng = np.random.default_rng(seed)
    stars = (1.0, 2.0, 3.0, 3.5, 4.0, 4.0, 4.5, 5.0, 5.0)
    for start in range(0, n, MAX_YOURS):
        picked = rng.choice(len(titles), size=MAX_YOURS, replace=False)
        for i, row in enumerate(picked[: n - start]):
            yield titles[row], float(rng.choice(stars)), i == 0


def time_you(app: Explorer, titles: list[str], n: int, target: float | None, seed=2) -> dict:
    """The "you" mode: add a rating, show your list (logic functions, then the Add button)."""
    filters = logic.Filters(min_ratings=10)  # the widget's defaults
    logic_ms, by_count = [], {}
    yours = logic.YourRatings(app.catalogue)
    for title, stars, fresh in your_sequences(titles, n, seed):
        yours = logic.YourRatings(app.catalogue) if fresh else yours

        def update(title=title, stars=stars, yours=yours):
            yours.add(title, stars)
            result, _ = logic.for_you(app.you_model, app.catalogue, yours, filters)
            _ = STYLE + result.table.to_html(classes="explorer-results", border=0)

        logic_ms.append(timed(update))
        by_count.setdefault(len(yours.stars), []).append(logic_ms[-1])
    app.mode.value = "you"
    relax(app)
    button_ms, errors = [], 0
    for title, stars, fresh in your_sequences(titles, n, seed + 1):
        if fresh:
            app.yours = logic.YourRatings(app.catalogue)
        app.title.value, app.your_stars.value = title, stars
        button_ms.append(timed(app.add.click))
        errors += not app.status.value.startswith("You:")
    app.mode.value = "a MovieLens user"
    return {
        "you: add a rating (add, fold in, rank, table)": summary(logic_ms, target)
        | {
            "median_ms_by_ratings": {
                str(k): round(float(np.median(v)), 1) for k, v in sorted(by_count.items())
            }
        },
        "you: Add button (widget: + your list, picture)": summary(button_ms, target)
        | {"errors": errors},
    }


def time_pictures(app: Explorer, titles: list[str], n: int) -> dict:
    """The "because you liked" picture of the top 5: for a user, and for you (5 ratings)."""
    user = int(app.rated.user_ids[0])
    rated, stars = app.rated.of_user(user)
    result = logic.recommend(app.catalogue, app.scores(user), rated, app.filters(), app.stars(user))
    yours = logic.YourRatings(app.catalogue)
    for title, given in zip(titles[:5], (5.0, 4.5, 4.0, 4.5, 1.0), strict=True):
        yours.add(title, given)
    mine, my_rated = logic.for_you(app.you_model, app.catalogue, yours, app.filters())
    my_stars = np.fromiter(yours.stars.values(), np.float32)
    cases = {
        "picture, user mode": ("users", f"User {user}", result, rated, stars),
        "picture, you mode": ("you", "You", mine, my_rated, my_stars),
    }
    out = {}
    for name, (which, who, listed, rows, given) in cases.items():

        def draw(which=which, who=who, listed=listed, rows=rows, given=given):
            because = logic.because_you_liked(app.vectors[which], listed.positions[:5], rows, given)
            _svg(draw_explanation(explanation_graph(app.catalogue, who, because, rows, given)))

        out[name] = summary([timed(draw) for _ in range(n)])
    return out


def measure(name: str, movies: pd.DataFrame, train: pd.DataFrame, args) -> dict:
    """Every measurement on one data set."""
    started = time.perf_counter()
    users_model, you_model = stand_ins(movies, train)
    models_s = time.perf_counter() - started
    started = time.perf_counter()
    app = Explorer(users_model, you_model, train, movies)
    explorer_s = time.perf_counter() - started
    titles = offered_titles(app)
    row = {
        "data": name,
        "users": len(app.rated.user_ids),
        "movies": len(app.catalogue),
        "ratings": len(train),
        "scores": "matrix, once" if app.scores.matrix is not None else "per user, cached",
        "models setup s": round(models_s, 1),
        "explorer setup s": round(explorer_s, 1),
        "titles offered": len(app.titles),
        "titles that cannot be added (repeated label)": len(app.titles) - len(titles),
        "measurements": {},
    }
    measurements = row["measurements"]
    for label, step in [
        ("clicks", lambda: time_clicks(app, args.updates)),
        ("first visits", lambda: time_first_visits(app, min(args.updates, 100))),
        ("you", lambda: time_you(app, titles, args.updates, TARGETS_MS.get(name))),
        ("pictures", lambda: time_pictures(app, titles, min(args.updates, 20))),
    ]:
        print(f"  {name}: {label} ...", flush=True)
        measurements |= step()
    return row


def report(rows: list[dict], args) -> None:
    print(
        f"\n{args.updates} updates per measurement (pictures: {min(args.updates, 20)}, "
        f"first visits: {min(args.updates, 100)}); stand-in models with the trained ones' shapes"
    )
    print(
        pd.DataFrame(
            [{k: v for k, v in row.items() if k != "measurements"} for row in rows]
        ).to_string(index=False)
    )
    table = [
        {
            "data": row["data"],
            "measurement": what,
            "n": m["n"],
            "median ms": m["median_ms"],
            "p95 ms": m["p95_ms"],
            "target ms (p95)": m.get("target_ms", ""),
            "met": {True: "yes", False: "NO"}.get(m.get("within_target"), ""),
        }
        for row in rows
        for what, m in row["measurements"].items()
    ]
    print()
    print(pd.DataFrame(table).to_string(index=False))
    for row in rows:
        growth = row["measurements"]["you: add a rating (add, fold in, rank, table)"]
        print(
            f"\n{row['data']}, you: median ms by the number of your ratings: "
            + ", ".join(f"{k}: {v}" for k, v in growth["median_ms_by_ratings"].items())
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--updates", type=int, default=300, help="updates timed per measurement")
    parser.add_argument(
        "--ratings", type=int, default=25_000_095, help="ratings of the synthetic 25M-shape set"
    )
    parser.add_argument(
        "--data", nargs="+", choices=["small", "synthetic"], default=["small", "synthetic"]
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)
    loaders = {
        "small": (SMALL, small),
        "synthetic": (SYNTHETIC, lambda: synthetic_25m(n_ratings=args.ratings)),
    }
    rows = []
    for key in args.data:
        name, load = loaders[key]
        print(f"{name}: loading ...", flush=True)
        movies, train = load()
        rows.append(measure(name, movies, train, args))
        del movies, train
    report(rows, args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {"updates": args.updates, "synthetic ratings": args.ratings, "cpus": _cpus()}
        args.json.write_text(json.dumps({"settings": meta, "data sets": rows}, indent=2) + "\n")
        print(f"\nwrote {args.json}")


def _cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
