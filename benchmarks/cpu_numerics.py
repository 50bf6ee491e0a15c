"""What pinning numba, MKL, torch and OpenBLAS to one CPU code path costs, and what stays equal.

The kit's executors start notebook kernels with ``tools.stored_outputs.PORTABLE_NUMERICS`` in
the environment (``tools/run_notebooks.py``, and the root ``conftest.py`` for the test
command), so stored outputs match on any x86-64 CPU; ``import helpers`` sets nothing. The
variables are read when numba, MKL, torch and OpenBLAS start, so each run here is a fresh
process, under one of three settings:

* ``pinned``: ``PORTABLE_NUMERICS`` (numba for a generic x86-64, MKL, torch and, where the CPU
  has AVX2, OpenBLAS on their AVX2 paths), what the executors set;
* ``native``: each library's fastest path for this CPU (the same variables set to this CPU's
  best, as a probe without them reports it; OpenBLAS's own choice);
* ``pinned, AVX2-only MKL``: pinned, with MKL told this CPU has no AVX-512 (an older server).

Each run (the workload's parts, ``--parts``) on ml-latest-small, seed 42, protocol split:

* ``graphsage``: ``helpers.models.graphsage(...)`` (GraphSAGE lists + stars) trained;
* ``gnn-ranking``: the ranking GNN (LightGCN blended with the graph filter) trained;
* ``svd++``: ``baselines.SVDpp`` fitted (numba);
* ``umap``: ``viz.project_2d`` of 2,000 random 32-d points (numba, 50 epochs).

A trained model is fingerprinted by the md5 of its scores for 200 test users x every train
movie and its predicted stars for every test pair; SVD++ by its test predictions, UMAP by the
map. It prints the median time per setting, the pinned/native ratio, and whether the
fingerprints of the pinned runs agree (they should, digit for digit; the native ones may not).
The data comes from ``helpers.Settings.from_env()`` (``MOVIELENS_MIRROR`` etc.). ::

    python benchmarks/cpu_numerics.py --repeats 3 --json cpu_numerics.json
    python benchmarks/cpu_numerics.py --parts svd++ --repeats 1   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PARTS = ("graphsage", "gnn-ranking", "svd++", "umap")

WORKLOAD = """
import hashlib, json, sys, time
import numpy as np
import helpers
from helpers import baselines, data, models, protocol, viz

parts, started = sys.argv[1:], time.perf_counter()
settings = helpers.Settings.from_env()
train, test = protocol.protocol_split(data.load_ratings(settings), seed=42)
users, catalogue = np.sort(test["userId"].unique())[:200], np.sort(train["movieId"].unique())
pairs = (test["userId"].to_numpy(), test["movieId"].to_numpy())
source = data.load_movie_data(settings) if {"graphsage", "gnn-ranking"} & set(parts) else None
out, digest = {"load s": time.perf_counter() - started, "parts": {}}, hashlib.md5()

def fingerprint(*arrays):
    part = hashlib.md5()
    for array in arrays:
        part.update(np.ascontiguousarray(np.asarray(array, dtype=np.float64)).tobytes())
    digest.update(part.digest())
    return part.hexdigest()[:12]

for name in parts:
    begun = time.perf_counter()
    if name in ("graphsage", "gnn-ranking"):
        model = models.MODELS[name](train, source, settings, 42)
        printed = fingerprint(model.score(users, catalogue), model.predict(*pairs))
    elif name == "svd++":
        printed = fingerprint(baselines.SVDpp().fit(train).predict(*pairs))
    else:
        points = np.random.default_rng(0).normal(size=(2000, 32)).astype(np.float32)
        printed = fingerprint(viz.project_2d(points, seed=42, n_epochs=50))
    out["parts"][name] = {"seconds": time.perf_counter() - begun, "fingerprint": printed}
out |= {"seconds": time.perf_counter() - started, "fingerprint": digest.hexdigest()[:12]}
print(json.dumps(out))
"""

NATIVE_PROBE = """
import json, torch, llvmlite.binding as ll
print(json.dumps({"ATEN_CPU_CAPABILITY": torch.backends.cpu.get_cpu_capability().lower(),
                  "NUMBA_CPU_NAME": ll.get_host_cpu_name(),
                  "NUMBA_CPU_FEATURES": ll.get_host_cpu_features().flatten(),
                  "MKL_CBWR": "AUTO"}))
"""


def portable_numerics() -> dict[str, str]:
    """``tools.stored_outputs.PORTABLE_NUMERICS`` (``tools`` is not installed: read from REPO)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tools.stored_outputs import PORTABLE_NUMERICS

    return dict(PORTABLE_NUMERICS)


def run(code: str, env: dict[str, str], args=(), controlled=()) -> dict:
    """Run ``code`` in a fresh Python with the ``controlled`` variables replaced by ``env``;
    return the JSON it prints last."""
    base = {k: v for k, v in os.environ.items() if k not in controlled}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=base | env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"a run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per setting")
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="the workload's parts"
    )
    parser.add_argument("--json", type=Path, help="also write every run's numbers here")
    args = parser.parse_args(argv)
    pinned = portable_numerics()
    # every setting names all of these; the caller's own values never leak into a run
    controlled = {*pinned, "NUMBA_CPU_FEATURES", "MKL_ENABLE_INSTRUCTIONS"}
    settings = {
        "pinned": pinned,
        "native": run(NATIVE_PROBE, {}, controlled=controlled),
        "pinned, AVX2-only MKL": pinned | {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    }
    for name in ("pinned", "native"):  # warm numba's caches for both targets before timing
        run(WORKLOAD, settings[name], args.parts, controlled)
    results: dict[str, list[dict]] = {name: [] for name in settings}
    for repeat in range(args.repeats):  # interleaved, so a busy machine slows every setting
        for name, env in settings.items():
            results[name].append(run(WORKLOAD, env, args.parts, controlled))
            print(f"repeat {repeat + 1}: {name}: {json.dumps(results[name][-1])}", flush=True)
    medians = {name: statistics.median(r["seconds"] for r in results[name]) for name in results}
    print(f"\nparts: {', '.join(args.parts)}; {args.repeats} timed run(s) per setting")
    for name, seconds in medians.items():
        prints = sorted({r["fingerprint"] for r in results[name]})
        print(f"{name:>22}: median {seconds:6.1f} s, fingerprints {prints}")
    ratio = medians["pinned"] / medians["native"]
    print(f"pinned / native time: {ratio:.2f}")
    agree = len({r["fingerprint"] for n in settings if n.startswith("pinned") for r in results[n]})
    print("pinned runs agree across CPU paths:", agree == 1)
    for part in args.parts:
        by_setting = {
            name: sorted({r["parts"][part]["fingerprint"] for r in runs})
            for name, runs in results.items()
        }
        print(f"  {part}: " + "; ".join(f"{n} {p}" for n, p in by_setting.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "parts": args.parts,
            "settings": settings,
            "median seconds": medians,
            "pinned / native": ratio,
            "pinned agree": agree == 1,
            "runs": results,
        }
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
