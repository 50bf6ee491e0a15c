"""GraphSAGE's pieces: PyG's SAGEConv arithmetic, exact fold-in of new users, cold practice."""

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData
from torch_geometric.nn import SAGEConv

from helpers.graph import (
    RATED_BY,
    RATES,
    IdMap,
    IdMaps,
    MeanSAGEConv,
    Patterns,
    Practice,
    build_graph,
    mean_adjacency,
)
from helpers.models.graphsage import GraphSAGE


def _edges(n_users=30, n_movies=40, n=200, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pairs = torch.stack(
        [
            torch.randint(0, n_users, (n,), generator=generator),
            torch.randint(0, n_movies, (n,), generator=generator),
        ]
    )
    return torch.unique(pairs, dim=1)


def _graph(users, movies, n_users, n_movies, order=None) -> HeteroData:
    """``build_graph`` of the edges (node i is raw id i), every movie known."""
    ratings = pd.DataFrame(
        {
            "userId": users.numpy(),
            "movieId": movies.numpy(),
            "rating": 4.0,
            "timestamp": order.numpy() if order is not None else 0,
        }
    )
    maps = IdMaps(IdMap(np.arange(n_users)), IdMap(np.arange(n_movies)))
    graph = build_graph(ratings, maps)
    graph["movie"].known = torch.ones(n_movies, dtype=torch.bool)
    return graph


def _adjacency_graph(to_movie, to_user, n_users, n_movies) -> HeteroData:
    """A graph given by its two adjacencies alone (what ``GraphSAGE.rounds`` reads)."""
    graph = HeteroData()
    graph["user"].num_nodes, graph["movie"].num_nodes = n_users, n_movies
    graph["movie"].known = torch.ones(n_movies, dtype=torch.bool)
    graph[RATES].adj_t, graph[RATED_BY].adj_t = to_movie, to_user
    return graph


def test_the_four_means_share_two_patterns_and_are_means():
    users, movies = _edges()[:, torch.randperm(_edges().shape[1], generator=torch.Generator())]
    to_movie, to_user = mean_adjacency(Patterns.of(users, movies, 30, 40))
    for one, other in ((to_user.matrix, to_movie.transpose), (to_movie.matrix, to_user.transpose)):
        assert one.col_indices().data_ptr() == other.col_indices().data_ptr()  # no copies
    rated = torch.zeros(30, 40)
    rated[users, movies] = 1.0
    by_user, by_movie = (
        rated / rated.sum(1, keepdim=True).clamp(min=1),
        rated / rated.sum(0).clamp(min=1),
    )
    assert torch.allclose(to_user.matrix.to_dense(), by_user)
    assert torch.allclose(to_user.transpose.to_dense(), by_user.T)
    assert torch.allclose(to_movie.matrix.to_dense(), by_movie.T)
    assert torch.allclose(to_movie.transpose.to_dense(), by_movie)


def test_sums_over_sqrt_degree_for_the_neighbourhood_gnn():
    users, movies = _edges()
    to_movie, to_user = mean_adjacency(Patterns.of(users, movies, 30, 40), power=0.5)
    rated = torch.zeros(30, 40)
    rated[users, movies] = 1.0
    assert torch.allclose(to_user.matrix.to_dense(), rated / rated.sum(1, keepdim=True).sqrt())
    assert torch.allclose(to_movie.matrix.to_dense(), (rated / rated.sum(0).clamp(min=1).sqrt()).T)


def test_mean_sage_conv_is_pyg_sage_conv_forward_and_backward():
    users, movies = _edges()
    _, to_user = mean_adjacency(Patterns.of(users, movies, 30, 40))
    x_movies = torch.randn(40, 8, requires_grad=True)
    x_users = torch.randn(30, 8)
    pyg, ours = SAGEConv(8, 8), MeanSAGEConv(8, 8)
    ours.load_state_dict(pyg.state_dict())
    expected = pyg((x_movies, x_users), torch.stack([movies, users]))
    got = ours((x_movies, x_users), to_user)
    assert torch.allclose(expected, got, atol=1e-6)
    grad_expected = torch.autograd.grad(expected.pow(2).sum(), x_movies)[0]
    grad_got = torch.autograd.grad(got.pow(2).sum(), x_movies)[0]
    assert torch.allclose(grad_expected, grad_got, atol=1e-5)


def test_users_with_the_same_movies_get_the_same_embedding():
    torch.manual_seed(0)
    model = GraphSAGE(num_movies=5, channels=4)
    users, movies = torch.tensor([0, 0, 1, 1, 2]), torch.tensor([1, 3, 1, 3, 4])
    z_users, _ = model(_graph(users, movies, 3, 5))
    assert torch.allclose(z_users[0], z_users[1]) and not torch.allclose(z_users[0], z_users[2])


def test_fold_in_is_the_forward_pass_of_a_user_the_movies_never_heard():
    torch.manual_seed(0)
    users, movies = _edges()
    model = GraphSAGE(num_movies=40, channels=8).eval()
    with torch.no_grad():
        _, movie_rounds = model.rounds(_graph(users, movies, 30, 40))
        # user 30 joins with movies 3, 5 and 7: it hears them, they do not hear it
        new_movies = torch.tensor([3, 5, 7])
        to_movie = mean_adjacency(Patterns.of(users, movies, 31, 40))[0]
        joined = Patterns.of(
            torch.cat([users, torch.full((3,), 30)]), torch.cat([movies, new_movies]), 31, 40
        )
        everyone = _adjacency_graph(to_movie, mean_adjacency(joined)[1], 31, 40)
        user_rounds, _ = model.rounds(everyone)
        expected = torch.stack(user_rounds).mean(0)[30]
        alone = Patterns.of(torch.zeros(3, dtype=torch.long), new_movies, 1, 40)
        folded = model.fold_in(movie_rounds, None, mean_adjacency(alone)[1])
    assert torch.allclose(folded[0], expected, atol=1e-6)


def test_practice_hides_movies_and_cuts_users_to_their_first_ratings():
    torch.manual_seed(0)
    users = torch.repeat_interleave(torch.arange(4), 10)
    movies = torch.arange(40) % 20
    order = torch.arange(40) % 10  # each user's ratings in time order
    graph = _graph(users, movies, 4, 20, order)
    assert torch.equal(graph[RATES].order, order)
    adjacency = graph[RATES].adj_t, graph[RATED_BY].adj_t
    practised = Practice(movies=0.5, users=1.0, onboarding=3).draw(graph)
    edges = practised[RATES]
    hidden, asked = practised["movie"].hidden, edges.asked
    # the edges that still carry messages, both ways
    heard_by_users = practised[RATED_BY].adj_t.matrix.to_dense()[users, movies] != 0
    heard_by_movies = practised[RATES].adj_t.matrix.to_dense()[movies, users] != 0
    assert torch.equal(heard_by_users, heard_by_movies)
    messages = heard_by_users
    assert hidden.any() and not messages[hidden[movies]].any()  # a hidden movie sends nothing
    assert messages.any()
    assert (order[messages] < 3).all()  # a practising user keeps at most its first 3 ratings
    assert not (messages & asked).any()  # and is asked only for the others
    assert torch.equal(practised["movie"].known, ~hidden)  # a hidden movie has no id
    # the graph it was drawn from is left as it was
    assert "asked" not in graph[RATES] and "hidden" not in graph["movie"]
    assert graph["movie"].known.all()
    assert graph[RATES].adj_t.matrix is adjacency[0].matrix
    assert graph[RATED_BY].adj_t.matrix is adjacency[1].matrix
    assert Practice().draw(graph) is graph  # no practice: the graph itself
    assert Practice(users=0.1).draw(graph) is not graph


def test_a_graph_moved_to_the_device_it_is_on_is_the_same_graph():
    ratings = pd.DataFrame(
        {
            "userId": [1, 1, 2],
            "movieId": [10, 20, 10],
            "rating": [4.0, 3.0, 5.0],
            "timestamp": [1, 2, 3],
        }
    )
    graph = build_graph(ratings, IdMaps.from_tables(ratings, ratings))
    adjacency = graph[RATES].adj_t
    assert graph.to("cpu") is graph  # no copy, no rebuilt adjacency
    assert graph.to(torch.device("cpu")) is graph
    assert graph[RATES].adj_t.matrix is adjacency.matrix
    assert graph[RATES].adj_t.transpose is adjacency.transpose
