"""How the kit's costs grow with the number of ratings, on synthetic MovieLens-shaped data.

For each size: wall time and peak resident memory (RSS) of

* ``load CSV``: ratings, movies (year parsed), tags and genome scores read from CSV by
  ``helpers.data`` into an empty parquet cache;
* ``load parquet``: the same tables again, from that parquet cache;
* ``features``: protocol + validation split, id maps, every feature block of
  ``helpers.features.temporal_features`` on the train part (user stats and temporal; movie
  stats, year, genres, genome, tags), then ``helpers.graph.build_graph`` of the fit part (the
  ``HeteroData`` of rating edges both ways, their time order and sparse mean adjacency);
* ``epoch``: one ``helpers.train.fit`` epoch of the GraphSAGE star model (64 channels, 2 layers,
  ids only, residual on ``BiasBaseline``) with ``helpers.models.graphsage.star_step`` (messages
  both ways as sparse products, the residual MSE as sampled sparse products), including the
  validation RMSE pass (on the GPU when there is one);
* ``score``: the served embeddings, then every movie scored for 1,000 users (all of them below
  1,000), the movies they rated in the fit part removed, top 10.

Every stage runs in a fresh process (so the parquet stage really reads parquet and a peak is
the stage's own); the peak includes what the stage holds when it starts. The data is synthetic
(``tools.synthetic``, generated under ``--data`` once and reused): the numbers are about speed
and memory, never recommendation quality.

    python benchmarks/scale.py --sizes 100k 1M 5M --repeats 3 --json /tmp/scale.json
    python benchmarks/scale.py --sizes 25M --repeats 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # ``tools`` (the data generator) is not installed: read from REPO
    sys.path.insert(0, str(REPO))
SIZES = {"100k": 100_000, "1M": 1_000_000, "5M": 5_000_000, "25M": 25_000_000}
TABLES = ("ratings", "tags", "genome-scores")  # and movies, through data.load_movies


def parse_size(text: str) -> int:
    """``100k``, ``1M``, ``25M`` or a plain number of ratings."""
    if text in SIZES:
        return SIZES[text]
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("kM")) * scale)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1_000}k"


# --------------------------------------------------------------------------- child stages


def peak_rss() -> int:
    """Peak resident memory of this process since start or the last reset (Linux), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class MemoryProbe:
    """``with MemoryProbe("stage") as m:`` records wall time and the stage's peak RSS (Linux).

    The peak includes what is resident when the stage starts (data, graph, model): what a
    machine must hold to run it. On a GPU the CUDA peak is recorded too.
    """

    def __init__(self, stage: str):
        self.result = {"stage": stage, "seconds": 0.0, "peak_bytes": 0, "cuda_peak_bytes": 0}

    def __enter__(self) -> dict:
        import torch

        Path("/proc/self/clear_refs").write_text("5")  # restart the peak at the current size
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._start = time.perf_counter()
        return self.result

    def __exit__(self, *exc) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
            self.result["cuda_peak_bytes"] = torch.cuda.max_memory_allocated()
        self.result["seconds"] = time.perf_counter() - self._start
        self.result["peak_bytes"] = peak_rss()


def _load(settings) -> dict:
    """The tables of the synthetic folder, movies with their year (as the notebooks load them)."""
    from helpers import data

    tables = {table: data.load_table(table, settings) for table in TABLES}
    return tables | {"movies": data.load_movies(settings)}


def stage_csv(settings) -> dict:
    """Every table from CSV (the parent gave this process an empty parquet cache)."""
    with MemoryProbe("load CSV") as load:
        _load(settings)
    return {"load CSV": load}


