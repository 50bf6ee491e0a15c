"""What a GraphSAGE reads and how it is served (notebooks 02-05, 07): the recipe's feature
tables, the training graph with its cold-start practice, and the recommender that embeds all
train ratings once and folds in users who joined later."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np
import pandas as pd
import torch

from helpers.features import FeatureRecipe, MovieData, NodeFeatures
from helpers.graph import IdMap, IdMaps, Patterns
from helpers.models.sage import Adjacency, GraphSAGE
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
        tables = recipe.users(ratings, maps), recipe.movies(ratings, maps, source)
        return cls(recipe, *(None if t is None else NodeFeatures.standardise(t) for t in tables))

    def on(self, ratings: pd.DataFrame, maps: IdMaps) -> tuple:
        """Feature tensors for the graph of ``ratings``: users recomputed and scaled as fitted,
        movies as fitted (their SVDs must not move)."""
        if self.recipe is None:
            return None, None
        users = self.users.apply(self.recipe.users(ratings, maps)).tensor() if self.users else None
        return users, self.movies.tensor() if self.movies else None


def _to(value, device: torch.device):
    """A tensor, or a dataclass of them (None kept), on ``device``."""
    if not is_dataclass(value):
        return None if value is None else value.to(device)
    return replace(value, **{f.name: _to(getattr(value, f.name), device) for f in fields(value)})


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
    patterns: Patterns  # the rating edges sorted both ways, shared by the adjacency and the loss
    adjacency: Adjacency

    @classmethod
    def of(cls, ratings: pd.DataFrame, maps: IdMaps, features: tuple, all_ids=False) -> Graph:
        """``all_ids``: every movie keeps its id (a warm list model trains unrated movies as
        movies nobody picks); otherwise a movie without ratings here is known by features alone."""
        users, movies = maps.pairs(ratings)
        by_time = ratings.sort_values(["timestamp", "movieId"], kind="stable").groupby("userId")
        known = torch.full((len(maps.movies),), all_ids)
        known[movies] = True
        patterns = Patterns.of(users, movies, len(maps.users), len(maps.movies))
        stars = torch.tensor(ratings["rating"].to_numpy(np.float32))
        rank = torch.tensor(by_time.cumcount().reindex(ratings.index).to_numpy())
        return cls(users, movies, stars, rank, known, *features, patterns, Adjacency.on(patterns))

    def to(self, device: torch.device | str) -> Graph:
        """The same graph on ``device`` (a GPU while training), its matrices sharing indices."""
        device = torch.device(device)
        if self.users.device == device:
            return self
        moved = _to(replace(self, adjacency=None), device)
        return replace(moved, adjacency=Adjacency.on(moved.patterns))

    @property
    def size(self) -> tuple[int, int]:  # (users, movies)
        return self.patterns.size

    def practise(self, practice: Practice) -> tuple:
        """This epoch's (message edges, asked ratings, movies with ids); None: all (no copies)."""
        if not practice:
            return None, None, None
        return practice.draw(self.users, self.movies, self.order, *self.size)

    def embed(self, model: GraphSAGE, messages=None, ids=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's embeddings with only ``messages`` edges and ``ids`` movie ids (practice)."""
        adjacency = self.adjacency
        if messages is not None:
            adjacency = Adjacency.of(self.users[messages], self.movies[messages], *self.size)
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
            vectors.movies[~graph.known.cpu().numpy()] = 0.0  # nothing known: the bias answers
        lists, stars = (vectors, None) if objective == "lists" else (None, vectors)
        super().__init__(name, maps, base, lists, stars)
        self.model, self.tables, self.objective = model, tables, objective
        self.shrinkage = 0.0  # new users' list vectors lean to the average user (see fold_in)

    def fold_in(self, ratings: pd.DataFrame) -> GNNRecommender:
        """The recommender for users who joined after training, from their ``ratings`` alone."""
        new = IdMap.from_ids(ratings["userId"])
        maps = IdMaps(new, self.maps.movies)
        users, movies = maps.pairs(ratings)
        to_user = Adjacency.of(users, movies, len(new), len(self.maps.movies)).to_user
        user_x = None
        if self.tables.users is not None:
            user_x = self.tables.on(ratings, maps)[0]  # the recipe's user blocks
        vectors = self.model.fold_in(self.movie_layers, user_x, to_user).numpy()
        if self.objective == "lists" and self.shrinkage:  # few ratings: lean to the average user
            n = np.bincount(users.numpy(), minlength=len(new)).astype(np.float32)[:, None]
            average = self.lists.users.mean(0)  # the mean of the training users' vectors
            vectors = (n * vectors + self.shrinkage * average) / (n + self.shrinkage)
        known = self.lists or self.stars
        joined = Embeddings(vectors, known.movies, known.bias)
        lists, stars = (joined, None) if self.objective == "lists" else (None, joined)
        return GNNRecommender(self.name, maps, self.base.fold_in(ratings), lists, stars)
