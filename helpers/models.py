"""Rating models for the user-movie graph, built from PyG blocks.

``RatingGNN`` is notebook 02's GraphSAGE with biases; ``NeighbourhoodRatingGNN`` is the kit's
best rating GNN (one round of degree-scaled messages both ways, weight decay). The ranking
GNNs live in :mod:`helpers.ranking`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import SAGEConv, SimpleConv, to_hetero
from torch_geometric.utils import degree

from helpers.scale import in_degree, sparse_mean


class GraphSAGE(nn.Module):
    """Two SAGEConv layers; ``to_hetero`` turns it into one set of weights per edge type."""

    def __init__(self, hidden: int, out: int, dropout: float = 0.0):
        super().__init__()
        self.conv1 = SAGEConv((-1, -1), hidden)
        self.conv2 = SAGEConv((-1, -1), out)
        self.dropout = nn.Dropout(dropout)  # a module, so to_hetero traces the training flag

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        x = self.conv1(x, edge_index).relu()
        x = self.dropout(x)
        return self.conv2(x, edge_index)


class NodeInput(nn.Module):
    """A node type's input vector: a learnable id embedding, plus a projection of its features."""

    def __init__(self, num_nodes: int, channels: int, num_features: int = 0, use_ids: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(num_nodes, channels) if use_ids else None
        self.project = nn.Linear(num_features, channels) if num_features else None
        if self.embedding is None and self.project is None:
            raise ValueError("A node type needs id embeddings, features, or both.")

    def forward(self, node_id: Tensor, x: Tensor | None) -> Tensor:
        parts = []
        if self.embedding is not None:
            parts.append(self.embedding(node_id))
        if self.project is not None:
            parts.append(self.project(x))
        return torch.stack(parts).sum(0)


def add_rating_biases(model: nn.Module, data: HeteroData, mean_rating: float) -> None:
    """Give a rating model the global mean and a zero-initialised bias per user and movie."""
    model.user_bias = nn.Embedding(data["user"].num_nodes, 1)
    model.movie_bias = nn.Embedding(data["movie"].num_nodes, 1)
    nn.init.zeros_(model.user_bias.weight)
    nn.init.zeros_(model.movie_bias.weight)
    model.register_buffer("mean_rating", torch.tensor(float(mean_rating)))


class RatingGNN(nn.Module):
    """Predicts stars: mean + user bias + movie bias + <user embedding, movie embedding>.

    The biases carry what a rating owes to a generous user or a beloved movie, so the GraphSAGE
    embeddings only have to learn the user-movie fit; that is what makes it beat a bias model.
    """

    def __init__(
        self,
        data: HeteroData,
        hidden: int = 64,
        out: int = 32,
        dropout: float = 0.2,
        mean_rating: float = 3.5,
        use_ids: bool = True,
    ):
        super().__init__()
        self.inputs = nn.ModuleDict(
            {
                kind: NodeInput(
                    data[kind].num_nodes,
                    hidden,
                    data[kind].x.size(1) if "x" in data[kind] else 0,
                    use_ids,
                )
                for kind in ("user", "movie")
            }
        )
        self.encoder = to_hetero(GraphSAGE(hidden, out, dropout), data.metadata(), aggr="sum")
        add_rating_biases(self, data, mean_rating)

    def embed(self, data: HeteroData) -> dict[str, Tensor]:
        """Embeddings of every user and movie after two rounds of message passing."""
        x = {
            kind: self.inputs[kind](data[kind].node_id, data[kind].get("x")) for kind in self.inputs
        }
        adjacency = data.get("adj_t_dict") or data.edge_index_dict
        return self.encoder(x, adjacency)

    def decode(self, z: dict[str, Tensor], users: Tensor, movies: Tensor) -> Tensor:
        """Predicted stars for the pairs (users[i], movies[i])."""
        # index_select's backward is much cheaper than tensor[index]'s at 25M ratings
        fit = (z["user"].index_select(0, users) * z["movie"].index_select(0, movies)).sum(-1)
        biases = self.user_bias(users).squeeze(-1) + self.movie_bias(movies).squeeze(-1)
        return self.mean_rating + biases + fit

    def score_all(self, z: dict[str, Tensor], users: Tensor, movies: Tensor) -> Tensor:
        """Predicted stars of every (user, movie) combination: [len(users), len(movies)]."""
        fit = z["user"][users] @ z["movie"][movies].T
        return self.mean_rating + self.user_bias(users) + self.movie_bias(movies).T + fit

    def forward(self, data: HeteroData, edge_label_index: Tensor) -> Tensor:
        return self.decode(self.embed(data), edge_label_index[0], edge_label_index[1])


class NeighbourhoodRatingGNN(nn.Module):
    """Predicts stars from one round of degree-scaled message passing over both edge directions.

    Every node has two id embeddings: its own, and the message it sends to its neighbours. A
    user becomes ``own + sum(messages of its rated movies) / sqrt(#rated)`` and a movie the same
    from its raters (SVD++'s implicit feedback, learnt both ways); stars = mean + user bias +
    movie bias + <user, movie>. No ReLU and no weight matrices: with weight decay this small
    model generalises better on 100k ratings than stacked SAGEConv layers do.
    """

    def __init__(self, data: HeteroData, channels: int = 64, mean_rating: float = 3.5):
        super().__init__()
        kinds = ("user", "movie")
        self.own = nn.ModuleDict({k: nn.Embedding(data[k].num_nodes, channels) for k in kinds})
        self.message = nn.ModuleDict({k: nn.Embedding(data[k].num_nodes, channels) for k in kinds})
        for table in [*self.own.values(), *self.message.values()]:
            nn.init.normal_(table.weight, std=0.01)
        self.conv = SimpleConv(aggr="sum", combine_root="sum")  # own + sum of weighted messages
        add_rating_biases(self, data, mean_rating)

    def embed(self, data: HeteroData) -> dict[str, Tensor]:
        """Each node's own embedding plus its neighbours' messages scaled by 1/sqrt(its degree)."""
        z = {kind: table.weight for kind, table in self.own.items()}
        adjacency = data.get("adj_t_dict") or {}
        for edge_type, edge_index in data.edge_index_dict.items():
            source, _, target = edge_type
            if source not in self.own or target not in self.own:
                continue  # only user <-> movie rating edges carry these messages
            messages, own = self.message[source].weight, self.own[target].weight
            if edge_type in adjacency:  # sparse path: sum / sqrt(deg) = mean * sqrt(deg)
                adj_t = adjacency[edge_type]
                scale = in_degree(adj_t).clamp(min=1).sqrt().unsqueeze(-1)
                z[target] = own + scale * sparse_mean(adj_t, messages)
                continue
            sizes = (data[source].num_nodes, data[target].num_nodes)
            scale = degree(edge_index[1], sizes[1]).clamp(min=1).rsqrt()[edge_index[1]]
            z[target] = self.conv((messages, own), edge_index, scale, size=sizes)
        return z

    decode = RatingGNN.decode
    score_all = RatingGNN.score_all
    forward = RatingGNN.forward
