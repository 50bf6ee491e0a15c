"""Run a protocol for many models over several split seeds; print means and paired differences.

    python benchmarks/seeds.py [--models ease gnn-ranking ...] [--seeds 42 43 44]
        [--protocol warm|new-users|new-movies] [--onboarding 1 5 20] [--csv results/seeds.csv]
    python benchmarks/seeds.py --summarise results/seeds.csv          # no training

One model trained on one seed's train part and scored once on that seed's test part, per row.
Claims compare models by their **paired** per-seed differences (mean and standard deviation over
seeds), not by a fixed noise rule: two models share each seed's split, so most split-to-split
noise cancels in their difference. Notebooks 05 and 06 read ``results/seeds.csv``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tools/
from tools.stored_outputs import PORTABLE_NUMERICS  # noqa: E402

for _name, _value in PORTABLE_NUMERICS.items():  # before torch loads: the notebook kernels' code
    os.environ.setdefault(_name, _value)  # paths, so a seed-42 row is the notebook's number

import argparse  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import pandas as pd  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import peers  # noqa: E402
from helpers import data, metrics  # noqa: E402
from helpers import protocol as splits  # noqa: E402 (``protocol`` names a protocol here)
from helpers.baselines import GenreProfile, GraphFilter  # noqa: E402
from helpers.models import MODELS  # noqa: E402
from helpers.models.graphsage import (  # noqa: E402
    COLD_STARS,
    NEW_MOVIE_LISTS,
    NEW_USER_LISTS,
    train_lists,
    train_stars,
)
from helpers.protocol import by_bucket  # noqa: E402
from helpers.recommend import SHRINKAGES, Both, ColdGuard, bias_model  # noqa: E402
from helpers.settings import Settings  # noqa: E402

SEEDS = (42, 43, 44)
METRICS = ("RMSE", "MAE", "NDCG@10", "Recall@10", "coverage")
# (challenger, champion, metric): the comparisons the README and notebooks quote
CLAIMS = {
    "warm": [
        ("graphsage", "most-popular", "NDCG@10"), ("graphsage", "ease", "NDCG@10"),
        ("graphsage-content", "graphsage", "NDCG@10"), ("graphsage-content", "graphsage", "RMSE"),
        ("graphsage-final", "graphsage", "NDCG@10"), ("graphsage-final", "graphsage", "RMSE"),
        ("gnn-ranking", "ease", "NDCG@10"), ("lightgcn", "ease", "NDCG@10"),
        ("gnn-rating", "svd++", "RMSE"), ("graphsage", "bias", "RMSE"),
        ("gnn-rating", "myfm", "RMSE"), ("gnn-ranking", "ease-tuned", "NDCG@10"),
        ("gnn-ranking", "ials", "NDCG@10"), ("gnn-rating-x3", "myfm", "RMSE"),
        ("gnn-ranking-x3", "ease-tuned", "NDCG@10"), ("gnn-ranking-x3", "ials", "NDCG@10"),
    ],
    "new-users": [
        ("graphsage-cold-users", m, "NDCG@10") for m in ("most-popular", "ease", "graph-filter")
    ]
    + [("graphsage-cold-users", "bias", "RMSE")],
    "new-movies": [("graphsage-cold-movies", "genre-profile-year", "NDCG@10"),
                   ("graphsage-cold-movies", "genre-profile", "RMSE"),
                   ("graphsage-cold-movies", "bias", "RMSE")],
}  # fmt: skip
ALONE = ("graphsage-cold-users-alone", "graphsage-cold-movies-alone")  # without_fallback
DEFAULTS = {
    protocol: sorted({m for claim in claims for m in claim[:2]})
    for protocol, claims in CLAIMS.items()
}


def without_fallback(name: str, train: pd.DataFrame, source, settings, seed: int) -> Both:
    """Notebook 07's cold-start model ``name`` (less its ``-alone`` suffix) without its fallback
    blend, trained exactly as the kit's otherwise: what the blend is measured against."""
    if name.startswith("graphsage-cold-users"):
        users_stars = replace(COLD_STARS, guard=ColdGuard(bias_model, SHRINKAGES))
        cold, lists, stars = splits.NEW_USERS, NEW_USER_LISTS, users_stars
    else:
        cold, lists, stars = splits.NEW_MOVIES, NEW_MOVIE_LISTS, COLD_STARS
    # the same guard without a rule: new users' vectors still shrunk, nothing blended
    lists, stars = (replace(c, guard=replace(c.guard, rule=None)) for c in (lists, stars))
    return Both(
        train_lists(train, source, settings, config=lists, seed=seed, cold=cold),
        train_stars(train, source, settings, config=stars, seed=seed, cold=cold),
        name,
    )


