"""Pictures of the recommender (loss curves, graphs, embedding maps) and numbers that check them.

A picture alone proves nothing: :func:`neighbour_agreement` puts a number, with a shuffled
baseline, next to every embedding map.
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.neighbors import NearestNeighbors


def _short(title: str, width: int = 28) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"


def loss_curve(history, title: str = "Training") -> Figure:
    """Train MSE and validation RMSE per epoch, with the kept (best) epoch marked."""
    table = history.frame()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    left.plot(table.index, table["train MSE"], color="tab:blue")
    left.set(xlabel="epoch", ylabel="train MSE (stars², log scale)", title=f"{title}: train loss")
    left.set_yscale("log")
    right.plot(table.index, table["validation RMSE"], color="tab:orange")
    right.axvline(history.best_epoch, color="grey", linestyle="--", label="kept epoch")
    right.set(xlabel="epoch", ylabel="validation RMSE (stars)", title="validation")
    right.legend()
    fig.tight_layout()
    return fig


def user_neighbourhood(
    user_id: int, liked: pd.DataFrame, recommended: pd.DataFrame, width: int = 34
) -> Figure:
    """One user, the movies it rated highly (left) and its top recommendations (right).

    ``liked`` has ``title`` and ``rating``; ``recommended`` has ``title`` and
    ``predicted_stars``. Edge width is the (predicted) number of stars.
    """
    user = f"user {user_id}"
    graph = nx.Graph()
    graph.add_node(user)
    position = {user: (0.0, 0.0)}
    for side, table, column, colour in (
        (-1.0, liked, "rating", "tab:blue"),
        (1.0, recommended, "predicted_stars", "tab:orange"),
    ):
        heights = np.linspace(1.0, -1.0, len(table)) if len(table) > 1 else [0.0]
        for height, (_, row) in zip(heights, table.iterrows(), strict=True):
            label = _short(str(row["title"]), width)
            graph.add_node(label, colour=colour)
            graph.add_edge(user, label, stars=float(row[column]), colour=colour)
            position[label] = (side, float(height))
    fig, ax = plt.subplots(figsize=(11, 5))
    edges = list(graph.edges(data=True))
    nx.draw_networkx_edges(
        graph,
        position,
        ax=ax,
        width=[1.2 * e["stars"] for _, _, e in edges],
        edge_color=[e["colour"] for _, _, e in edges],
        alpha=0.6,
    )
    colours = [graph.nodes[n].get("colour", "tab:grey") for n in graph.nodes]
    nx.draw_networkx_nodes(graph, position, ax=ax, node_color=colours, node_size=350)
    for node, (x, y) in position.items():
        align = "center" if node == user else ("right" if x < 0 else "left")
        offset = 0.0 if node == user else (-0.06 if x < 0 else 0.06)
        ax.text(x + offset, y, node, ha=align, va="center", fontsize=9)
    ax.set_title(f"{user}: rated highly (blue, left) and top recommendations (orange, right)")
    ax.set_xlim(-2.2, 2.2)
    ax.axis("off")
    fig.tight_layout()
    return fig


def project_2d(
    vectors: np.ndarray, seed: int = 42, n_neighbors: int = 15, n_epochs: int = 200
) -> np.ndarray:
    """UMAP to two dimensions, seeded (single-threaded, so the same input gives the same map)."""
    with warnings.catch_warnings():
        # umap announces that a seed forces one thread, and numba may note its cache on import.
        warnings.filterwarnings("ignore", message=".*n_jobs.*overridden", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        import umap

        reducer = umap.UMAP(
            n_neighbors=n_neighbors, n_epochs=n_epochs, random_state=seed, n_jobs=1, low_memory=True
        )
        return reducer.fit_transform(np.asarray(vectors, dtype=np.float32))


def neighbour_agreement(
    vectors: np.ndarray, labels: np.ndarray, k: int = 10, shuffles: int = 5, seed: int = 42
) -> pd.Series:
    """Share of each point's ``k`` nearest neighbours (cosine) with its label, vs shuffled labels.

    If the shuffled share is as high as the real one, the colours in the picture are noise.
    """
    labels = np.asarray(labels)
    neighbours = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(vectors)
    index = neighbours.kneighbors(vectors, return_distance=False)[:, 1:]

    def agreement(names: np.ndarray) -> float:
        return float((names[index] == names[:, None]).mean())

    rng = np.random.default_rng(seed)
    shuffled = [agreement(rng.permutation(labels)) for _ in range(shuffles)]
    return pd.Series(
        {"k-NN agreement": agreement(labels), "shuffled labels": float(np.mean(shuffled))}
    )


def embedding_map(coordinates: np.ndarray, labels: np.ndarray, title: str, top: int = 8) -> Figure:
    """A 2-D scatter coloured by label; labels beyond the ``top`` most common are grey."""
    labels = pd.Series(np.asarray(labels))
    common = labels.value_counts().index[:top]
    fig, ax = plt.subplots(figsize=(7, 6))
    other = ~labels.isin(common).to_numpy()
    ax.scatter(*coordinates[other].T, s=3, color="lightgrey", label="other")
    palette = plt.get_cmap("tab10")
    for number, name in enumerate(common):
        chosen = (labels == name).to_numpy()
        ax.scatter(*coordinates[chosen].T, s=3, color=palette(number), label=name)
    ax.legend(markerscale=4, fontsize=8, loc="best")
    ax.set(title=title, xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def rating_subgraph(
    edges: pd.DataFrame,
    user_mean: pd.Series,
    movie_mean: pd.Series,
    movie_popularity: pd.Series,
    titles: pd.Series,
    seed: int = 42,
) -> Figure:
    """Sampled users and movies they rated: node size = mean rating, movie colour = popularity.

    ``edges`` has ``userId`` and ``movieId``; the Series are indexed by raw id.
    """
    graph = nx.Graph()
    users = [f"u{u}" for u in edges["userId"].unique()]
    movie_ids = edges["movieId"].unique()
    movies = [_short(str(titles[m]), 22) for m in movie_ids]
    graph.add_nodes_from(users)
    graph.add_nodes_from(movies)
    name_of = dict(zip(movie_ids, movies, strict=True))
    graph.add_edges_from((f"u{u}", name_of[m]) for u, m in edges[["userId", "movieId"]].to_numpy())
    position = nx.spring_layout(graph, seed=seed, k=0.6)
    fig, ax = plt.subplots(figsize=(11, 7))
    nx.draw_networkx_edges(graph, position, ax=ax, alpha=0.3)
    size = lambda stars: 60 * np.asarray(stars, dtype=float) ** 2  # noqa: E731
    nx.draw_networkx_nodes(
        graph,
        position,
        nodelist=users,
        ax=ax,
        node_shape="s",
        node_color="lightgrey",
        node_size=size(user_mean[edges["userId"].unique()]),
    )
    drawn = nx.draw_networkx_nodes(
        graph,
        position,
        nodelist=movies,
        ax=ax,
        node_color=np.asarray(movie_popularity[movie_ids], dtype=float),
        cmap="viridis",
        node_size=size(movie_mean[movie_ids]),
    )
    nx.draw_networkx_labels(graph, position, ax=ax, font_size=7)
    fig.colorbar(drawn, ax=ax, label="popularity (train ratings)")
    ax.set_title("Sampled users (squares) and movies: size = mean rating, colour = popularity")
    ax.axis("off")
    fig.tight_layout()
    return fig


def rating_clock(temporal: pd.DataFrame) -> Figure:
    """Average share of a user's ratings per UTC hour and per weekday (from ``user_temporal``)."""
    hours = temporal.filter(like="hour_").mean()
    days = temporal.filter(like="day_").mean()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 1]})
    left.bar(range(24), hours.to_numpy(), color="tab:blue")
    left.set(
        xlabel="hour of day (UTC)", ylabel="mean share of a user's ratings", xticks=range(0, 24, 3)
    )
    right.bar([d.removeprefix("day_") for d in days.index], days.to_numpy(), color="tab:green")
    right.set(xlabel="day of week (UTC)")
    fig.tight_layout()
    return fig
