"""GraphSAGE's pieces: PyG's SAGEConv arithmetic, exact fold-in of new users, cold practice."""

import pandas as pd
import torch
from torch_geometric.nn import SAGEConv

from helpers.graph import IdMaps
from helpers.models.sage import Adjacency, GraphSAGE, MeanSAGEConv
from helpers.sage_serving import Graph
from helpers.train import Practice


def _edges(n_users=30, n_movies=40, n=200, seed=0):
    generator = torch.Generator().manual_seed(seed)
    pairs = torch.stack(
        [
            torch.randint(0, n_users, (n,), generator=generator),
            torch.randint(0, n_movies, (n,), generator=generator),
        ]
    )
    return torch.unique(pairs, dim=1)


def test_the_four_means_share_two_patterns_and_are_means():
    users, movies = _edges()[:, torch.randperm(_edges().shape[1], generator=torch.Generator())]
    adjacency = Adjacency.of(users, movies, 30, 40)
    to_user, to_movie = adjacency.to_user, adjacency.to_movie
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


def test_mean_sage_conv_is_pyg_sage_conv_forward_and_backward():
    users, movies = _edges()
    adjacency = Adjacency.of(users, movies, 30, 40)
    x_movies = torch.randn(40, 8, requires_grad=True)
    x_users = torch.randn(30, 8)
    pyg, ours = SAGEConv(8, 8), MeanSAGEConv(8, 8)
    ours.load_state_dict(pyg.state_dict())
    expected = pyg((x_movies, x_users), torch.stack([movies, users]))
    got = ours((x_movies, x_users), adjacency.to_user)
    assert torch.allclose(expected, got, atol=1e-6)
    grad_expected = torch.autograd.grad(expected.pow(2).sum(), x_movies)[0]
    grad_got = torch.autograd.grad(got.pow(2).sum(), x_movies)[0]
    assert torch.allclose(grad_expected, grad_got, atol=1e-5)


def test_users_with_the_same_movies_get_the_same_embedding():
    torch.manual_seed(0)
    model = GraphSAGE(num_movies=5, channels=4)
    users, movies = torch.tensor([0, 0, 1, 1, 2]), torch.tensor([1, 3, 1, 3, 4])
    z_users, _ = model(
        None, None, torch.ones(5, dtype=torch.bool), Adjacency.of(users, movies, 3, 5)
    )
    assert torch.allclose(z_users[0], z_users[1]) and not torch.allclose(z_users[0], z_users[2])


def test_fold_in_is_the_forward_pass_of_a_user_the_movies_never_heard():
    torch.manual_seed(0)
    users, movies = _edges()
    model = GraphSAGE(num_movies=40, channels=8).eval()
    known = torch.ones(40, dtype=torch.bool)
    with torch.no_grad():
        inputs = model.user_inputs(None, 31), model.movie_inputs(None, known)
        _, movie_layers = model.layers(
            inputs[0][:30], inputs[1], Adjacency.of(users, movies, 30, 40)
        )
        # user 30 joins with movies 3, 5 and 7: it hears them, they do not hear it
        new_movies = torch.tensor([3, 5, 7])
        everyone = Adjacency(
            Adjacency.of(users, movies, 31, 40).to_movie,
            Adjacency.of(
                torch.cat([users, torch.full((3,), 30)]), torch.cat([movies, new_movies]), 31, 40
            ).to_user,
        )
        user_layers, _ = model.layers(*inputs, everyone)
        expected = torch.stack(user_layers).mean(0)[30]
        folded = model.fold_in(
            movie_layers,
            None,
            Adjacency.of(torch.zeros(3, dtype=torch.long), new_movies, 1, 40).to_user,
        )
    assert torch.allclose(folded[0], expected, atol=1e-6)


def test_practice_hides_movies_and_cuts_users_to_their_first_ratings():
    torch.manual_seed(0)
    users = torch.repeat_interleave(torch.arange(4), 10)
    movies = torch.arange(40) % 20
    order = torch.arange(40) % 10  # each user's ratings in time order
    messages, asked, ids = Practice(movies=0.5, users=1.0, onboarding=3).draw(
        users, movies, order, 4, 20
    )
    hidden = ~ids
    assert hidden.any() and not messages[hidden[movies]].any()  # a hidden movie sends nothing
    assert (order[messages] < 3).all()  # a practising user keeps at most its first 3 ratings
    assert not (messages & asked).any()  # and is asked only for the others
    none = Practice()
    assert not none and Practice(users=0.1)


def test_a_graph_moved_to_the_device_it_is_on_is_the_same_graph():
    ratings = pd.DataFrame(
        {
            "userId": [1, 1, 2],
            "movieId": [10, 20, 10],
            "rating": [4.0, 3.0, 5.0],
            "timestamp": [1, 2, 3],
        }
    )
    graph = Graph.of(ratings, IdMaps.from_tables(ratings, ratings), (None, None))
    assert graph.to("cpu") is graph  # no copy, no rebuilt adjacency
    assert graph.to(torch.device("cpu")) is graph
