"""Pictures of the data and the models (notebooks 01-08), and the numbers that check them: a
picture alone proves nothing, so :func:`neighbour_agreement` scores every embedding map."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter
from sklearn.metrics import pairwise_distances_chunked


def short(title: str, width: int = 28) -> str:
    return title if len(title) <= width else title[: width - 1] + "…"


class PlainLogFormatter(LogFormatter):
    """Log-axis tick labels written as plain numbers (0.6, 2, 30), not as 6×10⁻¹."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:g}"


def training_curve(history, title: str, metric: str = "validation") -> Figure:
    """Train loss (left, log scale: the first epochs may sit far above the rest) and the
    validation number (right) per epoch; the kept epoch is marked, and named the last of the
    budget when early stopping never fired."""
    table, best = history.frame(), history.best_epoch
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.plot(table.index, table["train loss"], color="tab:blue")
    left.set(xlabel="epoch", ylabel="train loss (log scale)", yscale="log", title=title)
    left.yaxis.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
    left.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))
    checks = table["validation"].dropna()
    right.plot(checks.index, checks.to_numpy(), marker=".", color="tab:orange")
    last = " (the last trained)" if best == table.index.max() else ""
    right.axvline(best, color="grey", linestyle="--", label=f"kept: epoch {best}{last}")
    right.set(xlabel="epoch", ylabel=metric, title="validation")
    right.legend(loc="best")
    fig.tight_layout()
    return fig


def bars(table: pd.DataFrame, column: str, title: str, better: str) -> Figure:
    """One horizontal bar per row (its label the index), the value written at its end."""
    values = table[column].dropna()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(values) + 1))
    ax.barh(range(len(values)), values.to_numpy(), color="tab:green")
    ax.set_yticks(range(len(values)), [short(str(i), 40) for i in values.index])
    ax.invert_yaxis()
    for row, value in enumerate(values):
        ax.text(value, row, f" {value:.3f}", va="center", fontsize=8)
    ax.set(xlabel=f"{column} ({better} is better)", title=title, xlim=(0, values.max() * 1.18))
    fig.tight_layout()
    return fig


def project_2d(
    vectors: np.ndarray, seed: int = 42, n_neighbors: int = 15, n_epochs: int = 200
) -> np.ndarray:
    """UMAP to two dimensions, seeded (single-threaded, so the same input gives the same map)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs.*overridden", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        import umap

        reducer = umap.UMAP(
            n_neighbors=n_neighbors, n_epochs=n_epochs, random_state=seed, n_jobs=1, low_memory=True
        )
        return reducer.fit_transform(np.asarray(vectors, dtype=np.float32))


TIE = 1e-9  # distances this close are one distance (identical vectors differ by rounding)


def _neighbour_weights(distances: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` nearest columns as weights: 1 for those closer than the ``k``-th, and the
    places left shared by all tied with it, so no tie is broken by row order or rounding noise."""
    kth = np.partition(distances, k - 1, axis=1)[:, k - 1 : k]
    closer, tied = distances < kth - TIE, np.abs(distances - kth) <= TIE
    return closer + tied * (k - closer.sum(1, keepdims=True)) / tied.sum(1, keepdims=True)


def neighbour_agreement(
    vectors: np.ndarray, labels: np.ndarray, k: int = 10, metric: str = "cosine"
) -> pd.Series:
    """Share of each point's ``k`` nearest neighbours with its label, and with shuffled labels.

    Embeddings are compared by angle (``cosine``), a 2-D map by distance (``euclidean``). If
    the share with 5 shuffles of the labels is as high, the colours in the picture are noise.
    Neighbours tied at the ``k``-th distance (movies with the same tags) share its places.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(42)
    label_sets = [labels] + [rng.permutation(labels) for _ in range(5)]

    def shares(distances: np.ndarray, start: int) -> np.ndarray:
        """Per row of this chunk, its neighbours' share with its label in every label set."""
        rows = np.arange(start, start + len(distances))
        distances[np.arange(len(rows)), rows] = np.inf  # a point is not its own neighbour
        weights = _neighbour_weights(distances, k)
        return np.stack([(weights * (s == s[rows, None])).sum(1) / k for s in label_sets], 1)

    chunks = pairwise_distances_chunked(
        np.asarray(vectors, np.float64), metric=metric, reduce_func=shares, working_memory=64
    )
    share = np.concatenate(list(chunks))
    return pd.Series({"k-NN agreement": share[:, 0].mean(), "shuffled labels": share[:, 1:].mean()})


