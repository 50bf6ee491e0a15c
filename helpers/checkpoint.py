"""Keep a trained model and load it back instead of training it again (notebooks 03-08).

A saved model carries a fingerprint of what made it: the ratings it trained on, the movies,
genome and tags it read, the model's name and seed, the data settings and every line of
``helpers``. Loading a model whose fingerprint differs, or a damaged file, says so in one sentence
and trains a fresh one.

Files hold no pickle. The model's object tree becomes JSON (numbers, strings, containers, and for
each object its class and attributes) kept in the metadata of one safetensors file that holds its
arrays and tensors, and its pandas tables as parquet bytes. Loading runs no code from the file:
only the kit's own classes (``helpers.*``) and torch's and PyG's layers are rebuilt, by setting
attributes, never by calling anything the file names; a feature recipe's blocks are kept as the
names of functions the kit defines, and looked up by name on load.
"""

from __future__ import annotations

import hashlib
import io
import json
import pkgutil
import types
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse
import torch
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from torch_geometric.inspector import Inspector
from torch_geometric.nn import MessagePassing

from helpers.data import MovieData, write_atomically
from helpers.settings import REPO, Settings

MAGIC = b"gnn-recsys-kit model v2\n"  # then one JSON line (fingerprint, SHA-256), then the model
TREE = "tree"  # the safetensors metadata key holding the object tree
# The modules whose classes may be rebuilt: the kit's own, and torch's and PyG's layers.
ALLOWED = ("helpers.", "torch.nn.modules.", "torch_geometric.nn.")
# Containers kept as JSON: a list as a JSON list, the others as {"$": name, "items": [...]}.
CONTAINERS = {kind.__name__: kind for kind in (list, tuple, set, frozenset, dict, OrderedDict)}


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


class _Writer:
    """Encodes one object tree as JSON, collecting its arrays."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, tuple[int, object]] = {}  # id -> (number, the object kept alive)

    def array(self, values: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(values)
        return key

    def encode(self, value):
        if isinstance(value, np.generic):  # before float: np.float64 is one
            return {"$": "scalar", "value": value.item(), "dtype": value.dtype.str}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if type(value) in CONTAINERS.values():
            items = map(list, value.items()) if isinstance(value, dict) else value  # pairs
            items = [self.encode(item) for item in items]
            return items if type(value) is list else {"$": type(value).__name__, "items": items}
        if isinstance(value, Inspector):  # PyG's notes on a layer's methods: made again on load
            return None
        if id(value) in self.seen:  # shared objects stay shared
            return {"$": "ref", "id": self.seen[id(value)][0]}
        number = len(self.seen)
        self.seen[id(value)] = number, value
        return {"id": number} | self.encode_object(value)

    def encode_object(self, value) -> dict:
        if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":  # not for safetensors
            items = self.encode(value.tolist())
            return {"$": "ndarray-list", "dtype": value.dtype.str, "items": items}
        if isinstance(value, np.ndarray):
            return {"$": "ndarray", "key": self.array(value)}
        if isinstance(value, torch.Tensor):
            kind = "parameter" if isinstance(value, torch.nn.Parameter) else "tensor"
            key = self.array(value.detach().cpu().numpy())
            return {"$": kind, "key": key, "grad": value.requires_grad, "device": str(value.device)}
        if isinstance(value, scipy.sparse.csr_matrix):
            keys = [self.array(part) for part in (value.data, value.indices, value.indptr)]
            return {"$": "csr", "keys": keys, "shape": list(value.shape)}
        if isinstance(value, pd.DataFrame | pd.Series):
            frame = value.to_frame("value") if isinstance(value, pd.Series) else value
            if not all(isinstance(column, str) for column in frame.columns):
                raise ValueError("cannot store a table whose column names are not strings")
            key = self.array(np.frombuffer(frame.to_parquet(), dtype=np.uint8))
            if isinstance(value, pd.Series):
                return {"$": "series", "key": key, "name": self.encode(value.name)}
            return {"$": "frame", "key": key}
        if isinstance(value, types.FunctionType):  # a recipe's block: a kit function, by name
            path = f"{value.__module__}:{value.__qualname__}"
            if _kit_function(path) is not value:
                raise ValueError(f"cannot store the function {path}: only the kit's own, by name")
            return {"$": "function", "name": path}
        cls = type(value)
        path = f"{cls.__module__}:{cls.__qualname__}"
        if not cls.__module__.startswith(ALLOWED) or not hasattr(value, "__dict__"):
            raise ValueError(f"cannot store a {path}")
        state = value.__getstate__()  # what pickle would keep (GraphFilter drops a cache)
        return {"$": "object", "class": path, "state": self.encode(dict(state or {}))}


class _Reader:
    """Decodes one object tree, with its arrays."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = {key: array.copy() for key, array in arrays.items()}
        self.made = {}  # number -> object, for refs

    def decode(self, node):
        if isinstance(node, list):
            return [self.decode(item) for item in node]
        if not isinstance(node, dict):
            return node
        kind = node.get("$")
        if kind in CONTAINERS:
            return CONTAINERS[kind](self.decode(node["items"]))
        if kind == "scalar":
            return np.dtype(node["dtype"]).type(node["value"])
        if kind == "ref":
            return self.made[node["id"]]
        if kind == "object":
            return self.decode_object(node)
        self.made[node["id"]] = value = self.decode_data(node)
        return value

    def decode_data(self, node: dict):
        kind, array = node["$"], self.arrays.get(node.get("key"))
        if kind == "ndarray":
            return array
        if kind == "ndarray-list":
            return np.array(self.decode(node["items"]), dtype=np.dtype(node["dtype"]))
        if kind in ("tensor", "parameter"):
            tensor = torch.from_numpy(array)
            if node["device"] != "cpu" and torch.cuda.is_available():
                tensor = tensor.to(node["device"])
            if kind == "parameter":
                return torch.nn.Parameter(tensor, requires_grad=node["grad"])
            return tensor.requires_grad_(node["grad"])
        if kind in ("frame", "series"):
            frame = pd.read_parquet(io.BytesIO(array.tobytes()))
            return frame["value"].rename(self.decode(node["name"])) if kind == "series" else frame
        if kind == "function":
            if (found := _kit_function(node["name"])) is None:
                raise ValueError(f"refuses to load the function {node['name']}")
            return found
        if kind == "csr":
            parts = tuple(self.arrays[key] for key in node["keys"])
            return scipy.sparse.csr_matrix(parts, shape=tuple(node["shape"]))
        raise ValueError(f"unknown entry {kind!r}")

    def decode_object(self, node: dict):
        if not node["class"].startswith(ALLOWED):  # nothing else is even imported
            raise ValueError(f"refuses to rebuild a {node['class']}")
        cls = pkgutil.resolve_name(node["class"])
        layer = isinstance(cls, type) and issubclass(cls, torch.nn.Module)
        allowed = ALLOWED if layer else "helpers."  # any other class: only the kit's own
        if not isinstance(cls, type) or not cls.__module__.startswith(allowed):
            raise ValueError(f"refuses to rebuild {node['class']}: not a kit class or layer")
        self.made[node["id"]] = value = object.__new__(cls)
        state = self.decode(node["state"])
        if issubclass(cls, MessagePassing):
            state["inspector"] = _inspector(value)
        if layer:
            cls.__setstate__(value, state)  # torch's or PyG's own code
        else:
            vars(value).update(state)
        return value


