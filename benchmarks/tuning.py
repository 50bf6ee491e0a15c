"""Would choosing the list and star models' settings on validation pay? A small grid, measured.

    python benchmarks/tuning.py [--variants seed-7 after-2010 heavy-users]
        [--models lists stars lightgcn]
        [--csv results/tuning.csv]
    python benchmarks/tuning.py --summarise results/tuning.csv      # no training

Issue 32 asks that every setting that matters be chosen on the validation part of the data at
hand. Before the kit trains every model several times over, this measures whether it would pay:
on cuts of ml-latest-small the kit was not tuned on (``generalise.VARIANTS``), GraphSAGE's warm
list model (ids alone, no fallback blend) and star model are trained with each setting of
:data:`GRID` (one change from the kit's defaults at a time), and LightGCN (alone, without the
graph filter) with each width of :data:`LIGHTGCN_GRID`. Each run keeps its best validation
check, as the kit does (NDCG@10 for lists, RMSE for stars), and is scored once on the test part.
The report says, per cut, which setting validation would pick, and what that pick scores on the
test part against the kit's defaults.
"""

from __future__ import annotations

import generalise  # isort: skip  (imports seeds.py first: it sets the kernels' numerics)

import argparse
import sys
import time
from dataclasses import replace

import pandas as pd
import seeds
from tqdm.auto import tqdm

from helpers import data, metrics, protocol
from helpers.models.graphsage import LISTS, STARS, SageConfig, train_lists, train_stars
from helpers.models.lightgcn import LIGHTGCN, LightGCNConfig, train_lightgcn
from helpers.settings import Settings

# setting -> the one change from the defaults it makes (the defaults: LISTS and STARS)
GRID: dict[str, dict[str, float]] = {
    "defaults": {},
    "lr 0.005": {"lr": 0.005},
    "channels 32": {"channels": 32},
    "channels 128": {"channels": 128},
    "temperature 0.5": {"temperature": 0.5},  # the list softmax's: lists only
}
# LightGCN's width, 512 (chosen on seed 42's validation), halved and doubled
LIGHTGCN_GRID = {
    "defaults": {}, "channels 256": {"channels": 256}, "channels 1024": {"channels": 1024}
}  # fmt: skip
MODELS = {"lists": LISTS, "stars": STARS, "lightgcn": LIGHTGCN}


def tried(model: str) -> dict[str, SageConfig | LightGCNConfig]:
    """The configs of :data:`GRID` for ``model`` (``lists`` or ``stars``), without fallback, or
    of :data:`LIGHTGCN_GRID` for ``lightgcn``, without the graph filter."""
    if model == "lightgcn":
        base = replace(LIGHTGCN, blends=(0.0,))
        return {setting: replace(base, **change) for setting, change in LIGHTGCN_GRID.items()}
    base = replace(MODELS[model], guard=None, channels_tried=(), lrs_tried=())
    return {
        setting: replace(base, **change)
        for setting, change in GRID.items()
        if model == "lists" or "temperature" not in change
    }


def score(model: str, config, train, test, source, settings, seed) -> dict:
    """One training: its best validation check and its test number (NDCG@10 or RMSE)."""
    if model == "stars":
        trained = train_stars(train, source, settings, config=config, seed=seed)
        tested = metrics.evaluate(trained, train, test, ranking=False)["RMSE"]
        validation = -max(trained.history.valid.values())  # stars validate minus the RMSE
    else:
        trainer = train_lightgcn if model == "lightgcn" else train_lists
        trained = trainer(train, source, settings, config=config, seed=seed)
        tested = metrics.evaluate(trained, train, test, ratings=False)["NDCG@10"]
        validation = max(trained.history.valid.values())
    return {"validation": validation, "test": tested, "kept epoch": trained.history.best_epoch}


def run(variants: list[str], models: list[str], settings: Settings) -> pd.DataFrame:
    """One row per (variant, model, setting)."""
    ratings, source, rows = data.load_ratings(settings), data.load_movie_data(settings), []
    for variant in variants:
        cut, seed = generalise.VARIANTS[variant]
        train, test = protocol.protocol_split(cut(ratings).reset_index(drop=True), seed)
        for model in models:
            for setting, config in tqdm(tried(model).items(), desc=f"{variant} {model}"):
                start = time.perf_counter()
                result = score(model, config, train, test, source, settings, seed)
                rows.append(
                    {"variant": variant, "model": model, "setting": setting, **result,
                     "seconds": time.perf_counter() - start}
                )  # fmt: skip
    return pd.DataFrame(rows)


def picks(results: pd.DataFrame) -> pd.DataFrame:
    """Per variant and model: the setting validation picks, its test number against the
    defaults', and the setting best on the test part (which no one can pick)."""
    rows = []
    for (variant, model), part in results.groupby(["variant", "model"], sort=False):
        sign = -1 if model == "stars" else 1  # higher is better: NDCG@10 up, RMSE down
        part = part.set_index("setting")
        picked = (sign * part["validation"]).idxmax()
        gain = sign * (part.loc[picked, "test"] - part.loc["defaults", "test"])
        rows.append(
            {
                "variant": variant, "model": model, "validation picks": picked,
                "its test": f"{part.loc[picked, 'test']:.4f}",
                "defaults' test": f"{part.loc['defaults', 'test']:.4f}",
                "gain over the defaults": f"{gain:+.4f}",
                "best on test": (sign * part["test"]).idxmax(),
            }
        )  # fmt: skip
    return pd.DataFrame(rows).set_index("variant")


def report(results: pd.DataFrame) -> None:
    print("\n## Each setting: best validation check and test number\n")
    table = results.pivot_table(
        index=["model", "variant"], columns="setting", values=["validation", "test"]
    ).round(4)
    table.columns = [f"{setting} ({kind})" for kind, setting in table.columns]
    print(seeds.markdown(table.reset_index().set_index("model")))
    print("\n## What validation would pick (gain: better than the defaults if positive)\n")
    print(seeds.markdown(picks(results)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants", nargs="+", default=["seed-7", "after-2010", "heavy-users"],
        choices=list(generalise.VARIANTS),
    )  # fmt: skip
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    seeds.add_output_arguments(parser)
    args = parser.parse_args(argv)
    if args.summarise:
        report(seeds.saved(args.summarise))
        return 0
    results = run(args.variants, args.models, Settings.from_env())
    if args.csv:
        seeds.save(results, args.csv, ["variant", "model", "setting"])
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
