"""What a GraphSAGE reads and how it is served (notebooks 02-05, 07).

:class:`Tables` holds the recipe's node features standardised on the training ratings;
:class:`Graph`, the tensors a training step reads (edges, their order in time, features) and
the cold-start practice drawn from them; :class:`SageRecommender`, a trained model embedding
the graph of all train ratings once, and folding in users who joined later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from helpers.features import FeatureRecipe, MovieData, NodeFeatures, user_stats
from helpers.graph import IdMap, IdMaps
from helpers.models.sage import Adjacency, GraphSAGE, Mean
from helpers.recommender import Embeddings, GNNRecommender
from helpers.train import Practice


@dataclass
class Tables:
    """The recipe's feature tables, standardised on the ratings the model trains on."""

    recipe: FeatureRecipe | None
    users: NodeFeatures | None
    movies: NodeFeatures | None

    @classmethod
    def fit(cls, recipe, ratings: pd.DataFrame, maps: IdMaps, source: MovieData) -> Tables:
        if recipe is None:
            return cls(None, None, None)
        users, movies = recipe.users(ratings, maps), recipe.movies(ratings, maps, source)
        scale = lambda raw: NodeFeatures.standardise(raw) if raw is not None else None  # noqa: E731
        return cls(recipe, scale(users), scale(movies))

    def on(self, ratings: pd.DataFrame, maps: IdMaps) -> tuple:
        """Feature tensors for the graph of ``ratings``: user features computed from them and
        scaled as in training; the movie table as fitted (its SVDs must not move)."""
        if self.recipe is None:
            return None, None
        users = self.users.apply(self.recipe.users(ratings, maps)).tensor() if self.users else None
        return users, self.movies.tensor() if self.movies else None


@dataclass
class Graph:
    """The tensors a training step reads: rating edges, their order in time, known movies."""

    users: torch.Tensor
    movies: torch.Tensor
    stars: torch.Tensor
    order: torch.Tensor  # each rating's rank in its user's history (by time)
    known: torch.Tensor  # movies whose id embedding is used (by default those rated here)
    user_x: torch.Tensor | None
    movie_x: torch.Tensor | None
    adjacency: Adjacency

    @classmethod
    def of(cls, ratings: pd.DataFrame, maps: IdMaps, features: tuple, all_ids=False) -> Graph:
        """``all_ids``: every movie keeps its id (a warm list model trains unrated movies as
        movies nobody picks); otherwise a movie without ratings here is known by features alone."""
        users, movies = maps.pairs(ratings)
        order = (
            ratings.sort_values(["timestamp", "movieId"], kind="stable")
            .groupby("userId")
            .cumcount()
        )
        known = torch.full((len(maps.movies),), all_ids)
        known[movies] = True
        adjacency = Adjacency.of(users, movies, len(maps.users), len(maps.movies))
        stars = torch.tensor(ratings["rating"].to_numpy(np.float32))
        rank = torch.tensor(order.reindex(ratings.index).to_numpy())
        return cls(users, movies, stars, rank, known, *features, adjacency)

    def to(self, device: torch.device) -> Graph:
        """The same graph on ``device`` (a GPU while training)."""
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        mean = lambda m: Mean(m.matrix.to(device), m.transpose.to(device))  # noqa: E731
        tensors = (
            self.users,
            self.movies,
            self.stars,
            self.order,
            self.known,
            self.user_x,
            self.movie_x,
        )
        return Graph(
            *map(move, tensors),
            Adjacency(*map(mean, (self.adjacency.to_movie, self.adjacency.to_user))),
        )

    def practise(self, practice: Practice) -> tuple:
        """This epoch's (message edges, asked ratings, movies with ids); all of them without
        practice (None stands for "every edge", "every rating" and "every id": no copies)."""
        if not practice:
            return None, None, None
        n_users, n_movies = len(self.adjacency.to_user.matrix), len(self.known)
        return practice.draw(self.users, self.movies, self.order, n_users, n_movies)

    def embed(self, model: GraphSAGE, messages=None, ids=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's embeddings with only ``messages`` edges and ``ids`` movie ids (practice)."""
        adjacency = self.adjacency
        if messages is not None:
            n = (len(self.adjacency.to_user.matrix), len(self.known))
            adjacency = Adjacency.of(self.users[messages], self.movies[messages], *n)
        known = self.known if ids is None else self.known & ids
        return model(self.user_x, self.movie_x, known, adjacency)


class SageRecommender(GNNRecommender):
    """A trained GraphSAGE served on the graph of the train ratings, ready for new users."""

    def __init__(self, model, graph: Graph, maps, tables, base, objective, name):
        with torch.no_grad():  # one pass of messages: the layers, and their mean (as forward)
            users = model.user_inputs(graph.user_x, len(maps.users))
            user_layers, self.movie_layers = model.layers(
                users, model.movie_inputs(graph.movie_x, graph.known), graph.adjacency
            )
            z_users, z_movies = (torch.stack(x).mean(0) for x in (user_layers, self.movie_layers))
        numpy = lambda t: t.detach().cpu().numpy()  # noqa: E731
        vectors = Embeddings(numpy(z_users), numpy(z_movies), numpy(model.movie_bias))
        self.movie_layers = [layer.cpu() for layer in self.movie_layers]
        if objective == "stars" and model.movie_features is None:
            vectors.movies[~graph.known.cpu().numpy()] = (
                0.0  # nothing known: the bias model answers
            )
        lists, stars = (vectors, None) if objective == "lists" else (None, vectors)
        super().__init__(name, maps, base, lists, stars)
        self.model, self.tables, self.objective = model, tables, objective
        self.shrinkage = 0.0  # new users' list vectors lean to the average user (see fold_in)

    def fold_in(self, ratings: pd.DataFrame) -> GNNRecommender:
        """The recommender for users who joined after training, from their ``ratings`` alone."""
        new = IdMap.from_ids(ratings["userId"])
        maps = IdMaps(new, self.maps.movies)
        users, movies = maps.pairs(ratings)
        to_user = Mean.of(users, movies, (len(new), len(self.maps.movies)))
        user_x = None
        if self.tables.users is not None:
            user_x = self.tables.users.apply(user_stats(ratings, maps)).tensor()
        vectors = self.model.fold_in(self.movie_layers, user_x, to_user).numpy()
        if self.objective == "lists" and self.shrinkage:  # few ratings: lean to the average user
            n = np.bincount(users.numpy(), minlength=len(new)).astype(np.float32)[:, None]
            average = self.lists.users.mean(0)  # the mean of the training users' vectors
            vectors = (n * vectors + self.shrinkage * average) / (n + self.shrinkage)
        known = self.lists or self.stars
        joined = Embeddings(vectors, known.movies, known.bias)
        lists, stars = (joined, None) if self.objective == "lists" else (None, joined)
        return GNNRecommender(self.name, maps, self.base.fold_in(ratings), lists, stars)
