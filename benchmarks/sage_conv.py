"""Whether the kit may keep its own sparse kernel for GraphSAGE (issue 31): one training step of
two GraphSAGE rounds both ways through the kit's ``MeanSAGEConv`` on ``mean_adjacency`` against
PyG's stock ``SAGEConv`` (mean aggregation) on what ``T.ToSparseTensor(layout=torch.sparse_csr)``
gives, and (if it fits in memory) on a plain ``edge_index``.

The graph is **synthetic (its shape only)**, of about MovieLens 25M's size: 162,338 users
(25M / 154, the count ``tools/synthetic.py``'s generator gives, against ml-25m's 162,541),
62,423 movies and ``--edges`` distinct (user, movie) pairs (default 18,000,000, the fit part),
movie popularity and user activity drawn from seeded power laws. No rating and nothing else of
MovieLens is in it: the numbers are about speed and memory only.

Paths, each in a fresh process (so a peak RSS is the path's own; it includes the edges and the
64-channel inputs every path holds, ``start GiB``):

* ``kit``: ``helpers.graph.MeanSAGEConv`` on ``graph.mean_adjacency(...)`` (mean
  matrices with precomputed transposes, a custom backward);
* ``pyg-csr``: ``torch_geometric.nn.SAGEConv(64, 64)`` with ``adj_t`` as torch sparse CSR
  tensors of shape [dst, src], one per direction, from ``T.ToSparseTensor``;
* ``pyg-edge_index``: the same ``SAGEConv`` on ``edge_index`` (one message per edge and
  channel); skipped when its peak or its steps, extrapolated from runs at half ``--probe-edges``
  and at ``--probe-edges`` (reported), would exceed ``--max-gib`` or ``--max-minutes``.

A step: 2 rounds (to movies and to users each round, separate weights per round and direction,
as ``GraphSAGE(layers=2)``), loss = sum of squares of the last round's embeddings, backward to
the weights and to the inputs. ``torch.set_num_threads(--threads)``; the median of ``--repeats``
steps after one warm-up; the graph's build (sort, CSR) is timed apart, once.
``tests/test_sage_conv_benchmark.py`` checks that the kit and PyG compute the same step.

    python benchmarks/sage_conv.py --json benchmarks/sage-conv-25M.json
    python benchmarks/sage_conv.py --edges 1000000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch_geometric.transforms as T
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import SAGEConv

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # this tree's kernel, not an installed copy's
    sys.path.insert(0, str(REPO))

from decode import median_seconds  # noqa: E402 (this folder, like seeds.py's peers)

from helpers.graph import MeanSAGEConv, Patterns, mean_adjacency  # noqa: E402

# about MovieLens 25M's size: 25M / 154 users (tools/synthetic.py's count; ml-25m has 162,541),
# ml-25m's movies, the fit part's edges
USERS, MOVIES, EDGES = 162_338, 62_423, 18_000_000
CHANNELS, ROUNDS = 64, 2
PATHS = ("kit", "pyg-csr", "pyg-edge_index")
GIB = 1024**3


# --------------------------------------------------------------------------- the graph


def power_law(n: int, exponent: float, offset: float, generator: torch.Generator) -> Tensor:
    """Sampling weights of ``n`` nodes, ``(rank + offset) ** -exponent`` over a random ranking."""
    weights = (torch.arange(n, dtype=torch.float64) + offset) ** -exponent
    return weights[torch.randperm(n, generator=generator)]


def synthetic_edges(
    n_users: int = USERS, n_movies: int = MOVIES, n_edges: int = EDGES, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """``n_edges`` distinct (user, movie) pairs in random order, skewed popularity and activity
    (power laws; the most popular movie gets about 0.3 % of the draws, as in MovieLens)."""
    generator = torch.Generator().manual_seed(seed)
    movie_weights = power_law(n_movies, 1.0, 50.0, generator)
    user_weights = power_law(n_users, 0.8, 100.0, generator)
    keys = torch.empty(0, dtype=torch.long)
    while len(keys) < n_edges:  # draw, drop repeated pairs, top up
        draw = int((n_edges - len(keys)) * 1.2) + 1000
        users = torch.multinomial(user_weights, draw, replacement=True, generator=generator)
        movies = torch.multinomial(movie_weights, draw, replacement=True, generator=generator)
        keys = torch.unique(torch.cat([keys, users * n_movies + movies]))
    keys = keys[torch.randperm(len(keys), generator=generator)[:n_edges]]
    return keys // n_movies, keys % n_movies


# --------------------------------------------------------------------------- the step


class Rounds(nn.Module):
    """``rounds`` convolutions to movies and to users, as ``GraphSAGE.layers``."""

    def __init__(self, conv: type[SAGEConv], channels: int = CHANNELS, rounds: int = ROUNDS):
        super().__init__()
        self.to_movie = nn.ModuleList(conv(channels, channels) for _ in range(rounds))
        self.to_user = nn.ModuleList(conv(channels, channels) for _ in range(rounds))

    def forward(self, users: Tensor, movies: Tensor, to_movie: Any, to_user: Any):
        """Last round's (users, movies); ``to_movie``/``to_user``: what each conv reads the graph
        from (a ``Mean``, a [dst, src] ``adj_t`` or an ``edge_index`` of shape [2, E] src->dst)."""
        for movie_conv, user_conv in zip(self.to_movie, self.to_user, strict=True):
            users, movies = (
                user_conv((movies, users), to_user),
                movie_conv((users, movies), to_movie),
            )
        return users, movies


def step(model: Rounds, users: Tensor, movies: Tensor, to_movie: Any, to_user: Any):
    """One training step's forward and backward; returns the last round's embeddings."""
    model.zero_grad(set_to_none=True)
    users.grad = movies.grad = None
    out_users, out_movies = model(users, movies, to_movie, to_user)
    (out_users.square().sum() + out_movies.square().sum()).backward()
    return out_users.detach(), out_movies.detach()


def models(seed: int = 0) -> dict[str, Rounds]:
    """The kit's and PyG's convolutions with the same weights."""
    torch.manual_seed(seed)
    kit = Rounds(MeanSAGEConv)
    pyg = Rounds(SAGEConv)
    pyg.load_state_dict(kit.state_dict())
    return {"kit": kit, "pyg-csr": pyg, "pyg-edge_index": pyg}


def inputs(n_users: int, n_movies: int, seed: int = 1) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(  # type: ignore[return-value]
        (0.1 * torch.randn(n, CHANNELS, generator=generator)).requires_grad_()
        for n in (n_users, n_movies)
    )


def graph(path: str, users: Tensor, movies: Tensor, n_users: int, n_movies: int):
    """What ``path``'s convolutions read, to movies and to users."""
    if path == "kit":
        return mean_adjacency(Patterns.of(users, movies, n_users, n_movies))
    data = HeteroData()
    data["user"].num_nodes, data["movie"].num_nodes = n_users, n_movies
    data["user", "rates", "movie"].edge_index = torch.stack([users, movies])
    data["movie", "rev_rates", "user"].edge_index = torch.stack([movies, users])
    if path == "pyg-csr":
        data = T.ToSparseTensor(layout=torch.sparse_csr)(data)
        return data["user", "rates", "movie"].adj_t, data["movie", "rev_rates", "user"].adj_t
    assert path == "pyg-edge_index", path
    return data["user", "rates", "movie"].edge_index, data["movie", "rev_rates", "user"].edge_index


