"""The neighbourhood rating GNN, the kit's best star model (notebook 06): SVD++'s "which movies
did you rate" signal learnt both ways, in one round with no weights (it generalises better on
100k ratings than stacked SAGEConv layers)."""

from __future__ import annotations

from torch import Tensor, nn

from helpers.models.sage import Mean


class NeighbourhoodGNN(nn.Module):
    """A node's own embedding plus its neighbours' message embeddings, summed / sqrt(degree);
    stars are the bias model's plus ``<user, movie>``."""

    def __init__(self, n_users: int, n_movies: int, channels: int = 64):
        super().__init__()
        self.own = nn.ModuleList(nn.Embedding(n, channels) for n in (n_users, n_movies))
        self.message = nn.ModuleList(nn.Embedding(n, channels) for n in (n_users, n_movies))
        for table in [*self.own, *self.message]:
            nn.init.normal_(table.weight, std=0.01)

    def forward(self, to_user: Mean, to_movie: Mean) -> tuple[Tensor, Tensor]:
        (own_user, own_movie), (message_user, message_movie) = (
            [table.weight for table in tables] for tables in (self.own, self.message)
        )
        return own_user + to_user(message_movie), own_movie + to_movie(message_user)
