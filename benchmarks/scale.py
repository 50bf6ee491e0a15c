"""How the kit's costs grow with the number of ratings, on synthetic MovieLens-shaped data.

For each size: wall time and peak resident memory (RSS) of

* ``load CSV``: ratings, movies, tags and genome scores from CSV (fresh parquet cache);
* ``load parquet``: the same tables again, from the parquet cache;
* ``features``: protocol + validation split, id maps, labels, every feature block of
  ``helpers.features`` (user stats and temporal; movie stats, year, genres, genome, tags),
  the graph and its sparse adjacency;
* ``epoch``: one ``helpers.train.fit`` epoch of RatingGNN (hidden 64, both edge directions,
  chunked supervision) including the validation pass;
* ``score``: embeddings, then every movie scored for 1,000 users, seen movies removed, top 10.

Every stage runs in a fresh process (so the parquet stage really reads parquet and a peak is
the stage's own); the peak includes what the stage holds when it starts. The data is synthetic
(``helpers.synthetic``): the numbers are about speed and memory, never recommendation quality.

    python benchmarks/scale.py --sizes 100k 1M 5M --repeats 3
    python benchmarks/scale.py --sizes 25M --repeats 1
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
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZES = {"100k": 100_000, "1M": 1_000_000, "5M": 5_000_000, "25M": 25_000_000}
STAGES = ("load CSV", "load parquet", "features", "epoch", "score")
TABLES = ("ratings", "movies", "tags", "genome-scores")


def parse_size(text: str) -> int:
    """``100k``, ``1M``, ``25M`` or a plain number of ratings."""
    if text in SIZES:
        return SIZES[text]
    scale = {"k": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("kM")) * scale)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1_000}k"


# --------------------------------------------------------------------------- child stages


def _load(folder: str) -> dict:
    from helpers import data

    return {table: data.load_table(table, folder) for table in TABLES}


def stage_csv(folder: str) -> dict:
    """Load every table from CSV (the parent gave this process an empty parquet cache)."""
    from helpers.scale import MemoryProbe

    with MemoryProbe("load CSV") as load:
        _load(folder)
    return {"load CSV": vars(load)}


def _index_select_decode(model, z, users, movies):
    """RatingGNN.decode with ``index_select`` gathers: same values, a ~3x cheaper backward on
    CPU than ``tensor[index]`` (whose backward is a serial ``index_put_`` with accumulate)."""
    fit = (z["user"].index_select(0, users) * z["movie"].index_select(0, movies)).sum(-1)
    biases = model.user_bias(users).squeeze(-1) + model.movie_bias(movies).squeeze(-1)
    return model.mean_rating + biases + fit


def stage_pipeline(folder: str, variants: list[str], chunk_size: int) -> dict:
    """Parquet load, features, one epoch per variant and scoring, each measured on its own."""
    import torch

    from helpers import data, features, graph, models, split, train
    from helpers.scale import MemoryProbe, use_sparse_adjacency

    results = {}
    with MemoryProbe("load parquet") as load:
        tables = _load(folder)
        movies = data.load_movies(folder)
    results["load parquet"] = vars(load)
    ratings = tables.pop("ratings")
    del tables
    parts = {}
    with MemoryProbe("features") as feats:
        started = time.perf_counter()
        train_part = split.protocol_split(ratings).train
        del ratings
        fit_part, valid_part = split.validation_split(train_part)
        maps = graph.IdMaps.from_tables(train_part, movies)
        fit_labels = train.Labels.from_ratings(fit_part, maps)
        valid_labels = train.Labels.from_ratings(valid_part, maps)
        mean_rating = float(fit_part["rating"].mean())
        parts["split + ids s"], started = time.perf_counter() - started, time.perf_counter()
        user_x, movie_x = features.temporal_features(train_part, maps, folder)
        parts["feature blocks s"], started = time.perf_counter() - started, time.perf_counter()
        fit_graph = graph.build_graph(fit_part, maps)  # ids only: the epoch is about the graph
        fit_graph.adj_t_dict = graph.to_sparse_adjacency(fit_graph)
        parts["graph + adjacency s"] = time.perf_counter() - started
    results["features"] = (
        vars(feats)
        | parts
        | {
            "users": len(maps.users),
            "movies": len(maps.movies),
            "train edges": int(fit_labels.ratings.numel()),
            "user features": int(user_x.shape[1]) if user_x is not None else 0,
            "movie features": int(movie_x.shape[1]) if movie_x is not None else 0,
        }
    )
    del train_part, fit_part, valid_part, user_x, movie_x
    gc.collect()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fit_graph = fit_graph.to(device)
    fit_labels, valid_labels = fit_labels.to(device), valid_labels.to(device)
    model = None
    for variant in variants:
        if variant == "edge_index" and fit_labels.ratings.numel() > 5_000_000:
            continue  # gather/scatter messages: minutes and >10 GiB at 25M (environment-notes)
        torch.manual_seed(0)
        model = models.RatingGNN(fit_graph, hidden=64, out=32, mean_rating=mean_rating).to(device)
        if variant.startswith("sparse"):
            use_sparse_adjacency(model, fit_graph)  # reuses the features stage's adjacency
        if variant == "sparse+index_select":  # what a decode with index_select would cost
            model.decode = types.MethodType(_index_select_decode, model)
        elif variant == "csr":  # plain SAGEConv on the same CSR matrices
            if not fit_graph.get("adj_t_dict"):
                fit_graph.adj_t_dict = graph.to_sparse_adjacency(fit_graph)
        elif variant == "edge_index":
            fit_graph.adj_t_dict = None
        with torch.no_grad():  # SAGEConv((-1, -1)) sizes its weights on the first call
            model.embed(fit_graph)
        gc.collect()
        with MemoryProbe("epoch") as epoch:
            train.fit(model, fit_graph, fit_labels, valid_labels, epochs=1, chunk_size=chunk_size,
                      progress=False, sparse=variant.startswith("sparse"))  # fmt: skip
        results["epoch" if variant == variants[0] else f"epoch ({variant})"] = vars(epoch)

    use_sparse_adjacency(model, fit_graph)  # the edge_index variant may have removed it
    with MemoryProbe("score") as score:
        users = torch.from_numpy(np.random.default_rng(0).permutation(len(maps.users))[:1000])
        users = users.to(device)
        with torch.no_grad():
            model.eval()
            z = model.embed(fit_graph)
            scores = model.score_all(z, users, torch.arange(len(maps.movies), device=device))
            row = torch.full((len(maps.users),), -1, dtype=torch.long, device=device)
            row[users] = torch.arange(len(users), device=device)
            seen = row[fit_labels.users] >= 0
            scores[row[fit_labels.users[seen]], fit_labels.movies[seen]] = -torch.inf
            top = scores.topk(10, dim=1).indices
    results["score"] = vars(score) | {"top": int(top.shape[0])}
    return results


# --------------------------------------------------------------------------- parent


def dataset_folder(n: int, root: Path, seed: int) -> Path:
    """The synthetic data set of ``n`` ratings, generated once and reused."""
    from helpers import synthetic

    folder = root / f"ratings-{label(n)}"
    if not (folder / "README.txt").exists():
        started = time.perf_counter()
        synthetic.generate(folder, n, seed=seed)
        print(f"generated {folder} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder


def run_child(args: list[str], folder: Path, cache: Path) -> dict:
    """Run one stage in a fresh interpreter; its last stdout line is the JSON result."""
    env = os.environ | {"MOVIELENS_CACHE": str(cache), "MOVIELENS_DATASET": str(folder)}
    env.pop("MOVIELENS_GENOME", None)  # the synthetic folder's own genome-scores.csv
    command = [sys.executable, str(Path(__file__).resolve()), *args, "--folder", str(folder)]
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(n: int, folder: Path, repeats: int, variants: list[str], chunk_size: int) -> dict:
    """Median seconds and peak GiB of every stage over ``repeats`` fresh runs."""
    runs, load = [], os.getloadavg()[0]
    for _ in range(repeats):
        cache = Path(tempfile.mkdtemp(prefix="scale-cache-"))
        try:
            result = run_child(["--stage", "csv"], folder, cache)
            result |= run_child(
                ["--stage", "pipeline", "--chunk-size", str(chunk_size), "--variants", *variants],
                folder,
                cache,
            )  # fmt: skip
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
    parser.add_argument("--repeats", type=int, default=3, help="runs per size below 25M (median)")
    parser.add_argument(
        "--data", default=str(REPO / "data" / "synthetic"), help="synthetic data root"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["sparse"],
        help="epoch variants: sparse (default), sparse+index_select, csr (plain SAGEConv "
        "spmm), edge_index (gather/scatter messages)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=1 << 20, help="supervised edges per chunk"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the summaries here")
    parser.add_argument("--stage", choices=["csv", "pipeline"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stage == "csv":
        print(json.dumps(stage_csv(args.folder)))
        return
    if args.stage == "pipeline":
        print(json.dumps(stage_pipeline(args.folder, args.variants, args.chunk_size)))
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
        repeats = args.repeats if n < 25_000_000 else 1
        summaries.append(measure(n, folder, repeats, args.variants, args.chunk_size))
    print(f"Synthetic MovieLens-shaped data (helpers.synthetic), device: {device}, "
          f"seconds (peak RSS), median of {args.repeats} runs below 25M\n")  # fmt: skip
    print(table(summaries))
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "sizes": summaries}, indent=1))


if __name__ == "__main__":
    main()
