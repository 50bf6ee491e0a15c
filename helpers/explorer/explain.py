"""Why a movie is on a list (notebook 08): the movie you liked nearest to it in embedding
space, as a table and as a three-column picture (you -> rated highly -> recommended)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.explorer.logic import Catalogue, ExplorerError
from helpers.viz import short

EXPLAINING_STARS = 4.0  # stars a rated movie needs to explain a recommendation


def because_you_liked(
    vectors: np.ndarray, positions: np.ndarray, rated: np.ndarray, stars: np.ndarray
) -> pd.DataFrame:
    """For each recommended row, the liked movie (:data:`EXPLAINING_STARS` stars, else your best
    3) nearest by cosine of mean-centred vectors (the direction all movies share says nothing)."""
    known = rated >= 0
    rated, stars = rated[known], stars[known]
    if len(rated) == 0 or len(positions) == 0:
        raise ExplorerError("Nothing to explain: no rated movie is in the catalogue.")
    good = stars >= EXPLAINING_STARS
    liked = rated[good] if good.any() else rated[np.argsort(-stars, kind="stable")[:3]]
    centred = vectors - vectors.mean(axis=0)
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    similarity = np.round(unit[positions] @ unit[liked].T, 2)  # rounded: near-ties to the first
    nearest = similarity.argmax(axis=1)
    best = similarity[np.arange(len(positions)), nearest]
    return pd.DataFrame({"position": positions, "liked": liked[nearest], "similarity": best})


def explanation_graph(
    catalogue: Catalogue, user: str, because: pd.DataFrame, rated: np.ndarray, stars: np.ndarray
) -> nx.DiGraph:
    """User -> movies it rated highly -> the recommendations they explain (layers 0, 1, 2)."""
    graph, titles = nx.DiGraph(), catalogue.movies["title"].to_numpy()
    graph.add_node("user", label=user, layer=0)
    given = dict(zip(rated, stars, strict=True))
    for position, liked, similarity in because.itertuples(index=False):
        rated_node, listed = ("rated", liked), ("listed", position)
        graph.add_node(rated_node, label=f"{titles[liked]} ({given[liked]:g}★)", layer=1)
        graph.add_edge("user", rated_node, kind="rated")
        graph.add_node(listed, label=titles[position], layer=2)
        graph.add_edge(rated_node, listed, kind="because", similarity=similarity)
    return graph


def draw_explanation(graph: nx.DiGraph) -> Figure:
    """The graph in three columns; titles are plain text (a ``$`` is a dollar, never math)."""
    figure = Figure(figsize=(10, 0.25 * max(3, len(graph)) + 1.2))
    ax, layout = figure.add_subplot(), {}
    for layer in (0, 1, 2):
        nodes = [n for n in graph if graph.nodes[n]["layer"] == layer]
        layout |= {n: (layer, 1 - (i + 1) / (len(nodes) + 1)) for i, n in enumerate(nodes)}
    fill = [["#4c72b0", "#55a868", "#dd8452"][graph.nodes[n]["layer"]] for n in graph]
    nx.draw_networkx_nodes(graph, layout, ax=ax, node_size=120, node_color=fill)
    for kind, style in (("rated", "-"), ("because", "--")):
        edges = [(a, b) for a, b, k in graph.edges(data="kind") if k == kind]
        nx.draw_networkx_edges(
            graph, layout, ax=ax, edgelist=edges, style=style, edge_color="#999999", arrows=False
        )
    for node, (x, y) in layout.items():  # the middle titles sit left of their node, above the
        ha, dx = [("right", -0.08), ("right", -0.05), ("left", 0.08)][x]  # dashed lines' fan
        label, lift = short(graph.nodes[node]["label"], 34), 0.04 if x == 1 else 0
        ax.text(x + dx, y + lift, label, ha=ha, va="center", fontsize=8, parse_math=False)
    for x, title in enumerate(["", "rated highly", "recommended, because ..."]):
        ax.text(x, 1.02, title, ha="center", fontsize=9, weight="bold")
    ax.set(xlim=(-0.9, 3.3), ylim=(-0.02, 1.08))
    ax.set_axis_off()
    return figure