def stage_pipeline(settings) -> dict:
    """Parquet load, features, one training epoch and scoring, each measured on its own."""
    import torch

    from helpers import baselines, features, metrics, protocol
    from helpers.features import FeatureTables
    from helpers.graph import IdMaps, build_graph
    from helpers.metrics import Rated, top_k
    from helpers.models.graphsage import STARS, GraphSAGE, serve, star_step
    from helpers.settings import device
    from helpers.train import fit, with_residuals

    results, parts = {}, {}
    with MemoryProbe("load parquet") as load:
        tables = _load(settings)
    results["load parquet"] = load
    ratings, movies = tables.pop("ratings"), tables.pop("movies")
    with MemoryProbe("features") as feats:
        started = time.perf_counter()
        train_part = protocol.protocol_split(ratings).train
        del ratings
        fit_part, valid_part = protocol.validation_split(train_part)
        maps = IdMaps.from_tables(train_part, movies)
        parts["split + ids s"], started = time.perf_counter() - started, time.perf_counter()
        source = features.MovieData(movies, tables["genome-scores"], None, tables["tags"])
        recipe = features.temporal_features
        user_table, movie_table = (
            recipe.users(train_part, maps),
            recipe.movies(train_part, maps, source),
        )
        parts["feature blocks s"], started = time.perf_counter() - started, time.perf_counter()
        graph = build_graph(fit_part, maps)  # ids only: the epoch is about the graph
        graph["movie"].known = graph["movie"].rated
        parts["graph + adjacency s"] = time.perf_counter() - started
    results["features"] = feats | parts | {
        "users": len(maps.users), "movies": len(maps.movies), "train edges": len(fit_part),
        "user features": user_table.shape[1], "movie features": movie_table.shape[1],
    }  # fmt: skip
    del tables, train_part, user_table, movie_table, source
    gc.collect()

    torch.manual_seed(0)
    model = GraphSAGE(len(maps.movies), channels=64)  # the star model, as notebook 02's
    base = baselines.BiasBaseline().fit(fit_part)
    with_residuals(graph, base, fit_part)
    graph, model = graph.to(device()), model.to(device())  # as train_stars: a GPU if there is one

    def served():
        return serve(model, graph, maps, FeatureTables(None, None, None), base, "", stars=True)

    gc.collect()
    with MemoryProbe("epoch") as epoch:
        fit(
            model, lambda: star_step(model, graph, STARS),
            lambda: -metrics.rating_metrics(served(), valid_part)["RMSE"], epochs=1,
        )  # fmt: skip
    results["epoch"] = epoch
    users = np.random.default_rng(0).choice(maps.users.ids, min(1000, len(maps.users)), False)
    users = np.sort(users)
    with MemoryProbe("score") as score:
        recommender = served()
        scores = recommender.score(users, maps.movies.ids)
        seen = Rated.of(fit_part[fit_part["userId"].isin(users)], maps.movies.ids)
        scores[seen.mask(users)] = -np.inf
        top = top_k(scores, 10)
    results["score"] = score | {"scored users": len(top)}
    return results


# --------------------------------------------------------------------------- parent


