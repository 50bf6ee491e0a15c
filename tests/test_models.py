"""The rating GNNs: messages must reach users, shapes must hold, and training must learn."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import Data

from helpers import graph, models, train


def tiny_ratings(n_users: int = 12, n_movies: int = 20, per_user: int = 6, seed: int = 0):
    """A small random ratings table in MovieLens layout (no data files needed)."""
    rng = np.random.default_rng(seed)
    rows = [
        (user, movie, float(rng.integers(1, 11)) / 2)
        for user in range(1, n_users + 1)
        for movie in rng.choice(np.arange(100, 100 + n_movies), per_user, replace=False)
    ]
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating"])


def tiny_graph(ratings: pd.DataFrame, undirected: bool = True, features: bool = False):
    """The kit's graph of ``ratings``; with ``features``, constant user and random movie inputs."""
    movies = pd.DataFrame({"movieId": np.sort(ratings["movieId"].unique())})
    maps = graph.IdMaps.from_tables(ratings, movies)
    generator = torch.Generator().manual_seed(0)
    inputs = {
        "user_features": torch.ones(len(maps.users), 1),
        "movie_features": torch.rand(len(maps.movies), 3, generator=generator),
    }
    data = graph.build_graph(ratings, maps, undirected=undirected, **(inputs if features else {}))
    return data, maps


def distinct_rows(x: torch.Tensor) -> int:
    return len(torch.unique(x.detach().round(decimals=5), dim=0))


def test_one_way_edges_give_every_user_the_same_embedding():
    """The student notebook's graph: users -> movies only, the same input vector for every user."""
    ratings = tiny_ratings()
    _, maps = tiny_graph(ratings)
    n_users = len(maps.users)
    edges = graph.rating_edges(ratings, maps) + torch.tensor([[0], [n_users]])
    movie_x = torch.rand(len(maps.movies), 3, generator=torch.Generator().manual_seed(0))
    x = torch.cat([torch.ones(n_users, 3), movie_x])
    torch.manual_seed(0)
    sage = models.GraphSAGE(8, 4).eval()
    one_way = sage(x, edges)[:n_users]
    both_ways = sage(x, torch.cat([edges, edges.flip(0)], dim=1))[:n_users]
    assert distinct_rows(one_way) == 1
    assert distinct_rows(both_ways) > 1


def test_kit_graph_sends_messages_to_users():
    """build_graph's reverse edges make users with different movies differ, with equal inputs."""
    data, _ = tiny_graph(tiny_ratings(), features=True)
    assert graph.RATED_BY in data.edge_types
    torch.manual_seed(0)
    model = models.RatingGNN(data, hidden=8, out=4, use_ids=False).eval()
    assert distinct_rows(model.embed(data)["user"]) > 1


@pytest.mark.parametrize("undirected", [True, False])
def test_neighbourhood_model_shapes(undirected):
    data, maps = tiny_graph(tiny_ratings(), undirected=undirected)
    model = models.NeighbourhoodRatingGNN(data, channels=8, mean_rating=3.0)
    z = model.embed(data)
    assert z["user"].shape == (len(maps.users), 8)
    assert z["movie"].shape == (len(maps.movies), 8)
    users, movies = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 5])
    assert model.decode(z, users, movies).shape == (3,)
    assert model.score_all(z, users, movies[:2]).shape == (3, 2)


def test_neighbourhood_model_users_hear_their_movies():
    """A user's vector changes when a movie it rated changes its message: messages reach users."""
    data, _ = tiny_graph(tiny_ratings())
    model = models.NeighbourhoodRatingGNN(data, channels=8)
    before = model.embed(data)["user"].detach().clone()
    with torch.no_grad():
        model.message["movie"].weight.add_(1.0)
    assert not torch.allclose(model.embed(data)["user"], before)


def test_neighbourhood_model_learns():
    ratings = tiny_ratings(n_users=30, n_movies=40, per_user=15)
    data, maps = tiny_graph(ratings)
    labels = train.Labels.from_ratings(ratings, maps)
    torch.manual_seed(0)
    model = models.NeighbourhoodRatingGNN(data, channels=8, mean_rating=3.0)
    history = train.fit(
        model, data, labels, labels, epochs=60, lr=0.03, patience=60, progress=False
    )
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]


def test_homogeneous_sanity():
    """GraphSAGE stays a plain homogeneous module (to_hetero is applied by the rating models)."""
    data = Data(x=torch.ones(3, 1), edge_index=torch.tensor([[0, 1], [1, 2]]))
    assert models.GraphSAGE(4, 2)(data.x, data.edge_index).shape == (3, 2)
