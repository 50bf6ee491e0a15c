"""``benchmarks/sage_conv.py`` compares equal computations: at a tiny size, the kit's
``MeanSAGEConv`` step and PyG's ``SAGEConv`` steps (sparse CSR ``adj_t``, ``edge_index``) give the
same embeddings and the same gradients on the inputs and the weights."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import sage_conv  # noqa: E402

USERS, MOVIES, EDGES = 2_000, 500, 20_000


@pytest.fixture(scope="module")
def edges():
    return sage_conv.synthetic_edges(USERS, MOVIES, EDGES, seed=0)


def test_synthetic_edges_are_distinct_pairs(edges):
    users, movies = edges
    assert len(users) == len(movies) == EDGES
    assert len(torch.unique(users * MOVIES + movies)) == EDGES
    assert 0 <= users.min() and users.max() < USERS and 0 <= movies.min() and movies.max() < MOVIES
    popularity = torch.bincount(movies, minlength=MOVIES).float()
    assert popularity.max() > 5 * popularity.median()  # skewed


def run(path, edges):
    model = sage_conv.models()[path]
    users, movies = sage_conv.inputs(USERS, MOVIES)
    to_movie, to_user = sage_conv.graph(path, *edges, USERS, MOVIES)
    out = sage_conv.step(model, users, movies, to_movie, to_user)
    weights = {name: p.grad for name, p in model.named_parameters()}
    return out, (users.grad, movies.grad), weights


@pytest.mark.parametrize("path", ["pyg-csr", "pyg-edge_index"])
def test_pyg_computes_the_kits_step(path, edges):
    (kit_out, kit_inputs, kit_weights) = run("kit", edges)
    (out, inputs, weights) = run(path, edges)
    for a, b in zip(kit_out + kit_inputs, out + inputs, strict=True):
        assert a.abs().max() > 0
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
    assert weights.keys() == kit_weights.keys()
    for name, grad in kit_weights.items():
        torch.testing.assert_close(weights[name], grad, atol=1e-4, rtol=1e-4, msg=name)
