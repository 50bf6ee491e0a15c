"""Id maps round-trip, the graph's node i is the movie the maps say it is, and the graph carries
what every GNN reads: mean adjacency both ways, each rating's rank in time, the rated movies."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import graph

RATINGS = pd.DataFrame(
    {
        "userId": [7, 7, 3, 9],
        "movieId": [50, 10, 10, 30],
        "rating": [4.0, 3.0, 5.0, 1.0],
        "timestamp": [20, 10, 5, 5],
    }
)
MOVIES = pd.DataFrame({"movieId": [30, 10, 50, 99], "title": ["C", "A", "E", "Z"]})


def test_id_map_round_trip():
    ids = graph.IdMap.from_ids(np.array([193609, 1, 50, 1]))
    assert ids.ids.tolist() == [1, 50, 193609]
    assert ids.raw(ids.index([50, 193609, 1])).tolist() == [50, 193609, 1]
    assert ids.index([2], strict=False).tolist() == [-1]
    with pytest.raises(KeyError, match=r"\[2\]"):
        ids.index([2])


def test_movie_nodes_follow_the_maps_not_file_order():
    maps = graph.IdMaps.from_tables(RATINGS, MOVIES)
    data = graph.build_graph(RATINGS, maps)
    users, movies = data["user", "rates", "movie"].edge_index
    for (user, movie), row in zip(
        zip(users, movies, strict=True), RATINGS.itertuples(), strict=True
    ):
        assert maps.users.raw([user])[0] == row.userId
        assert maps.movies.raw([movie])[0] == row.movieId
    titles = MOVIES.set_index("movieId").loc[maps.movies.ids, "title"].tolist()
    assert titles == ["A", "C", "E", "Z"]  # node i <-> the i-th smallest movieId
    assert data["movie"].num_nodes == 4  # movie 99 has no rating but is a node


def test_edges_go_both_ways():
    maps = graph.IdMaps.from_tables(RATINGS, MOVIES)
    data = graph.build_graph(RATINGS, maps)
    users, movies = data["user", "rates", "movie"].edge_index
    to_user = data["movie", "rev_rates", "user"].adj_t.matrix.to_dense()  # users x movies
    heard = torch.zeros_like(to_user, dtype=torch.bool)
    heard[users, movies] = True
    assert torch.equal(to_user != 0, heard)  # each user hears exactly the movies it rated
    assert "edge_index" not in data["movie", "rev_rates", "user"]  # its adjacency carries it
    one_way = graph.build_graph(RATINGS, maps, undirected=False)
    assert ("movie", "rev_rates", "user") not in one_way.edge_types


def test_features_land_on_their_nodes():
    maps = graph.IdMaps.from_tables(RATINGS, MOVIES)
    movie_x = torch.tensor(maps.movies.ids, dtype=torch.float32)[:, None]
    data = graph.build_graph(RATINGS, maps, movie_x=movie_x)
    node = maps.movies.index([50])[0]
    assert data["movie"].x[node, 0].item() == 50


def test_the_graph_carries_its_adjacency_time_order_and_rated_movies():
    maps = graph.IdMaps.from_tables(RATINGS, MOVIES)
    data = graph.build_graph(RATINGS, maps)
    # user 7 rated movie 10 (t=10) before movie 50 (t=20); users 3 and 9 rated once
    assert data[graph.RATES].order.tolist() == [1, 0, 0, 0]
    assert data["movie"].rated.tolist() == [True, True, True, False]  # 10, 30, 50; not 99
    users, movies = data[graph.RATES].edge_index
    rated = torch.zeros(3, 4)
    rated[users, movies] = 1.0
    to_movie, to_user = data[graph.RATES].adj_t, data[graph.RATED_BY].adj_t
    by_user = rated / rated.sum(1, keepdim=True).clamp(min=1)
    by_movie = rated / rated.sum(0).clamp(min=1)
    assert torch.allclose(to_user.matrix.to_dense(), by_user)  # a user hears its movies' mean
    assert torch.allclose(to_movie.matrix.to_dense(), by_movie.T)  # a movie, its raters' mean
    assert data[graph.RATES].patterns.size == (3, 4)
