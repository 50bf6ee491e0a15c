"""Where does each claim hold? The claims of ``seeds.CLAIMS`` on data the kit was not tuned on.

    python benchmarks/generalise.py [--variants seed-7 before-2005 ...]
        [--protocols warm new-users new-movies] [--models NAME ...] [--onboarding 1 5 20]
        [--csv results/generalise.csv]
    python benchmarks/generalise.py --summarise results/generalise.csv      # no training

Every constant of the kit was chosen on ml-latest-small with split seeds 42-44. Each variant
below is real MovieLens data cut another way (synthetic data says nothing about quality):

- ``seed-7``, ``seed-11``: all of ml-latest-small, split with a seed outside 42-44;
- ``before-2005`` / ``after-2010``: only the ratings given before 2005 / from 2010 on;
- ``users-30pct``: a random 30 % of the users (sample seed 0);
- ``heavy-users``: only the users with 50 or more ratings.

``PROBES`` are further cuts, run only when named (``--variants``): probes for a model below its
fallback on data no benchmark had used (README, "The graph a list model is served on"; their rows
are in ``results/probes.csv``, not in the six cuts' claims).

Per variant, each model is trained on the protocol's train part and scored once on its test
part (new users with 1, 5 and 20 onboarding ratings, or each K of ``--onboarding``). A claim
"A beats B on M" holds on a variant when A's score is better there. The report prints each
claim's difference per variant and where it holds and fails: the README states a claim only as
widely as this table.
"""

from __future__ import annotations

import seeds  # isort: skip  (benchmarks/seeds.py first: it sets the kernels' numerics for numpy)

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from helpers import data
from helpers.settings import Settings

STARS = ("RMSE", "MAE")
ONBOARDING = (1, 5, 20)


def _before(year: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    cut = pd.Timestamp(f"{year}-01-01", tz="UTC").timestamp()
    return lambda ratings: ratings[ratings["timestamp"] < cut]


def _from(year: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    cut = pd.Timestamp(f"{year}-01-01", tz="UTC").timestamp()
    return lambda ratings: ratings[ratings["timestamp"] >= cut]


def _years(first: int, last: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    after, before = _from(first), _before(last + 1)
    return lambda ratings: before(after(ratings))


def _user_share(share: float, sample_seed: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def sample(ratings: pd.DataFrame) -> pd.DataFrame:
        users = np.sort(ratings["userId"].unique())
        draw = np.random.default_rng(sample_seed)
        kept = draw.choice(users, round(share * len(users)), replace=False)
        return ratings[ratings["userId"].isin(kept)]

    return sample


def _users_with(at_least: int, at_most: float = np.inf) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def some_users(ratings: pd.DataFrame) -> pd.DataFrame:
        counts = ratings["userId"].value_counts()
        kept = counts.index[(counts >= at_least) & (counts <= at_most)]
        return ratings[ratings["userId"].isin(kept)]

    return some_users


def _everything(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings


# name -> (how the ratings are cut, the split seed)
VARIANTS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], int]] = {
    "seed-7": (_everything, 7),
    "seed-11": (_everything, 11),
    "before-2005": (_before(2005), 42),
    "after-2010": (_from(2010), 42),
    "users-30pct": (_user_share(0.3), 42),
    "heavy-users": (_users_with(50), 42),
}
PROBES: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], int]] = {
    "years-2005-2009": (_years(2005, 2009), 42),
    "users-under-100": (_users_with(1, 99), 42),
    "seed-29": (_everything, 29),
    "after-2015": (_from(2015), 42),
    "users-20-300": (_users_with(20, 300), 58),
    "users-50pct": (_user_share(0.5, sample_seed=5), 3),
    "seed-101": (_everything, 101),
}


def run(
    variants: list[str],
    protocols: list[str],
    models: list[str] | None,
    settings: Settings,
    onboarding: tuple[int, ...] = ONBOARDING,
) -> pd.DataFrame:
    """One row per (variant, protocol label, model): the metrics and the seconds they took."""
    ratings, source, rows = data.load_ratings(settings), data.load_movie_data(settings), []
    for variant in variants:
        cut, seed = (VARIANTS | PROBES)[variant]
        part = cut(ratings).reset_index(drop=True)
        for protocol in protocols:
            names = models or seeds.DEFAULTS[protocol]
            for name in tqdm(names, desc=f"{variant} {protocol}"):
                start = time.perf_counter()
                results = seeds.score(name, protocol, part, source, settings, seed, onboarding)
                seconds = time.perf_counter() - start
                for label, result in results.items():
                    rows.append(
                        {"variant": variant, "protocol": label, "model": name, "seed": seed,
                         "ratings": len(part), **result, "seconds": seconds}
                    )  # fmt: skip
    return pd.DataFrame(rows)


