"""The explorer of notebook 08: plain functions in ``logic``, widgets in ``widget``."""
