"""The course kit's helpers (notebooks 01-08), one module per step of the pipeline (the notebook
that teaches each is named in its docstring):

``settings`` -> ``data`` -> ``split`` -> ``features`` -> ``graph`` -> ``models`` / ``losses`` /
``train`` -> ``recommender`` / ``metrics`` / ``baselines`` -> ``viz`` / ``explorer``.
"""

from helpers.reproducibility import seed_everything
from helpers.settings import Settings

__all__ = ["Settings", "seed_everything"]
