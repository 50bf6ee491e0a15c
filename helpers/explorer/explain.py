"""Why a movie is on a list (notebook 08): the movie you liked nearest to it in embedding
space, as a table and as a three-column picture (you -> rated highly -> recommended)."""

from __future__ import annotations

import re
import textwrap

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.explorer.logic import Catalogue, ExplorerError

EXPLAINING_STARS = 4.0  # stars a rated movie needs to explain a recommendation


def because_you_liked(
    vectors: np.ndarray, positions: np.ndarray, rated: np.ndarray, stars: np.ndarray
) -> pd.DataFrame:
    """For each recommended row, the movie rated highly (:data:`EXPLAINING_STARS` stars or more,
    else the best 3) nearest by cosine of mean-centred vectors (the direction all movies share
    says nothing)."""
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


def wrapped(label: str, width: int, lines: int = 2) -> str:
    """``label`` on at most ``lines`` lines of about ``width`` characters; a long title is cut
    with "…", but a trailing " (4.5★)" always stays."""
    title, stars = re.fullmatch(r"(.*?)((?: \([\d.]+★\))?)", label).groups()
    whole = textwrap.wrap(title + stars, width, max_lines=lines, placeholder="…")
    if not stars or whole[-1].endswith(stars.strip()):
        return "\n".join(whole)
    cut = textwrap.wrap(title, width, max_lines=lines, placeholder="…")
    last = textwrap.shorten(cut[-1], width - len(stars), placeholder="…")
    return "\n".join([*cut[:-1], last + stars])


def draw_explanation(graph: nx.DiGraph) -> Figure:
    """The graph in three columns, read left to right: who -> the movies it rated highly (titles
    left-aligned where the who's lines end) -> the recommendations, each dashed to the rated movie
    nearest to it. No line crosses a title; titles are plain text (a ``$`` is never math)."""
    columns = [[n for n in graph if graph.nodes[n]["layer"] == layer] for layer in (0, 1, 2)]
    rows, step = max(3, *map(len, columns)), 0.42  # inches between rows: room for two lines
    width, height = 8.0, step * rows + 0.5
    figure = Figure(figsize=(width, height))
    ax = figure.add_axes((0, 0, 1, 1))  # data units are inches
    ax.set(xlim=(0, width), ylim=(0, height))
    ax.set_axis_off()
    top = height - 0.5 - step / 2
    y = {n: top - step * (i + (rows - len(c)) / 2) for c in columns for i, n in enumerate(c)}
    text = {"fontsize": 8, "va": "center", "parse_math": False}
    start = 1.5  # the middle titles start at ``start``; their node follows the longest
    for node in columns[0]:
        ax.text(0.78, y[node], graph.nodes[node]["label"], ha="right", weight="bold", **text)
    middle = {
        n: ax.text(start, y[n], wrapped(graph.nodes[n]["label"], 30), ha="left", **text)
        for n in columns[1]
    }
    inches = ax.transData.inverted()
    ends = {n: inches.transform(t.get_window_extent())[1, 0] for n, t in middle.items()}
    x1 = max(ends.values(), default=start) + 0.2
    x2 = x1 + 1.2
    for node in columns[2]:
        ax.text(x2 + 0.12, y[node], wrapped(graph.nodes[node]["label"], 40), ha="left", **text)
    line = {"color": "#999999", "linewidth": 1, "zorder": 1}
    for a, b, kind in graph.edges(data="kind"):
        if kind == "rated":  # ends where the rated movie's title begins
            ax.plot([0.9, start - 0.06], [y[a], y[b]], "-", **line)
        else:
            ax.plot([x1, x2], [y[a], y[b]], "--", **line)
    for node, end in ends.items():  # a dotted leader from each shorter title to its node
        if x1 - end > 0.3:
            ax.plot([end + 0.06, x1 - 0.06], [y[node]] * 2, ":", **line)
    for layer, (x, colour) in enumerate([(0.9, "#4c72b0"), (x1, "#55a868"), (x2, "#dd8452")]):
        points = [y[n] for n in columns[layer]]
        ax.scatter([x] * len(points), points, s=40, color=colour, zorder=2)
    heading = {"fontsize": 9, "weight": "bold", "va": "bottom"}
    ax.text(start, height - 0.3, "rated highly", ha="left", **heading)
    ax.text(x2 + 0.12, height - 0.3, "recommended (dashed: the rated movie nearest to it)",
            ha="left", **heading)  # fmt: skip
    return figure
