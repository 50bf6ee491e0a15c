"""What pinning numba, MKL and torch to one CPU code path costs, and that it makes results portable.

Each run trains GraphSAGE and the ranking GNN on ml-latest-small (seed 42), fits SVD++ and draws
a UMAP map, in a fresh process, under one of three settings:

* ``pinned``: what ``import helpers`` sets (``helpers.reproducibility.PORTABLE_CPU_NUMERICS``);
* ``native``: each library's fastest path for this CPU (the variables set to this CPU's best);
* ``pinned, AVX2-only MKL``: pinned, with MKL told this CPU has no AVX-512 (an older server).

It prints the median time per setting, the pinned/native ratio, and whether the fingerprints
(md5 of the embeddings, predictions and map) of the pinned runs agree.

    python benchmarks/cpu_numerics.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOAD = """
import hashlib, json, time
import numpy as np
import helpers
from helpers import baselines, data, pipeline, split, viz
start = time.perf_counter()
train_part, test_part = split.protocol_split(data.load_ratings(), seed=42)
digest = hashlib.md5()
for name in ("graphsage", "gnn-ranking"):
    digest.update(pipeline.build(name, train_part, seed=42).z["movie"].numpy().tobytes())
svdpp = baselines.SVDpp().fit(train_part)
digest.update(svdpp.predict(test_part["userId"].to_numpy(), test_part["movieId"].to_numpy()))
points = np.random.default_rng(0).normal(size=(2000, 32)).astype(np.float32)
digest.update(viz.project_2d(points, seed=42, n_epochs=50).tobytes())
print(json.dumps({"seconds": time.perf_counter() - start, "fingerprint": digest.hexdigest()[:12]}))
"""

NATIVE_PROBE = """
import json, torch, llvmlite.binding as ll
print(json.dumps({"ATEN_CPU_CAPABILITY": torch.backends.cpu.get_cpu_capability().lower(),
                  "NUMBA_CPU_NAME": ll.get_host_cpu_name(),
                  "NUMBA_CPU_FEATURES": ll.get_host_cpu_features().flatten(),
                  "MKL_CBWR": "AUTO"}))
"""


def run(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` in a fresh Python with ``env`` added; return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", code], env=os.environ | env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"a run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    settings = {
        "pinned": {},
        "native": run(NATIVE_PROBE, {}),
        "pinned, AVX2-only MKL": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    }
    run(WORKLOAD, {})  # warm numba's caches for both targets before timing
    run(WORKLOAD, settings["native"])
    results: dict[str, list[dict]] = {name: [] for name in settings}
    for repeat in range(args.repeats):  # interleaved, so a busy machine slows every setting
        for name, env in settings.items():
            results[name].append(run(WORKLOAD, env))
            print(f"repeat {repeat + 1}: {name}: {results[name][-1]}", flush=True)
    medians = {name: statistics.median(r["seconds"] for r in results[name]) for name in results}
    for name, seconds in medians.items():
        prints = sorted({r["fingerprint"] for r in results[name]})
        print(f"{name:>22}: median {seconds:6.1f} s, fingerprints {prints}")
    print(f"pinned / native time: {medians['pinned'] / medians['native']:.2f}")
    pinned = {r["fingerprint"] for n in settings if n.startswith("pinned") for r in results[n]}
    print("pinned runs agree across CPU paths:", len(pinned) == 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
