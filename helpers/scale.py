"""Full-graph training at MovieLens-25M scale without pyg-lib or torch-sparse.

Three pieces, each usable alone:

* :func:`use_sparse_adjacency` stores :func:`helpers.graph.to_sparse_adjacency` on the graph
  and switches the model's SAGEConv layers to :class:`SparseSAGEConv`, whose mean aggregation
  is one CSR product forward and one CSR product backward (the transpose is built once, not
  re-sorted by autograd every step: ~8x faster backward on CPU). The same code runs on a GPU.
* ``helpers.train.fit(..., chunk_size=...)`` already decodes supervision edges in chunks, so
  the labels never cost more than ``chunk_size`` x channels of activations at once.
* :func:`peak_rss` / :class:`MemoryProbe` measure a stage's peak resident memory (Linux).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import SAGEConv

from helpers.graph import to_sparse_adjacency

GIB = 1024**3
EPOCHS_ENV = "MOVIELENS_MAX_EPOCHS"
LARGE = 2_000_000  # supervision ratings from which one full-graph epoch costs tens of seconds
LARGE_EPOCHS = 10  # on a CPU: about 6 minutes per model at 25M ratings (benchmarks/README.md)


def max_epochs(n_ratings: int, epochs: int) -> int:
    """The number of epochs to train on ``n_ratings`` supervision ratings.

    ``MOVIELENS_MAX_EPOCHS`` caps ``epochs`` when set (raise it on a GPU); otherwise millions of
    ratings get :data:`LARGE_EPOCHS`, so each notebook still finishes in minutes on a laptop.
    The notebooks print where the budget stopped training.
    """
    value = os.environ.get(EPOCHS_ENV, "").strip()
    if value:
        if not value.isdigit():
            raise ValueError(f"{EPOCHS_ENV}={value!r} must be a whole number of epochs.")
        return min(epochs, int(value))
    return min(epochs, LARGE_EPOCHS) if n_ratings >= LARGE else epochs


class _SparseMean(torch.autograd.Function):
    """``mean @ x`` with a precomputed ``mean_t`` for the backward pass (gradient to ``x`` only)."""

    @staticmethod
    def forward(ctx, x: Tensor, mean: Tensor, mean_t: Tensor) -> Tensor:
        ctx.mean_t = mean_t
        return torch.sparse.mm(mean, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        return torch.sparse.mm(ctx.mean_t, grad.contiguous()), None, None


def sparse_mean(adj_t: Tensor, x: Tensor) -> Tensor:
    """Mean over each destination's neighbours of the rows of ``x`` (``adj_t`` from the graph)."""
    mean, mean_t = adj_t.mean_pair
    return _SparseMean.apply(x, mean, mean_t)


def in_degree(adj_t: Tensor) -> Tensor:
    """Number of neighbours of each destination node of a CSR ``adj_t``."""
    return adj_t.crow_indices().diff()


class SparseSAGEConv(SAGEConv):
    """SAGEConv whose mean aggregation uses the cached transposed adjacency when there is one."""

    def message_and_aggregate(self, adj_t, x):
        if self.aggr == "mean" and hasattr(adj_t, "mean_pair"):
            return sparse_mean(adj_t, x[0])
        return super().message_and_aggregate(adj_t, x)


def use_sparse_adjacency(model: nn.Module, data: HeteroData) -> HeteroData:
    """Give ``data`` its CSR ``adj_t_dict`` and switch the model's SAGEConvs to the sparse path.

    Call it after moving model and graph to their device (the adjacency is built there, or
    reused when ``data.adj_t_dict`` already holds it). Weights and ``state_dict`` are
    unchanged: only the aggregation routine is swapped.
    """
    adjacency = data.get("adj_t_dict")
    edge_device = next(iter(data.edge_index_dict.values())).device
    if not adjacency or any(
        not hasattr(adj_t, "mean_pair") or adj_t.device != edge_device
        for adj_t in adjacency.values()
    ):  # missing, or moved by ``data.to(device)`` (which drops the cached transposes)
        data.adj_t_dict = to_sparse_adjacency(data)
    for module in model.modules():
        if type(module) is SAGEConv:
            module.__class__ = SparseSAGEConv
    return data


# --------------------------------------------------------------------------- memory


def rss_bytes(field: str = "VmRSS") -> int:
    """Current (``VmRSS``) or peak (``VmHWM``) resident memory of this process, in bytes."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # macOS/BSD fallback


def peak_rss() -> int:
    """Peak resident memory since the process started or the last :func:`reset_peak_rss`."""
    return rss_bytes("VmHWM")


def reset_peak_rss() -> bool:
    """Restart the peak-memory counter at the current size (Linux); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Measurement:
    """Wall time and peak resident memory of one stage."""

    stage: str
    seconds: float = 0.0
    peak_bytes: int = 0
    cuda_peak_bytes: int = 0

    @property
    def peak_gib(self) -> float:
        return self.peak_bytes / GIB


class MemoryProbe:
    """``with MemoryProbe("train") as m: ...`` records wall time and the stage's peak RSS.

    The peak includes everything resident when the stage starts (data, graph, model), which is
    what a machine must hold to run it. On a GPU the CUDA peak is recorded too.
    """

    def __init__(self, stage: str):
        self.result = Measurement(stage)

    def __enter__(self) -> Measurement:
        reset_peak_rss()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._start = time.perf_counter()
        return self.result

    def __exit__(self, *exc) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            self.result.cuda_peak_bytes = torch.cuda.max_memory_allocated()
        self.result.seconds = time.perf_counter() - self._start
        self.result.peak_bytes = peak_rss()