def build(name: str, train: pd.DataFrame, source, settings, seed: int):
    """A model of ``helpers.models.MODELS``, a three-seed ensemble, the graph filter anchor, or
    a cold-start model without its fallback (``...-alone``)."""
    if name == "graph-filter":
        return GraphFilter().fit(train)
    if name in ALONE:
        return without_fallback(name, train, source, settings, seed)
    if name in peers.ENSEMBLES:
        seeds = [seed + 1000 * i for i in range(3)]
        member = name.removesuffix("-x3")
        members = [MODELS[member](train, source, settings, s) for s in seeds]
        return peers.Ensemble(members, peers.ENSEMBLES[name])
    return MODELS[name](train, source, settings, seed)


def score(
    name: str, protocol: str, ratings: pd.DataFrame, source, settings, seed: int, ks=(5,)
) -> dict[str, dict]:
    """The protocol's metrics of one model on one seed, by protocol label.

    New users: one model per seed, folded in with each K of ``ks`` onboarding ratings (the new
    users and the train part do not depend on K), labelled ``new-users`` for K = 5 and
    ``new-users-k<K>`` otherwise.
    """
    if protocol == "warm":
        train, test = splits.protocol_split(ratings, seed)
        if name in peers.PEERS:  # scored only on what each peer is built for
            model, stars = peers.build(name, train, seed), peers.PEERS[name] == "stars"
            return {"warm": metrics.evaluate(model, train, test, ratings=stars, ranking=not stars)}
        model = build(name, train, source, settings, seed)
        buckets = by_movie_bucket(model, train, test) | by_user_bucket(model, train, test)
        return {"warm": metrics.evaluate(model, train, test)} | buckets
    if protocol == "new-users":
        model = build(name, splits.new_users_split(ratings, seed).train, source, settings, seed)
        return {
            "new-users" if k == splits.ONBOARDING else f"new-users-k{k}": splits.new_users(
                model, splits.new_users_split(ratings, seed, k=k)
            )
            for k in ks
        }
    parts = splits.new_movies_split(ratings, seed)
    if name.startswith("genre-profile"):
        model = GenreProfile(source.movies, 0.01 if name.endswith("year") else 0.0)
        return {"new-movies": splits.new_movies(model.fit(parts.train), parts)}
    model = build(name, parts.train, source, settings, seed)
    return {"new-movies": splits.new_movies(model, parts)}


LABELS = {0: "0", 1: "1-4", 5: "5+"}  # each bucket of protocol.WARM_BUCKETS, by its lowest count


def by_movie_bucket(model, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, dict]:
    """Warm RMSE by bucket of the movie's train ratings (``protocol.by_bucket``), labelled
    ``warm-movies-0``, ``-1-4`` and ``-5+``: where a star model is guarded against the bias
    model."""
    rows = {}
    for low, [split] in by_bucket(train, test, "movieId").items():
        part = split.test
        predicted = model.predict(part["userId"].to_numpy(), part["movieId"].to_numpy())
        rmse = metrics.rmse(predicted, part["rating"].to_numpy())
        rows[f"warm-movies-{LABELS[low]}"] = {"RMSE": rmse, "test ratings": len(part)}
    return rows


def by_user_bucket(model, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, dict]:
    """Warm NDCG@10 by bucket of the user's train ratings (``protocol.by_bucket``), labelled
    ``warm-users-0``, ``-1-4`` and ``-5+`` (the mean over the bucket's ranked users): where a
    list model must not fall below popularity."""
    rows = {}
    for low, [split] in by_bucket(train, test, "userId").items():
        ranking = metrics.Ranking(train, split.test)
        if len(ranking.users):
            ndcg = ranking(model.score)["NDCG@10"]
            rows[f"warm-users-{LABELS[low]}"] = {
                "NDCG@10": ndcg,
                "ranked users": len(ranking.users),
            }
    return rows


def run(
    models: list[str], seeds: list[int], protocol: str, settings: Settings, ks=(5,)
) -> pd.DataFrame:
    """One row per (protocol, model, seed): the metrics and the seconds to train and score."""
    ratings, source, rows = data.load_ratings(settings), data.load_movie_data(settings), []
    for seed in seeds:
        for name in tqdm(models, desc=f"seed {seed}"):
            start = time.perf_counter()
            results = score(name, protocol, ratings, source, settings, seed, ks)
            seconds = time.perf_counter() - start
            for label, result in results.items():
                rows.append(
                    {"protocol": label, "model": name, "seed": seed, **result, "seconds": seconds}
                )
    return pd.DataFrame(rows)


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """``mean ± std`` over seeds of every metric, one row per model."""
    columns = [c for c in METRICS if c in results and results[c].notna().any()]
    grouped = results.groupby("model", sort=False)[columns]
    mean, std = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    text = {
        c: [
            f"{m:.3f} ± {s:.3f}" if pd.notna(m) else ""
            for m, s in zip(mean[c], std[c], strict=True)
        ]
        for c in columns
    }
    return pd.DataFrame(text, index=mean.index)