def _kit_function(name: str) -> types.FunctionType | None:
    """The function a ``helpers`` module defines as ``name`` (``helpers.features:year_block``), or
    None: only a helpers.* name is looked up, and one a module merely imports is not its own.
    Nothing is called."""
    if not name.startswith("helpers.") or "<" in name:  # "<": a lambda or a nested function
        return None
    found = pkgutil.resolve_name(name)
    own = f"{getattr(found, '__module__', '')}:{getattr(found, '__qualname__', '')}"
    return found if isinstance(found, types.FunctionType) and own == name else None


def _inspector(layer: MessagePassing) -> Inspector:
    """The Inspector PyG's ``MessagePassing.__init__`` gives ``layer`` (same calls, same order)."""
    inspector = Inspector(type(layer))
    inspector.inspect_signature(layer.message)
    inspector.inspect_signature(layer.aggregate, exclude=[0, "aggr"])
    inspector.inspect_signature(layer.message_and_aggregate, [0])
    inspector.inspect_signature(layer.update, exclude=[0])
    inspector.inspect_signature(layer.edge_update)
    return inspector


def save(model, path: Path, fingerprint_: str) -> Path:
    """Write the model (as safetensors, no pickle) after a one-line JSON header holding its
    fingerprint and the payload's SHA-256, so :func:`load` checks both first; atomically."""
    writer = _Writer()
    tree = writer.encode(model)
    payload = save_arrays(writer.arrays, metadata={TREE: json.dumps(tree)})
    header = {"fingerprint": fingerprint_, "sha256": hashlib.sha256(payload).hexdigest()}
    raw = MAGIC + json.dumps(header).encode() + b"\n" + payload
    return write_atomically(path, lambda scratch: scratch.write_bytes(raw))


def load(path: Path, expected: str):
    """The model saved at ``path`` if its fingerprint is ``expected``, else None (with why); the
    fingerprint and the SHA-256 of the contents are checked before anything is rebuilt."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        print(f"{path} cannot be read ({error.strerror or error}), so the model is trained again.")
        return None
    if raw.startswith(b"\x80"):  # a pickle: the old format
        print(f"{path.name} is damaged or in the kit's old pickle format (never loaded now), "
              "so the model is trained again.")  # fmt: skip
        return None
    try:  # cut short, overwritten, or not ours: "is damaged"
        if not raw.startswith(MAGIC):
            raise ValueError("not a model file of this kit")
        line, newline, payload = raw[len(MAGIC) :].partition(b"\n")
        header = json.loads(line) if newline else None
        if not isinstance(header, dict) or not {"fingerprint", "sha256"} <= header.keys():
            raise ValueError("no header")
        if header["fingerprint"] != expected:
            print(f"{path.name} was made by other data or code, so the model is trained again.")
            return None
        if hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise ValueError("its contents differ from their SHA-256")
        length = int.from_bytes(payload[:8], "little")  # safetensors: its JSON header's length
        metadata = json.loads(payload[8 : 8 + length]).get("__metadata__") or {}
        if TREE not in metadata:
            raise ValueError("no object tree in the file")
        return _Reader(load_arrays(payload)).decode(json.loads(metadata[TREE]))
    except Exception as error:
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
        except ValueError as error:  # e.g. a feature block of your own: only the kit's are kept
            print(f"{path.name} is not kept ({error}), so the model is trained again next time.")
    return model
