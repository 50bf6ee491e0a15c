"""The course kit's helpers: one module per step of the pipeline.

raw CSV -> ``data`` -> ``split`` -> ``features`` -> ``graph`` -> ``models`` / ``train``
-> ``metrics`` / ``baselines`` -> ``recommend`` -> ``viz`` / ``explorer``.
"""

from helpers.reproducibility import device, seed_everything

__all__ = ["device", "seed_everything"]