def embedding_map(coordinates: np.ndarray, labels: np.ndarray, title: str, top: int = 6) -> Figure:
    """A 2-D scatter: the ``top`` most common labels each in its own colour and marker."""
    labels = pd.Series(np.asarray(labels))
    common = labels.value_counts().index[:top]
    fig, ax = plt.subplots(figsize=(7, 6))
    other = ~labels.isin(common).to_numpy()
    ax.scatter(*coordinates[other].T, s=4, color="lightgrey", label="other genres")
    for number, name in enumerate(common):
        chosen = (labels == name).to_numpy()
        style = {"marker": "osD^v<>Ph"[number], "color": plt.get_cmap("tab10")(number)}
        ax.scatter(*coordinates[chosen].T, s=12, label=name, alpha=0.8, **style)
    ax.legend(markerscale=1.5, fontsize=8, loc="best")
    ax.set(title=title, xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def rating_subgraph(edges: pd.DataFrame, movie_popularity: pd.Series, titles: pd.Series) -> Figure:
    """Sampled users (squares, left) and the movies they rated highest (circles, right, colour =
    popularity), as the two sides of the bipartite graph; a movie sits level with its raters."""
    graph = nx.Graph()
    users = [f"user {u}" for u in sorted(edges["userId"].unique())]
    graph.add_nodes_from(users)
    graph.add_edges_from((f"user {u}", m) for u, m in edges[["userId", "movieId"]].to_numpy())
    movies = [n for n in graph if n not in users]
    height = {u: -i for i, u in enumerate(users)}  # users top to bottom
    level = {m: np.mean([height[u] for u in graph[m]]) for m in movies}  # beside its raters
    ordered = sorted(movies, key=lambda m: (-level[m], m))
    span = (len(users) - 1) / max(len(movies) - 1, 1)
    position = {u: (0.0, y) for u, y in height.items()}
    position |= {m: (1.0, -i * span) for i, m in enumerate(ordered)}
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(movies) + 1.5))
    nx.draw_networkx_edges(graph, position, ax=ax, alpha=0.35)
    squares = {"node_shape": "s", "node_color": "lightgrey", "node_size": 420, "edgecolors": "grey"}
    nx.draw_networkx_nodes(graph, position, nodelist=users, ax=ax, **squares)
    popularity = np.log10(movie_popularity.reindex(ordered).fillna(1).to_numpy(float))
    circles = {"node_size": 110, "cmap": "viridis", "node_color": popularity}
    drawn = nx.draw_networkx_nodes(graph, position, nodelist=ordered, ax=ax, **circles)
    numbers = {u: u.removeprefix("user ") for u in users}
    nx.draw_networkx_labels(graph, position, numbers, ax=ax, font_size=8)
    for movie in ordered:
        x, y = position[movie]
        ax.text(x + 0.04, y, short(str(titles[movie]), 40), ha="left", va="center", fontsize=8)
    fig.colorbar(drawn, ax=ax, label="log10 of train ratings (popularity)", shrink=0.6)
    ax.set_title("Sampled users (squares, numbered) and the three movies each rated highest")
    ax.set_xlim(-0.15, 2.2)
    ax.axis("off")
    fig.tight_layout()
    return fig


def rating_clock(temporal: pd.DataFrame) -> Figure:
    """Average share of a user's ratings per UTC hour and per weekday (from ``user_temporal``)."""
    hours, days = temporal.filter(like="hour_").mean(), temporal.filter(like="day_").mean()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [3, 1]})
    left.bar(range(24), hours.to_numpy(), color="tab:blue")
    share = "mean share of a user's ratings"
    left.set(xlabel="hour of day (UTC)", ylabel=share, xticks=range(0, 24, 3))
    right.bar([d.removeprefix("day_") for d in days.index], days.to_numpy(), color="tab:green")
    right.set(xlabel="day of week (UTC)")
    fig.tight_layout()
    return fig
