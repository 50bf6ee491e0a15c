"""The course kit's helpers: one module per step of the pipeline.

raw CSV -> ``data`` -> ``split`` -> ``features`` -> ``graph`` -> ``models`` / ``train``
-> ``metrics`` / ``baselines`` -> ``recommend`` -> ``viz`` / ``explorer``.
"""

from helpers.reproducibility import device, pin_cpu_numerics, seed_everything

pin_cpu_numerics()

__all__ = ["device", "pin_cpu_numerics", "seed_everything"]