def paired(results: pd.DataFrame, claims: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Per claim: each seed's difference (challenger - champion), their mean and std."""
    rows = []
    for challenger, champion, metric in claims:
        if metric not in results:  # a run of list-only models has no RMSE
            continue
        table = results.pivot(index="seed", columns="model", values=metric)
        if challenger not in table or champion not in table:
            continue
        difference = table[challenger] - table[champion]
        gain = -difference if metric in ("RMSE", "MAE") else difference  # > 0: challenger better
        rows.append(
            {
                "claim": f"{challenger} vs {champion} ({metric})",
                **{f"seed {s}": f"{d:+.4f}" for s, d in difference.items()},
                "mean ± std": f"{difference.mean():+.4f} ± {difference.std(ddof=1):.4f}",
                "challenger better on average": bool(gain.mean() > 0),
                "on every seed": bool((gain > 0).all()),
            }
        )
    return pd.DataFrame(rows).set_index("claim") if rows else pd.DataFrame()


def markdown(table: pd.DataFrame) -> str:
    """A markdown table (pandas' ``to_markdown`` needs the optional ``tabulate`` package)."""
    header = [table.index.name or "", *table.columns]
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(
        lines + ["| " + " | ".join(map(str, [i, *row])) + " |" for i, row in table.iterrows()]
    )


def report(results: pd.DataFrame) -> None:
    for protocol, part in results.groupby("protocol", sort=False):
        seeds = ", ".join(map(str, sorted(part["seed"].unique())))
        print(f"\n## {protocol} protocol, seeds {seeds} (mean ± std)\n")
        print(markdown(summary(part)))
        claims = paired(part, CLAIMS.get(protocol.split("-k")[0], []))
        if len(claims):
            print("\nPaired differences (challenger - champion):\n")
            print(markdown(claims))


def save(results: pd.DataFrame, path: Path, keys: list[str]) -> None:
    """Write ``results`` into the CSV at ``path`` (atomically), in place of the saved rows with
    the same ``keys``; the other saved rows stay."""
    kept = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=results.columns)
    kept = kept[~kept.set_index(keys).index.isin(results.set_index(keys).index)]
    data.write_atomically(path, lambda p: pd.concat([kept, results]).to_csv(p, index=False))


def saved(paths: list[Path]) -> pd.DataFrame:
    """The rows of the CSVs at ``paths`` (each written by :func:`save`), as one table."""
    absent = [str(path) for path in paths if not path.is_file()]
    if absent:
        raise SystemExit(f"error: no saved results at {', '.join(absent)}; run with --csv first.")
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--csv`` (write the rows, replacing the saved ones with the same keys) and
    ``--summarise`` (train nothing, report saved rows): the benchmarks that save rows share them."""
    parser.add_argument("--csv", type=Path, help="also write the rows here (replacing their keys)")
    parser.add_argument(
        "--summarise", nargs="+", type=Path, metavar="CSV", help="train nothing: report saved rows"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", metavar="NAME")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--protocol", default="warm", choices=list(CLAIMS))
    parser.add_argument(
        "--onboarding", nargs="+", type=int, default=[splits.ONBOARDING], metavar="K",
        help="new users: K onboarding ratings, one or more (e.g. 1 5 20)",
    )  # fmt: skip
    parser.add_argument(
        "--csv", type=Path, help="also write the per-seed rows here (appended by protocol)"
    )
    parser.add_argument(
        "--summarise", nargs="+", type=Path, metavar="CSV", help="train nothing: report saved rows"
    )
    args = parser.parse_args(argv)
    if args.summarise:
        report(saved(args.summarise))
        return 0
    models = args.models or DEFAULTS[args.protocol]
    extra = ("graph-filter", "genre-profile", "genre-profile-year", *peers.ENSEMBLES)
    unknown = [m for m in models if m not in {*MODELS, *extra, *peers.PEERS}]
    if unknown:
        known = ", ".join([*MODELS, *extra, *peers.PEERS])
        parser.error(f"unknown model(s) {unknown}; choose from: {known}")
    if args.protocol != "warm" and set(models) & set(peers.PEERS):
        parser.error(f"the peers ({', '.join(peers.PEERS)}) run on the warm protocol only")
    results = run(models, args.seeds, args.protocol, Settings.from_env(), args.onboarding)
    if args.csv:
        save(results, args.csv, ["protocol", "model", "seed"])
    report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
