"""The course kit's helpers (notebooks 01-08), laid out by concept (each module names the
notebook that teaches it):

``settings`` / ``download`` / ``data`` -> ``protocol`` (splits and cold-start scores) ->
``metrics`` -> ``baselines`` -> ``features`` -> ``graph`` -> ``train`` -> ``models/<family>``
(and ``models.MODELS``, the named ones) -> ``recommend`` -> ``checkpoint`` / ``leaderboard`` /
``viz`` / ``evaluate`` -> ``explorer/``.
"""

from helpers.settings import Settings, seed_everything

__all__ = ["Settings", "seed_everything"]