# --------------------------------------------------------------------------- one path, one process


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def measure(path: str, edges_file: str, n_users: int, n_movies: int, repeats: int) -> dict:
    """In this (fresh) process: build ``path``'s graph, then time its steps."""
    users, movies = (t.long() for t in torch.load(edges_file))
    x_users, x_movies = inputs(n_users, n_movies)
    model = models()[path]
    start_rss = rss_bytes()
    started = time.perf_counter()
    to_movie, to_user = graph(path, users, movies, n_users, n_movies)
    build = time.perf_counter() - started
    if path != "pyg-edge_index":
        del users, movies  # the sparse paths need only their matrices
    seconds = median_seconds(lambda: step(model, x_users, x_movies, to_movie, to_user), repeats)
    return {
        "path": path, "step s": round(seconds, 3), "build s": round(build, 3),
        "peak GiB": round(peak_rss_bytes() / GIB, 3), "start GiB": round(start_rss / GIB, 3),
    }  # fmt: skip


# --------------------------------------------------------------------------- the parent


def child(path: str, edges_file: str, n_users: int, n_movies: int, args) -> dict | None:
    command = [
        sys.executable, __file__, "--child", path, "--edges-file", edges_file,
        "--users", str(n_users), "--movies", str(n_movies), "--repeats", str(args.repeats),
        "--threads", str(args.threads),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"{path}: failed ({result.returncode})\n{result.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def save_edges(folder: str, n_users: int, n_movies: int, n_edges: int, seed: int) -> str:
    users, movies = synthetic_edges(n_users, n_movies, n_edges, seed)
    file = str(Path(folder) / f"edges-{n_edges}.pt")
    torch.save((users.int(), movies.int()), file)
    return file


def probe(folder: str, n_users: int, n_movies: int, rows: list[dict], args):
    """``pyg-edge_index`` at half ``--probe-edges`` and at ``--probe-edges``: its peak at
    ``--edges`` (GiB; the part above the start grown linearly) and its step (seconds; grown as
    the power of the edges the two probes show), with a note saying so."""
    sizes, probes = (args.probe_edges // 2, args.probe_edges), []
    for size in sizes:
        edges_file = save_edges(folder, n_users, n_movies, size, args.seed)
        row = child("pyg-edge_index", edges_file, n_users, n_movies, args)
        if row is None:
            return "pyg-edge_index: the probe failed", None, None
        probes.append({**row, "edges": size})
    above = [row["peak GiB"] - row["start GiB"] for row in probes]
    start = rows[0]["start GiB"] if rows else probes[1]["start GiB"]  # the edges and inputs
    peak = (
        start + above[1] + (above[1] - above[0]) / (sizes[1] - sizes[0]) * (args.edges - sizes[1])
    )
    power = math.log(probes[1]["step s"] / probes[0]["step s"]) / math.log(sizes[1] / sizes[0])
    seconds = probes[1]["step s"] * (args.edges / sizes[1]) ** power
    note = (
        f"pyg-edge_index probes: {sizes[0]:,} edges {probes[0]['step s']} s a step, "
        f"{probes[0]['peak GiB']} GiB peak; {sizes[1]:,} edges {probes[1]['step s']} s, "
        f"{probes[1]['peak GiB']} GiB; extrapolated to {args.edges:,} edges: about {peak:.1f} GiB "
        f"and {seconds:.0f} s a step (time ~ edges^{power:.2f})"
    )
    return note, peak, seconds


def run(args) -> dict:
    """Every path at ``--edges``; ``load``: the machine's 1-minute load average before and after
    (above the threads used, other jobs shared the cores and the times are slower)."""
    load = [round(os.getloadavg()[0], 2)]
    n_users, n_movies = args.users, args.movies
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as folder:
        edges_file = save_edges(folder, n_users, n_movies, args.edges, args.seed)
        for path in args.paths:
            if path == "pyg-edge_index" and args.probe_edges < args.edges:
                note, peak, seconds = probe(folder, n_users, n_movies, rows, args)
                if peak is None or seconds is None:
                    notes.append(f"{note}: skipped")
                    continue
                if peak > args.max_gib:
                    notes.append(f"{note}; over --max-gib {args.max_gib}: skipped")
                    continue
                if seconds * (args.repeats + 1) > 60 * args.max_minutes:
                    notes.append(f"{note}; over --max-minutes {args.max_minutes}: skipped")
                    continue
                notes.append(note)
            row = child(path, edges_file, n_users, n_movies, args)
            if row is not None:
                rows.append(row)
    by_path = {row["path"]: row for row in rows}
    ratios = {}
    if "kit" in by_path:
        kit = by_path["kit"]
        for path, row in by_path.items():
            if path != "kit":
                ratios[f"{path} / kit"] = {
                    "step": round(row["step s"] / kit["step s"], 3),
                    "peak": round(row["peak GiB"] / kit["peak GiB"], 3),
                    "peak above start": round(
                        (row["peak GiB"] - row["start GiB"]) / (kit["peak GiB"] - kit["start GiB"]),
                        3,
                    ),
                }
    return {
        "data": "synthetic, MovieLens 25M's shape only (seeded power laws, no real ratings)",
        "users": n_users, "movies": n_movies, "edges": args.edges, "channels": CHANNELS,
        "rounds": ROUNDS, "threads": args.threads, "repeats": args.repeats,
        "machine": machine(), "torch": torch.__version__, "rows": rows, "ratios": ratios,
        "notes": notes, "load": [*load, round(os.getloadavg()[0], 2)],
    }  # fmt: skip


def machine() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def table(result: dict) -> str:
    lines = [
        f"{result['edges']:,} edges, {result['users']:,} users, {result['movies']:,} movies: "
        f"{result['data']}; {result['channels']} channels, {result['rounds']} rounds both ways, "
        f"{result['threads']} threads, median of {result['repeats']} steps",
        "",
        f"{'path':<16} {'step s':>8} {'build s':>8} {'peak GiB':>9} {'start GiB':>10}",
    ]
    for row in result["rows"]:
        lines.append(
            f"{row['path']:<16} {row['step s']:>8.3f} {row['build s']:>8.3f} "
            f"{row['peak GiB']:>9.2f} {row['start GiB']:>10.2f}"
        )
    for name, ratio in result["ratios"].items():
        lines.append(
            f"{name}: step {ratio['step']:.2f}x, peak {ratio['peak']:.2f}x "
            f"(above start {ratio['peak above start']:.2f}x)"
        )
    lines.extend(result["notes"])
    return "\n".join(lines)


def count(text: str) -> int:
    scale = {"k": 1e3, "M": 1e6}.get(text[-1], 1)
    return int(float(text.rstrip("kM")) * scale)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=count, default=EDGES, help="e.g. 1000000, 1M, 18M")
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--movies", type=int, default=MOVIES)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probe-edges", type=count, default=2_000_000)
    parser.add_argument("--max-gib", type=float, default=18.0, help="pyg-edge_index's limit")
    parser.add_argument("--max-minutes", type=float, default=10.0, help="pyg-edge_index's limit")
    parser.add_argument("--json", help="also write the numbers here")
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--edges-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child:
        row = measure(args.child, args.edges_file, args.users, args.movies, args.repeats)
        print(json.dumps(row))
        return 0
    result = run(args)
    print(table(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
            handle.write("\n")
    return 0 if result["rows"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