def verdicts(results: pd.DataFrame) -> pd.DataFrame:
    """Per claim and protocol label: the difference (challenger - champion) on each variant,
    and the variants where the challenger is better and where it is not."""
    rows = []
    for label, part in results.groupby("protocol", sort=False):
        for challenger, champion, metric in seeds.CLAIMS.get(label.split("-k")[0], []):
            if metric not in part:
                continue
            table = part.pivot(index="variant", columns="model", values=metric)
            if challenger not in table or champion not in table:
                continue
            difference = (table[challenger] - table[champion]).dropna()
            better = -difference > 0 if metric in STARS else difference > 0
            rows.append(
                {
                    "claim": f"{challenger} beats {champion} ({metric}, {label})",
                    **{variant: f"{d:+.4f}" for variant, d in difference.items()},
                    "holds on": ", ".join(difference.index[better]) or "none",
                    "fails on": ", ".join(difference.index[~better]) or "none",
                }
            )
    return pd.DataFrame(rows).set_index("claim") if rows else pd.DataFrame()


# (model, its own fallback, metric, protocol labels): the guards of notebooks 03 and 07, per
# bucket (warm stars by the movie's train ratings, new users by their onboarding ratings: every
# label of ONBOARDED's protocol, each K), and warm lists by the user's train ratings (GraphSAGE's
# blended; LightGCN's measured only)
ONBOARDED = ("new-users*",)
MOVIE_BUCKETS = ("warm-movies-0", "warm-movies-1-4", "warm-movies-5+")
USER_BUCKETS = ("warm-users-0", "warm-users-1-4", "warm-users-5+")
FALLBACKS = (
    [
        (model + alone, rule, metric, labels)
        for alone in ("", "-alone")  # with its fallback blend, and without (seeds.without_fallback)
        for model, rule, metric, labels in (
            ("graphsage-cold-users", "most-popular", "NDCG@10", ONBOARDED),
            ("graphsage-cold-users", "bias", "RMSE", ONBOARDED),
            ("graphsage-cold-movies", "genre-profile-year", "NDCG@10", ("new-movies",)),
            ("graphsage-cold-movies", "bias", "RMSE", ("new-movies",)),
        )
    ]
    + [
        (model, "bias", "RMSE", MOVIE_BUCKETS)
        for model in ("graphsage", "graphsage-content", "graphsage-final", "gnn-rating")
    ]
    + [
        (model, "most-popular", "NDCG@10", USER_BUCKETS)  # lightgcn, gnn-ranking: not blended
        for model in (
            "graphsage",
            "graphsage-content",
            "graphsage-final",
            "gnn-ranking",
            "lightgcn",
        )
    ]
)


def _onboarded(label: str) -> int:
    """K of a new-users label (``seeds.score``): ``new-users-k<K>``, or ``new-users`` for the
    protocol's K."""
    return int(label.removeprefix("new-users-k")) if "-k" in label else seeds.splits.ONBOARDING


def _labels(labels: tuple[str, ...], present) -> list[str]:
    """``labels``, with ``new-users*`` standing for every new-users label ``present``, by K."""
    if labels != ONBOARDED:
        return list(labels)
    return sorted((p for p in present if p.startswith("new-users")), key=_onboarded)


def below_fallback(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, fallback and bucket (protocol label): the variants where the model scores
    worse than its own fallback (a tie is not worse), and by how much at most."""
    rows = []
    for model, rule, metric, labels in FALLBACKS:
        for label in _labels(labels, results["protocol"].unique()):
            part = results[results["protocol"] == label]
            table = part.pivot(index="variant", columns="model", values=metric)
            if model not in table or rule not in table:
                continue
            worse = (table[model] - table[rule]) * (1 if metric in STARS else -1)
            worse = worse.dropna().round(6)
            rows.append(
                {
                    "model vs its fallback": f"{model} vs {rule} ({metric}, {label})",
                    "variants": len(worse), "below on": ", ".join(worse.index[worse > 0]) or "none",
                    "largest shortfall": f"{max(0.0, worse.max()):.4f}",
                }
            )  # fmt: skip
    columns = ["model vs its fallback", "variants", "below on", "largest shortfall"]
    return pd.DataFrame(rows, columns=columns).set_index("model vs its fallback")


def report(results: pd.DataFrame) -> None:
    print("\n## Where each claim holds (challenger - champion per variant)\n")
    print(seeds.markdown(verdicts(results).fillna("")))
    guarded = below_fallback(results)
    if len(guarded):
        print("\n## Never below its own fallback? (per bucket; a tie is not below)\n")
        print(seeds.markdown(guarded))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS | PROBES),
        help="default: the six cuts of the claims; PROBES only when named",
    )  # fmt: skip
    parser.add_argument(
        "--protocols", nargs="+", default=list(seeds.CLAIMS), choices=list(seeds.CLAIMS)
    )
    parser.add_argument("--models", nargs="+", metavar="NAME", help="default: each claim's")
    parser.add_argument(
        "--onboarding", nargs="+", type=int, default=list(ONBOARDING), metavar="K",
        help="new users: K onboarding ratings, one or more (default: 1 5 20)",
    )  # fmt: skip
    seeds.add_output_arguments(parser)
    args = parser.parse_args(argv)
    if args.summarise:
        report(seeds.saved(args.summarise))
        return 0
    settings = Settings.from_env()
    results = run(args.variants, args.protocols, args.models, settings, tuple(args.onboarding))
    if args.csv:
        seeds.save(results, args.csv, ["variant", "protocol", "model"])
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
