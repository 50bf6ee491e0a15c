"""What the star loss costs per step: ``helpers.train.pair_mse_backward`` (one sampled product
for the fit, two sparse products for the gradients) against the gather it replaced (the pairs'
embeddings gathered a million at a time, autograd scattering the gradients back).

Random embeddings (64 channels) and distinct random (user, movie) pairs at MovieLens shapes;
the median of ``--repeats`` timed runs after one warm-up, and the ratio gather / sparse.

    python benchmarks/decode.py --pairs 1M 3.6M 18M --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from helpers import train
from helpers.graph import Patterns
from helpers.settings import seed_everything

USERS, MOVIES, CHANNELS = 162_338, 62_423, 64  # about ml-25m's size (25M / 154 users, not 162,541)


def gathered_mse_backward(users, movies, pairs, target, chunk=1 << 20) -> float:
    """The previous decoder: gather each chunk's embeddings, let autograd scatter back."""
    detached = [z.detach().requires_grad_() for z in (users, movies)]
    total, n = 0.0, len(target)
    for start in range(0, n, chunk):
        u, m = (index[start : start + chunk] for index in pairs)
        fit = (detached[0].index_select(0, u) * detached[1].index_select(0, m)).sum(-1)
        loss = ((fit - target[start : start + chunk]) ** 2).sum() / n
        loss.backward()
        total += loss.item()
    torch.autograd.backward([users, movies], [z.grad for z in detached])
    return total


def median_seconds(run, repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(n_pairs: int, repeats: int) -> dict:
    seed_everything(0)
    key = torch.unique(torch.randint(0, USERS * MOVIES, (n_pairs,)))
    key = key[torch.randperm(len(key))]  # rating files are not sorted by user and movie
    users, movies = key // MOVIES, key % MOVIES
    weights = torch.randn(USERS + MOVIES, CHANNELS, requires_grad=True)
    target = torch.randn(len(key))

    def embeddings():
        weights.grad = None
        return weights[:USERS] * 1.0, weights[USERS:] * 1.0

    started = time.perf_counter()
    pairs = Patterns.of(users, movies, USERS, MOVIES)
    sort_seconds = time.perf_counter() - started
    sparse = median_seconds(lambda: train.pair_mse_backward(*embeddings(), pairs, target), repeats)
    gather = median_seconds(
        lambda: gathered_mse_backward(*embeddings(), (users, movies), target), repeats
    )
    return {
        "pairs": len(key), "sparse s": round(sparse, 3), "gather s": round(gather, 3),
        "gather / sparse": round(gather / sparse, 1), "sort once s": round(sort_seconds, 3),
    }  # fmt: skip


def count(text: str) -> int:
    scale = {"k": 1e3, "M": 1e6}.get(text[-1], 1)
    return int(float(text.rstrip("kM")) * scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=["1M", "3.6M"], help="e.g. 1M 3.6M 18M")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    rows = [measure(count(n), args.repeats) for n in args.pairs]
    for row in rows:
        print(row)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"device": "CPU", "threads": torch.get_num_threads(), "rows": rows}, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
