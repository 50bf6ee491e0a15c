"""Save a trained model and load it back instead of training it again (notebooks 05-08).

A saved model carries a fingerprint of what made it: the ratings it trained on, the movies,
genome and tags it read, the model's name and seed, the data settings and every line of
``helpers``. Loading a model whose
fingerprint differs, or a damaged file, says so in one sentence and trains a fresh one.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pandas as pd

from helpers import pipeline
from helpers.data import write_atomically
from helpers.features import MovieData
from helpers.settings import REPO, Settings


def code_digest() -> str:
    """SHA-256 of every module of ``helpers``: any change to the code makes saved models stale."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "helpers").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + path.read_bytes())
    return digest.hexdigest()


def _table_digest(table: pd.DataFrame | None) -> bytes:
    """SHA-256 of a table's columns, dtypes and rows (of ``None``: a fixed word)."""
    if table is None:
        return hashlib.sha256(b"none").digest()
    digest = hashlib.sha256(repr([(str(c), str(t)) for c, t in table.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.digest()


def fingerprint(
    name: str, train: pd.DataFrame, settings: Settings, seed: int, source: MovieData
) -> str:
    """What a saved model must match to be reused: the code, the train ratings, every table of
    ``source`` (movies, genome, genome tags, user tags), the model's name, seed and settings."""
    digest = hashlib.sha256(code_digest().encode())
    digest.update(_table_digest(train[["userId", "movieId", "rating", "timestamp"]]))
    for table in (source.movies, source.genome, source.genome_tags, source.tags):
        digest.update(_table_digest(table))
    digest.update(repr((name, seed, settings.label, settings.genome, settings.max_epochs)).encode())
    return digest.hexdigest()[:16]


def path_of(name: str, settings: Settings) -> Path:
    """``artifacts/<name>.pt`` for the course data, ``<name>-<data label>.pt`` otherwise."""
    suffix = "" if settings.is_course_data else f"-{settings.label}"
    return settings.artifacts / f"{name}{suffix}.pt"


def save(model, path: Path, fingerprint_: str) -> Path:
    """Write the model and its fingerprint in one file, atomically.

    The model is pickled inside: its fingerprint can be read without running any of the code
    that pickled it, so a stale file never needs today's classes to be recognised as stale.
    """
    payload = pickle.dumps({"fingerprint": fingerprint_, "model": pickle.dumps(model)})
    return write_atomically(path, lambda scratch: scratch.write_bytes(payload))


def load(path: Path, expected: str):
    """The saved model if ``path`` holds one with the ``expected`` fingerprint, else None."""
    if not path.exists():
        return None
    try:
        payload = pickle.loads(path.read_bytes())  # the kit's own file
        if payload["fingerprint"] != expected:
            print(f"{path.name} was made by other data or code, so the model is trained again.")
            return None
        return pickle.loads(payload["model"])
    except Exception as error:  # truncated, emptied or not ours: unpickling fails many ways
        print(f"{path.name} is damaged ({type(error).__name__}), so the model is trained again.")
        return None


def load_or_train(
    name: str,
    train: pd.DataFrame,
    source: MovieData,
    settings: Settings,
    seed: int = 42,
    progress: bool = False,
):
    """``pipeline.build(name, ...)``, from ``artifacts/`` when an up-to-date copy is there."""
    expected = fingerprint(name, train, settings, seed, source)
    path = path_of(name, settings)
    model = load(path, expected)
    if model is None:
        model = pipeline.build(name, train, source, settings, seed, progress)
        save(model, path, expected)
    return model
