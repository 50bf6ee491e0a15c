"""Set-up for the test command (unit tests, and nbval over the notebooks).

* Tests and notebook kernels read the real MovieLens files in ../shared when they are there
  (CI, the course machines); elsewhere MOVIELENS_MIRROR or a GroupLens download.
* Notebook kernels start with tools.stored_outputs.PORTABLE_NUMERICS, as the kit's executor
  (tools/run_notebooks.py) starts them when it writes the stored outputs.
* nbval compares outputs exactly, except numbers, under the README's tolerance policy: a
  decimal may differ from the stored one by 1 % of it or 2 units of its last digit, whichever is
  larger; whole numbers must be equal, except in the cells that ``tools.stored_outputs.CELLS``
  declares (counts read off a trained model or a UMAP map, a trained model's ranked titles).
  Text, titles, ids and messages are compared as they are.
"""

import os
from pathlib import Path

from tools.stored_outputs import PORTABLE_NUMERICS, accepts, tolerance

TEXTS = ("text/plain", "text/html")  # the outputs that hold printed numbers
SHARED = Path(__file__).resolve().parent.parent / "shared" / "data" / "movielens"
GENOME_SUBSET = SHARED / "ml-20m" / "partial" / "genome_scores.kaggle-format.subset.csv"

if SHARED.is_dir():
    os.environ.setdefault("MOVIELENS_MIRROR", str(SHARED))
    os.environ.setdefault("MOVIELENS_GENOME", str(GENOME_SUBSET))
for name, value in PORTABLE_NUMERICS.items():
    os.environ.setdefault(name, value)


def pytest_configure(config):
    """Teach nbval the tolerance: a fresh output that agrees is replaced by the stored one."""
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:  # nbval not installed: no notebooks to compare
        return
    if getattr(IPyNbCell, "_tolerant", False):
        return
    compare = IPyNbCell.compare_outputs

    def tolerant(self, test, ref, skip_compare=None):
        allowed = tolerance(Path(self.parent.path).stem, self.cell.get("id", ""))
        for fresh, stored in zip(test, ref, strict=False):  # outputs in order, kind by kind
            if fresh.get("output_type") != stored.get("output_type"):
                continue
            if fresh.get("output_type") == "stream":
                same_stream = fresh.get("name") == stored.get("name")
                texts = [(fresh, stored, "text")] if same_stream else []
            else:
                texts = [(fresh.get("data", {}), stored.get("data", {}), k) for k in TEXTS]
            for new, old, key in texts:
                if isinstance(new.get(key), str) and isinstance(old.get(key), str):
                    if accepts(self.sanitize(old[key]), self.sanitize(new[key]), allowed):
                        new[key] = old[key]  # within tolerance: compare as equal
        return compare(self, test, ref, skip_compare)

    IPyNbCell.compare_outputs, IPyNbCell._tolerant = tolerant, True
