"""Save a trained model and load it back instead of training it again (notebooks 05-08).

A saved model carries a fingerprint of what made it: the ratings it trained on, the movies,
genome and tags it read, the model's name and seed, the data settings and every line of
``helpers``. Loading a model whose
fingerprint differs, or a damaged file, says so in one sentence and trains a fresh one. Files
hold no pickle: nothing in ``artifacts/`` can run code when a model is loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from helpers import safe_store
from helpers.data import MovieData, write_atomically
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


MAGIC = b"gnn-recsys-kit model v2\n"  # then one JSON line (fingerprint, SHA-256), then the model


def save(model, path: Path, fingerprint_: str) -> Path:
    """Write the model, its fingerprint and its content's SHA-256 in one file, atomically.

    The model is kept by :mod:`helpers.safe_store` (no pickle); a one-line JSON header before it
    holds the fingerprint and the payload's digest, so :func:`load` checks both first.
    """
    payload = safe_store.dumps(model)
    header = {"fingerprint": fingerprint_, "sha256": hashlib.sha256(payload).hexdigest()}
    raw = MAGIC + json.dumps(header).encode() + b"\n" + payload
    return write_atomically(path, lambda scratch: scratch.write_bytes(raw))


def _header(raw: bytes) -> tuple[dict, bytes]:
    """The header and payload of a saved model; ValueError if ``raw`` is not one."""
    if not raw.startswith(MAGIC):
        raise ValueError("not a model file of this kit")
    line, newline, payload = raw[len(MAGIC) :].partition(b"\n")
    header = json.loads(line) if newline else None
    if not isinstance(header, dict) or not {"fingerprint", "sha256"} <= header.keys():
        raise ValueError("no header")
    return header, payload


def load(path: Path, expected: str):
    """The saved model if ``path`` holds one with the ``expected`` fingerprint, else None.

    The fingerprint and the SHA-256 of the contents are checked before anything is rebuilt,
    and rebuilding runs no code from the file (:mod:`helpers.safe_store`).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        print(f"{path} cannot be read ({error.strerror or error}), so the model is trained again.")
        return None
    if raw.startswith(b"\x80") and not raw.startswith(MAGIC):  # a pickle: the old format
        print(f"{path.name} is damaged or in the kit's old pickle format (never loaded now), "
              "so the model is trained again.")  # fmt: skip
        return None
    try:
        header, payload = _header(raw)
        if header["fingerprint"] != expected:
            print(f"{path.name} was made by other data or code, so the model is trained again.")
            return None
        if hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise ValueError("its contents differ from their SHA-256")
        return safe_store.loads(payload)
    except Exception as error:  # cut short, overwritten, or not ours
        print(f"{path.name} is damaged ({error}), so the model is trained again.")
        return None


def load_or_train(
    build: Callable,
    train: pd.DataFrame,
    source: MovieData,
    settings: Settings,
    seed: int = 42,
    progress: bool = False,
):
    """``build(train, source, settings, seed, progress)`` (a model of :mod:`helpers.models`),
    from ``artifacts/`` when an up-to-date copy is there: ``graphsage_content`` is kept as
    ``artifacts/graphsage-content.pt``."""
    name = build.__name__.replace("_", "-")
    expected = fingerprint(name, train, settings, seed, source)
    path = path_of(name, settings)
    model = load(path, expected)
    if model is None:
        model = build(train, source, settings, seed, progress)
        try:
            save(model, path, expected)
        except OSError as error:  # the trained model is still returned
            print(
                f"{path} cannot be written ({error.strerror or error}), so the model is not "
                "kept; set MOVIELENS_ARTIFACTS to a folder you can write to."
            )
    return model
