"""Save notebook 05's models and load them in notebook 06 without retraining.

``artifacts/final.pt`` (git-ignored) holds the final feature model: the trained weights, the
embeddings they serve, the graph, the id maps, the feature tables with their names and scaling,
the loss history and a fingerprint of the data, seed, settings and code that made it
(``final.json`` beside it repeats the metadata in readable form). Loading builds an untrained
model the way the pipeline does (no training epochs) and gives it the saved weights.
:func:`load_or_train_final` trains when the file is missing or stale, saves it, and always
returns what it loads from disk, so a fresh and a saved model are the same object.
``artifacts/best.pt`` holds the kit's best GNN (``gnn``: ranking + rating models), which the
explorer serves; :func:`load_or_train_best` works the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch_geometric.data import HeteroData

from helpers import data, features, graph, pipeline, split
from helpers.metrics import Recommender
from helpers.recommend import GNNRecommender
from helpers.train import History

FINAL_MODEL = "sage-temporal"
BEST_MODEL = pipeline.DEFAULT_MODEL  # "gnn": the ranking GNN's lists, the rating GNN's stars
FINAL_RECIPE = features.temporal_features
ARTIFACTS_ENV = "MOVIELENS_ARTIFACTS"
# The code whose change makes a saved model stale.
_CODE = (
    "features.py", "graph.py", "models.py", "pipeline.py", "train.py", "recommend.py",
    "ranking.py", "graph_filter.py", "scale.py", "reproducibility.py",
)  # fmt: skip


@dataclass
class FinalModel:
    """The final feature model with everything needed to serve and explain it."""

    recommender: GNNRecommender
    graph: HeteroData
    user_features: features.NodeFeatures
    movie_features: features.NodeFeatures
    history: History
    meta: dict = field(default_factory=dict)


def artifacts_dir() -> Path:
    """``MOVIELENS_ARTIFACTS`` or ``<repo>/artifacts`` (git-ignored)."""
    return Path(os.environ.get(ARTIFACTS_ENV) or data.repo_root() / "artifacts").expanduser()


def default_path(stem: str = "final") -> Path:
    """``<stem>.pt`` for ml-latest-small, ``<stem>-<run label>.pt`` for other data or samples."""
    label = data.run_label()
    return artifacts_dir() / (
        f"{stem}.pt" if label == data.DEFAULT_DATASET else f"{stem}-{label}.pt"
    )


def fingerprint(
    train_part: pd.DataFrame,
    dataset: str | None,
    seed: int,
    hyper: dict,
    model: str = FINAL_MODEL,
) -> str:
    """Hash of the train ratings, data set, seed, model, settings and the training code."""
    digest = hashlib.sha256()
    rows = pd.util.hash_pandas_object(train_part[["userId", "movieId", "rating"]], index=False)
    digest.update(rows.to_numpy().tobytes())
    digest.update(json.dumps([model, str(dataset), seed, hyper], sort_keys=True).encode())
    for name in _CODE:
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()[:16]


def train_final(
    train_part: pd.DataFrame,
    dataset: str | None = None,
    seed: int = 42,
    progress: bool = False,
    **hyper,
) -> FinalModel:
    """Train ``pipeline.MODELS[FINAL_MODEL]`` on the train part; ``hyper`` goes to training."""
    recommender = pipeline.MODELS[FINAL_MODEL](train_part, dataset, seed, progress, **hyper)
    users, movies = FINAL_RECIPE.tables(train_part, recommender.maps, dataset)
    full_graph = graph.build_graph(train_part, recommender.maps, users.tensor(), movies.tensor())
    meta = {
        "model": FINAL_MODEL,
        "recipe": FINAL_RECIPE.name,
        "dataset": data.dataset_name() if dataset is None else str(dataset),
        "dataset_arg": dataset,
        "hyper": hyper,
        "seed": seed,
        "fingerprint": fingerprint(train_part, dataset, seed, hyper),
        "user_features": users.columns,
        "movie_features": movies.columns,
        "users": len(recommender.maps.users),
        "movies": len(recommender.maps.movies),
    }
    return FinalModel(recommender, full_graph, users, movies, recommender.history, meta)


def save_final(final: FinalModel, path: Path | None = None) -> Path:
    """Write the model, weights, embeddings, graph, id maps and feature metadata to one file."""
    path = Path(path or default_path())
    recommender = final.recommender
    payload = {
        "state_dict": recommender.model.state_dict(),
        "z": recommender.z,
        "graph": final.graph,
        "user_ids": recommender.maps.users.ids,
        "movie_ids": recommender.maps.movies.ids,
        "user_features": final.user_features,
        "movie_features": final.movie_features,
        "history": final.history,
        "name": recommender.name,
        "meta": final.meta,
    }
    data.write_atomically(path, lambda scratch: torch.save(payload, scratch))
    path.with_suffix(".json").write_text(json.dumps(final.meta, indent=1))
    return path


def load_final(path: Path | None = None) -> FinalModel:
    """Load what :func:`save_final` wrote; a missing file says how to make it."""
    path = Path(path or default_path())
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: run notebook 05 (or helpers.checkpoint.load_or_train_final())"
            " to train and save the final model."
        )
    payload = torch.load(path, weights_only=False)  # our own file: it holds pickled tables
    meta = payload["meta"]
    # An untrained model built the way the pipeline builds it, then given the saved weights.
    train_part = split.protocol_split(data.load_ratings(meta["dataset_arg"]), meta["seed"]).train
    skeleton = pipeline.MODELS[FINAL_MODEL](
        train_part, meta["dataset_arg"], meta["seed"], False, **(meta["hyper"] | {"epochs": 0})
    )
    model = skeleton.model
    model.load_state_dict(payload["state_dict"])
    maps = graph.IdMaps(graph.IdMap(payload["user_ids"]), graph.IdMap(payload["movie_ids"]))
    recommender = GNNRecommender(model, payload["graph"], maps, payload["name"])
    recommender.z = payload["z"]  # the embeddings that were evaluated, bit for bit
    recommender.history = payload["history"]
    return FinalModel(
        recommender,
        payload["graph"],
        payload["user_features"],
        payload["movie_features"],
        payload["history"],
        payload["meta"],
    )


def _saved_fingerprint(path: Path) -> str | None:
    """The fingerprint in the small JSON beside a saved model (no need to unpickle it)."""
    meta = path.with_suffix(".json")
    return json.loads(meta.read_text()).get("fingerprint") if meta.exists() else None


def load_or_train_final(
    dataset: str | None = None,
    seed: int = 42,
    path: Path | None = None,
    progress: bool = False,
    **hyper,
) -> FinalModel:
    """The saved final model of the protocol split, trained and saved first if missing or stale."""
    train_part = split.protocol_split(data.load_ratings(dataset), seed).train
    expected = fingerprint(train_part, dataset, seed, hyper)
    path = Path(path or default_path())
    if path.exists() and _saved_fingerprint(path) == expected:
        return load_final(path)
    save_final(train_final(train_part, dataset, seed, progress, **hyper), path)
    return load_final(path)


def final_recommender(dataset: str | None = None, seed: int = 42) -> GNNRecommender:
    """Notebook 06's model: the final feature model as a raw-id recommender."""
    return load_or_train_final(dataset, seed).recommender


