"""Turn a trained model into bytes and back without pickle (:mod:`helpers.checkpoint`, which
keeps the models of notebooks 02-08 in ``artifacts/``).

The model's object tree becomes JSON (numbers, strings, lists, dicts, and for each object its
class and attributes); its arrays and tensors go into one safetensors file whose metadata holds
that JSON, and its pandas tables into parquet bytes. Reading back runs no code from the file:
only the kit's own classes (``helpers.*``) and torch's and PyG's layers (``torch.nn.Module``
subclasses of ``torch.nn.modules.*``, ``torch_geometric.nn.*``) are rebuilt, by setting
attributes, never by calling anything the file names.
"""

from __future__ import annotations

import importlib
import io
import json
from collections import OrderedDict

import numpy as np
import pandas as pd
import scipy.sparse
import torch
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from torch_geometric.inspector import Inspector
from torch_geometric.nn import MessagePassing

TREE = "tree"  # the safetensors metadata key holding the object tree
# The modules whose classes may be rebuilt: the kit's own, and torch's and PyG's layers.
ALLOWED = ("helpers.", "torch.nn.modules.", "torch_geometric.nn.")


class StoreError(ValueError):
    """The bytes are not a model this module wrote, or name a class it may not rebuild."""


class _Writer:
    """Encodes one object tree, collecting its arrays."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, int] = {}
        self.alive: list = []  # keeps encoded objects alive, so their ids stay unique

    def array(self, values: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(values)
        return key

    def encode(self, value):
        if isinstance(value, np.generic):  # before float: np.float64 is one
            return {"$": "scalar", "value": value.item(), "dtype": value.dtype.str}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, list | tuple | set | frozenset):
            kind = type(value).__name__
            if type(value) not in (list, tuple, set, frozenset):
                raise StoreError(f"cannot store a {type(value).__qualname__}")
            return {"$": kind, "items": [self.encode(item) for item in value]}
        if type(value) in (dict, OrderedDict):
            items = [[self.encode(k), self.encode(v)] for k, v in value.items()]
            return {"$": type(value).__name__, "items": items}
        if id(value) in self.seen:
            return {"$": "ref", "id": self.seen[id(value)]}
        self.seen[id(value)] = number = len(self.seen)
        self.alive.append(value)
        return {"id": number} | self.encode_object(value)

    def encode_object(self, value) -> dict:
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "OUS":
                items = self.encode(value.tolist())
                return {"$": "ndarray-list", "dtype": value.dtype.str, "items": items}
            return {"$": "ndarray", "key": self.array(value)}
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
            return {
                "$": "parameter" if isinstance(value, torch.nn.Parameter) else "tensor",
                "key": self.array(tensor.numpy()),
                "grad": value.requires_grad,
                "device": str(value.device),
            }
        if isinstance(value, pd.DataFrame | pd.Series):
            return self.encode_table(value)
        if isinstance(value, Inspector):  # PyG's notes on a layer's methods: made again on load
            return {"$": "pyg-inspector"}
        if isinstance(value, scipy.sparse.csr_matrix):
            parts = [self.array(part) for part in (value.data, value.indices, value.indptr)]
            return {"$": "csr", "keys": parts, "shape": list(value.shape)}
        cls = type(value)
        path = f"{cls.__module__}:{cls.__qualname__}"
        if not cls.__module__.startswith(ALLOWED) or not hasattr(value, "__dict__"):
            raise StoreError(f"cannot store a {path}")
        state = value.__getstate__()  # what pickle would keep (GraphFilter drops a cache)
        return {"$": "object", "class": path, "state": self.encode(dict(state or {}))}

    def encode_table(self, table: pd.DataFrame | pd.Series) -> dict:
        series = isinstance(table, pd.Series)
        frame = table.to_frame("value") if series else table
        if not all(isinstance(column, str) for column in frame.columns):
            raise StoreError("cannot store a table whose column names are not strings")
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        raw = np.frombuffer(buffer.getvalue(), dtype=np.uint8)
        return {"$": "series" if series else "frame", "key": self.array(raw),
                "name": self.encode(table.name) if series else None}  # fmt: skip


class _Reader:
    """Decodes one object tree, with its arrays."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays, self.made = arrays, {}

    def decode(self, node):
        if not isinstance(node, dict):
            return node
        kind = node.get("$")
        if kind in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(item) for item in node["items"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind in ("dict", "OrderedDict"):
            pairs = [(self.decode(k), self.decode(v)) for k, v in node["items"]]
            return dict(pairs) if kind == "dict" else OrderedDict(pairs)
        if kind == "scalar":
            return np.dtype(node["dtype"]).type(node["value"])
        if kind == "ref":
            return self.made[node["id"]]
        if kind == "object":
            return self.decode_object(node)
        value = self.decode_data(node)
        self.made[node["id"]] = value
        return value

    def decode_data(self, node: dict):
        kind = node["$"]
        if kind == "ndarray":
            return self.arrays[node["key"]].copy()
        if kind == "ndarray-list":
            return np.array(self.decode(node["items"]), dtype=np.dtype(node["dtype"]))
        if kind in ("tensor", "parameter"):
            tensor = torch.from_numpy(self.arrays[node["key"]].copy())
            if node["device"] != "cpu" and torch.cuda.is_available():
                tensor = tensor.to(node["device"])
            if kind == "parameter":
                return torch.nn.Parameter(tensor, requires_grad=node["grad"])
            return tensor.requires_grad_(node["grad"])
        if kind in ("frame", "series"):
            frame = pd.read_parquet(io.BytesIO(self.arrays[node["key"]].tobytes()))
            return frame["value"].rename(self.decode(node["name"])) if kind == "series" else frame
        if kind == "pyg-inspector":
            return None  # rebuilt by _inspector when its layer is
        if kind == "csr":
            data, indices, indptr = (self.arrays[key].copy() for key in node["keys"])
            return scipy.sparse.csr_matrix((data, indices, indptr), shape=tuple(node["shape"]))
        raise StoreError(f"unknown entry {kind!r}")

    def decode_object(self, node: dict):
        module, _, name = node["class"].partition(":")
        if not module.startswith(ALLOWED):
            raise StoreError(f"refuses to rebuild a {node['class']}")
        cls = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        layer = isinstance(cls, type) and issubclass(cls, torch.nn.Module)
        if not isinstance(cls, type) or not (layer or module.startswith("helpers.")):
            raise StoreError(f"refuses to rebuild {node['class']}: not a kit class or layer")
        value = object.__new__(cls)
        self.made[node["id"]] = value
        state = self.decode(node["state"])
        if issubclass(cls, MessagePassing):
            state["inspector"] = _inspector(value)
        if layer:
            cls.__setstate__(value, state)  # torch's or PyG's own code
        else:
            vars(value).update(state)
        return value


def _inspector(layer: MessagePassing) -> Inspector:
    """The Inspector PyG's ``MessagePassing.__init__`` gives ``layer`` (same calls, same order)."""
    inspector = Inspector(type(layer))
    inspector.inspect_signature(layer.message)
    inspector.inspect_signature(layer.aggregate, exclude=[0, "aggr"])
    inspector.inspect_signature(layer.message_and_aggregate, [0])
    inspector.inspect_signature(layer.update, exclude=[0])
    inspector.inspect_signature(layer.edge_update)
    return inspector


def dumps(value) -> bytes:
    """The object tree of ``value`` as safetensors bytes; StoreError names what cannot be kept."""
    writer = _Writer()
    tree = writer.encode(value)
    return save_arrays(writer.arrays, metadata={TREE: json.dumps(tree)})


def loads(raw: bytes):
    """The object tree that :func:`dumps` wrote, rebuilt without running code from ``raw``."""
    arrays = load_arrays(raw)
    header_length = int.from_bytes(raw[:8], "little")
    metadata = json.loads(raw[8 : 8 + header_length]).get("__metadata__") or {}
    if TREE not in metadata:
        raise StoreError("no object tree in the file")
    return _Reader(arrays).decode(json.loads(metadata[TREE]))