def dataset_folder(n: int, root: Path, seed: int) -> Path:
    """The synthetic data set of ``n`` ratings, generated once and reused."""
    from tools import synthetic

    folder = root / f"ratings-{label(n)}"
    if not (folder / "README.txt").exists():
        started = time.perf_counter()
        synthetic.generate(folder, n, seed=seed)
        print(f"generated {folder} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder


def run_child(stage: str, folder: Path, cache: Path) -> dict:
    """Run one stage in a fresh interpreter; its last stdout line is the JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--stage", stage]
    command += ["--folder", str(folder), "--cache", str(cache)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"stage {stage} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(n: int, folder: Path, repeats: int) -> dict:
    """Median seconds and peak GiB of every stage over ``repeats`` fresh runs."""
    runs, load = [], os.getloadavg()[0]
    for _ in range(repeats):
        cache = Path(tempfile.mkdtemp(prefix="scale-cache-"))
        try:
            result = run_child("csv", folder, cache)
            result |= run_child("pipeline", folder, cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        runs.append(result)
        print(f"{label(n)}: " + json.dumps(result), file=sys.stderr)
    summary = {"ratings": n, "repeats": repeats, "load average": (load + os.getloadavg()[0]) / 2}
    for stage, first in runs[0].items():
        median = {
            key: float(np.median([run[stage][key] for run in runs]))
            for key, value in first.items()
            if isinstance(value, float | int)
        }
        summary[stage] = (
            first
            | median
            | {
                "peak_gib": median["peak_bytes"] / 1024**3,
                "cuda_peak_gib": median["cuda_peak_bytes"] / 1024**3,
            }
        )
    return summary


def growth(summaries: list[dict], stage: str) -> str:
    """Exponent b of time ~ ratings^b, fitted over the sizes of at least 1M ratings."""
    points = [
        (s["ratings"], s[stage]["seconds"])
        for s in summaries
        if s["ratings"] >= 1_000_000 and stage in s
    ]
    if len(points) < 2:
        return "-"
    x, y = np.log([p[0] for p in points]), np.log([max(p[1], 1e-3) for p in points])
    return f"{np.polyfit(x, y, 1)[0]:.2f}"


def table(summaries: list[dict]) -> str:
    """The markdown table of the README: seconds (peak GiB) per stage and size."""
    stages = [k for k in summaries[0] if isinstance(summaries[0][k], dict)]
    header = "| ratings | users / movies | " + " | ".join(stages) + " | load avg |"
    lines = [header, "|" + "---|" * (len(stages) + 3)]
    for s in summaries:
        shape = f"{int(s['features']['users']):,} / {int(s['features']['movies']):,}"
        cells = [
            f"{s[st]['seconds']:.2f} s ({s[st]['peak_gib']:.1f} GiB)" if st in s else "not run"
            for st in stages
        ]
        cells.append(f"{s['load average']:.1f}")
        lines.append(f"| {label(s['ratings'])} | {shape} | " + " | ".join(cells) + " |")
    lines.append(
        "| time ~ ratings^b, b = | | " + " | ".join(growth(summaries, st) for st in stages) + " | |"
    )
    parts = [key for key in summaries[0]["features"] if key.endswith(" s")]
    lines += ["", "Inside `features`:", "", "| ratings | " + " | ".join(parts) + " |"]
    lines.append("|" + "---|" * (len(parts) + 1))
    for s in summaries:
        cells = " | ".join(f"{s['features'][part]:.2f}" for part in parts)
        lines.append(f"| {label(s['ratings'])} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", nargs="+", default=["100k", "1M", "5M"], help="e.g. 100k 1M 5M 25M"
    )
    parser.add_argument(
        "--repeats", type=int, help="runs per size (median); default 3, and 1 from 25M on"
    )
    parser.add_argument(
        "--data", default=str(REPO / "data" / "synthetic"), help="synthetic data root"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the summaries here")
    parser.add_argument("--stage", choices=["csv", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stage:  # a child: one stage on the folder, its own parquet cache, no MOVIELENS_*
        from helpers import Settings

        settings = Settings(dataset=args.folder, cache=Path(args.cache))
        stage = stage_csv if args.stage == "csv" else stage_pipeline
        print(json.dumps(stage(settings)))
        return

    import torch

    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available()
        else f"CPU ({os.cpu_count()} cores)"
    )
    summaries = []
    for size in args.sizes:
        n = parse_size(size)
        folder = dataset_folder(n, Path(args.data), args.seed)
        repeats = args.repeats or (3 if n < 25_000_000 else 1)
        summaries.append(measure(n, folder, repeats))
    print(f"Synthetic MovieLens-shaped data (tools.synthetic), device: {device}, "
          f"seconds (peak RSS), median of each size's runs\n")  # fmt: skip
    print(table(summaries))
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "sizes": summaries}, indent=1))


if __name__ == "__main__":
    main()