# --------------------------------------------------------------------------- the best GNN


def save_best(
    recommender: Recommender, train_part: pd.DataFrame, dataset: str | None = None, seed: int = 42
) -> Path:
    """Pickle the trained ``gnn`` recommender (both models, their embeddings, the id maps).

    A pickle is safe here because the fingerprint beside it names the code that wrote it: any
    change to the training code makes :func:`load_or_train_best` retrain instead of unpickle.
    """
    path = default_path("best")
    meta = {
        "model": BEST_MODEL,
        "name": recommender.name,
        "dataset": data.dataset_name() if dataset is None else str(dataset),
        "seed": seed,
        "fingerprint": fingerprint(train_part, dataset, seed, {}, BEST_MODEL),
    }
    data.write_atomically(path, lambda scratch: torch.save(recommender, scratch))
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return path


def load_or_train_best(
    dataset: str | None = None, seed: int = 42, progress: bool = False
) -> Recommender:
    """Notebook 06's model: the saved ``gnn`` of the protocol split (retrained if stale)."""
    train_part = split.protocol_split(data.load_ratings(dataset), seed).train
    path = default_path("best")
    expected = fingerprint(train_part, dataset, seed, {}, BEST_MODEL)
    if not (path.exists() and _saved_fingerprint(path) == expected):
        recommender = pipeline.build(BEST_MODEL, train_part, dataset, seed, progress)
        save_best(recommender, train_part, dataset, seed)
    return torch.load(path, weights_only=False)  # our own file, checked by its fingerprint
