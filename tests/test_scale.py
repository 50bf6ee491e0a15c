"""The scale path: sparse message passing equals the edge_index path, chunked loss equals
full-batch loss, and a small synthetic data set trains end to end through it."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import graph, models, scale, synthetic, train
from helpers.data import load_movies, load_ratings
from helpers.split import protocol_split, validation_split


@pytest.fixture(scope="module")
def tiny() -> tuple[graph.IdMaps, pd.DataFrame]:
    """A random graph with unrated movies and a user who rated a single movie."""
    rng = np.random.default_rng(0)
    ratings = pd.DataFrame(
        {"userId": rng.integers(1, 30, 200), "movieId": rng.integers(1, 40, 200)}
    )
    ratings = ratings.drop_duplicates().reset_index(drop=True)
    ratings["rating"] = rng.integers(1, 11, len(ratings)) / 2
    ratings.loc[len(ratings)] = [99, 3, 4.0]
    maps = graph.IdMaps.from_tables(ratings, pd.DataFrame({"movieId": np.arange(1, 50)}))
    return maps, ratings


def _model(data, seed: int = 0) -> models.RatingGNN:
    torch.manual_seed(seed)
    model = models.RatingGNN(data, hidden=8, out=4, dropout=0.0)
    with torch.no_grad():
        model.embed(data)  # size the lazy SAGEConv weights
    return model


def test_sparse_adjacency_is_the_transposed_graph(tiny):
    maps, ratings = tiny
    data = graph.build_graph(ratings, maps)
    adjacency = graph.to_sparse_adjacency(data)
    for edge_type, adj_t in adjacency.items():
        src, _, dst = edge_type
        dense = torch.zeros(data[dst].num_nodes, data[src].num_nodes)
        source, target = data[edge_type].edge_index
        dense[target, source] = 1.0
        assert adj_t.layout == torch.sparse_csr
        assert torch.equal(adj_t.to_dense(), dense)
        mean, mean_t = adj_t.mean_pair
        expected = dense / dense.sum(1, keepdim=True).clamp(min=1)
        assert torch.allclose(mean.to_dense(), expected)
        assert torch.allclose(mean_t.to_dense(), expected.T)


@pytest.mark.parametrize("fast", [False, True], ids=["csr-spmm", "cached-transpose"])
def test_sparse_message_passing_matches_edge_index(tiny, fast, monkeypatch):
    maps, ratings = tiny
    dense_graph = graph.build_graph(ratings, maps)
    reference = _model(dense_graph)
    sparse_model = copy.deepcopy(reference)
    sparse_graph = copy.copy(dense_graph)
    if fast:
        calls = []
        original = scale.sparse_mean
        monkeypatch.setattr(scale, "sparse_mean", lambda *a: calls.append(1) or original(*a))
        scale.use_sparse_adjacency(sparse_model, sparse_graph)
    else:
        sparse_graph.adj_t_dict = graph.to_sparse_adjacency(sparse_graph)
    assert sparse_graph.get("adj_t_dict") is not None and dense_graph.get("adj_t_dict") is None

    expected, got = reference.embed(dense_graph), sparse_model.embed(sparse_graph)
    for kind in expected:
        torch.testing.assert_close(got[kind], expected[kind], atol=1e-5, rtol=1e-4)
    (expected["user"].square().sum() + expected["movie"].sum()).backward()
    (got["user"].square().sum() + got["movie"].sum()).backward()
    for (name, want), have in zip(
        reference.named_parameters(), sparse_model.parameters(), strict=True
    ):
        if want.grad is not None:
            torch.testing.assert_close(have.grad, want.grad, atol=1e-5, rtol=1e-4, msg=name)
    if fast:
        assert len(calls) == 4  # 2 layers x 2 edge types took the cached-transpose path


def test_chunked_loss_gradient_equals_full_batch(tiny):
    maps, ratings = tiny
    data = graph.build_graph(ratings, maps)
    labels = train.Labels.from_ratings(ratings, maps)
    chunked, full = _model(data), _model(data)
    chunked.train(), full.train()

    loss = train.chunked_mse_step(chunked, data, labels, chunk_size=7)
    predicted = full(data, torch.stack([labels.users, labels.movies]))
    full_loss = ((predicted - labels.ratings) ** 2).mean()
    full_loss.backward()

    assert loss == pytest.approx(full_loss.item(), rel=1e-5)
    for (name, want), have in zip(full.named_parameters(), chunked.parameters(), strict=True):
        torch.testing.assert_close(have.grad, want.grad, atol=1e-6, rtol=1e-4, msg=name)


def test_use_sparse_adjacency_rebuilds_a_moved_adjacency(tiny):
    maps, ratings = tiny
    data = graph.build_graph(ratings, maps)
    data.adj_t_dict = {
        key: value.detach().clone() for key, value in graph.to_sparse_adjacency(data).items()
    }
    scale.use_sparse_adjacency(_model(data), data)  # clones lack the cached transposes
    assert all(hasattr(adj_t, "mean_pair") for adj_t in data.adj_t_dict.values())


def test_memory_probe_sees_a_large_allocation():
    with scale.MemoryProbe("allocate") as probe:
        block = np.ones(64 * 1024**2 // 8)  # 64 MiB, touched
    assert probe.seconds >= 0
    assert probe.peak_bytes >= scale.rss_bytes() - 1024**2
    assert probe.peak_bytes >= block.nbytes


def test_scale_path_trains_on_synthetic_data(tmp_path, monkeypatch):
    folder = synthetic.generate(tmp_path / "synthetic", 20_000, seed=1, progress=False)
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MOVIELENS_DATASET", str(folder))
    train_part = protocol_split(load_ratings()).train
    fit_part, valid_part = validation_split(train_part)
    maps = graph.IdMaps.from_tables(train_part, load_movies())
    data = graph.build_graph(fit_part, maps)
    model = models.RatingGNN(data, hidden=16, out=8, mean_rating=float(fit_part["rating"].mean()))
    scale.use_sparse_adjacency(model, data)
    with torch.no_grad():
        model.embed(data)
    history = train.fit(
        model, data, train.Labels.from_ratings(fit_part, maps),
        train.Labels.from_ratings(valid_part, maps), epochs=3, chunk_size=4096, progress=False,
    )  # fmt: skip
    assert len(history.valid_rmse) == 3 and np.isfinite(history.valid_rmse).all()
    assert history.train_loss[-1] < history.train_loss[0]
    scores = model.score_all(model.embed(data), torch.arange(5), torch.arange(len(maps.movies)))
    assert scores.shape == (5, len(maps.movies)) and torch.isfinite(scores).all()


def test_neighbourhood_model_sparse_path_matches_edge_index(tiny):
    maps, ratings = tiny
    dense_graph = graph.build_graph(ratings, maps)
    torch.manual_seed(0)
    model = models.NeighbourhoodRatingGNN(dense_graph, channels=8)
    sparse_graph = graph.build_graph(ratings, maps)
    scale.use_sparse_adjacency(model, sparse_graph)
    outputs, gradients = [], []
    for data in (dense_graph, sparse_graph):
        model.zero_grad()
        z = model.embed(data)
        sum((value**2).sum() for value in z.values()).backward()
        outputs.append(z)
        gradients.append([table.weight.grad.clone() for table in model.message.values()])
    for kind in ("user", "movie"):
        assert torch.allclose(outputs[0][kind], outputs[1][kind], atol=1e-6)
    for dense, sparse in zip(*gradients, strict=True):
        assert torch.allclose(dense, sparse, atol=1e-5)


def test_epoch_budget(monkeypatch):
    monkeypatch.delenv(scale.EPOCHS_ENV, raising=False)
    assert scale.max_epochs(100_000, 300) == 300
    assert scale.max_epochs(20_000_000, 300) == scale.LARGE_EPOCHS
    assert scale.max_epochs(20_000_000, 5) == 5
    monkeypatch.setenv(scale.EPOCHS_ENV, "40")
    assert scale.max_epochs(20_000_000, 300) == 40
    assert scale.max_epochs(100_000, 300) == 40
    monkeypatch.setenv(scale.EPOCHS_ENV, "many")
    with pytest.raises(ValueError, match="whole number"):
        scale.max_epochs(100, 300)


def test_fit_respects_the_epoch_budget(tiny, monkeypatch):
    maps, ratings = tiny
    data = graph.build_graph(ratings, maps)
    labels = train.Labels.from_ratings(ratings, maps)
    monkeypatch.setenv(scale.EPOCHS_ENV, "2")
    history = train.fit(_model(data), data, labels, labels, epochs=50, progress=False)
    assert len(history.train_loss) == 2
