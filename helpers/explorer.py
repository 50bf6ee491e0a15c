"""The recommendation explorer: a thin ipywidgets layer over :mod:`helpers.explain`.

Scores are computed once when the explorer is built; a change of any control only filters,
ranks and renders (a few milliseconds). The same widget runs in a notebook and, with
``voila notebooks/06_explorer.ipynb``, as a standalone web page.
"""

from __future__ import annotations

import html
import io
import time

import ipywidgets as widgets
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers.checkpoint import load_or_train_best
from helpers.explain import (
    Catalogue,
    ExplorerError,
    Filters,
    RatedIndex,
    Recommendations,
    UserScores,
    because_you_liked,
    explanation_graph,
    liked_movies,
    recommend,
)

# Scores of movies with a handful of ratings rest on little evidence and crowd the top of every
# list (the student notebook's top-10s); the explorer starts from this guard, the slider lifts it.
MIN_RATINGS = 10
MAX_OPTIONS = 3000  # users / titles offered in a search list (any id can still be typed)
ORDERS = {"top": "top", "least relevant": "least"}
TABLE_STYLE = (
    "<style>.explorer-results {border-collapse: collapse; font-size: 13px}"
    " .explorer-results th, .explorer-results td {padding: 2px 10px; text-align: left}"
    " .explorer-results tbody tr:nth-child(odd) {background: #f4f6f8}</style>"
)


def load_model(dataset: str | None = None, seed: int = 42):
    """Notebook 05's best GNN, from ``helpers.checkpoint`` (trained and saved if missing)."""
    return load_or_train_best(dataset, seed)


def movie_vectors(model, catalogue: Catalogue) -> np.ndarray:
    """The model's movie embeddings, one row per catalogue movie (for "because you liked")."""
    if not hasattr(model, "z") or not hasattr(model, "maps"):
        raise ExplorerError(
            f"{type(model).__name__} has no embeddings (.z, .maps); explanations need a GNN model."
        )
    rows = model.maps.movies.index(catalogue.movie_ids)
    return model.z["movie"][rows].detach().cpu().numpy().astype(np.float32)


def draw_explanation(graph: nx.DiGraph, ax: Axes | None = None) -> Axes:
    """User, movies it rated highly and recommendations in three columns; dashes say "because".

    Draws on ``ax`` (a new 9 x 4 inch figure when none is given) and returns it.
    """
    if ax is None:
        ax = Figure(figsize=(9, 4)).add_subplot()
    layout = {}
    for layer in (0, 1, 2):
        nodes = [n for n in graph if graph.nodes[n]["layer"] == layer]
        for i, node in enumerate(nodes):
            layout[node] = (layer, 1 - (i + 1) / (len(nodes) + 1))
    colours = ["#4c72b0", "#55a868", "#dd8452"]
    node_colours = [colours[graph.nodes[n]["layer"]] for n in graph]
    nx.draw_networkx_nodes(graph, layout, ax=ax, node_size=180, node_color=node_colours)
    rated = [(a, b) for a, b, kind in graph.edges(data="kind") if kind == "rated"]
    because = [(a, b) for a, b, kind in graph.edges(data="kind") if kind == "because"]
    nx.draw_networkx_edges(graph, layout, ax=ax, edgelist=rated, edge_color="#aaaaaa")
    nx.draw_networkx_edges(graph, layout, ax=ax, edgelist=because, edge_color="#dd8452", style="--")
    for node, (x, y) in layout.items():
        ha, dx, dy = [("right", -0.06, 0), ("center", 0, 0.045), ("left", 0.06, 0)][x]
        label = _short(graph.nodes[node]["label"])
        ax.text(x + dx, y + dy, label, ha=ha, va="center", fontsize=8)
    for x, title in enumerate(["user", "rated highly", "recommended, because ..."]):
        ax.text(x, 1.0, title, ha="center", fontsize=9, weight="bold")
    ax.set_xlim(-0.6, 2.9)
    ax.set_ylim(-0.02, 1.05)
    ax.set_axis_off()
    return ax


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _png(ax: Axes) -> bytes:
    buffer = io.BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


class Explorer:
    """The controls, the status line, the results table and the "because you liked" picture."""

    def __init__(
        self,
        catalogue: Catalogue,
        rated: RatedIndex,
        scores: UserScores,
        vectors: np.ndarray | None = None,
        stars: UserScores | None = None,
    ):
        self.catalogue, self.rated, self.scores, self.vectors = catalogue, rated, scores, vectors
        self.star_scores = stars  # predicted stars when ``scores`` come from a ranking model
        self._explained: tuple | None = None  # (user, top rows) the picture shows
        self._build_controls()
        self.update()

    @classmethod
    def from_model(cls, model, train: pd.DataFrame, movies: pd.DataFrame, progress=False):
        """Score every user x catalogue movie once (on demand per user at 25M scale).

        A ranking model that carries a star model (``model.stars``, as the kit's ``gnn`` does)
        ranks with its own scores and shows and filters the star model's predictions.
        """
        catalogue = Catalogue.build(movies, train)
        rated = RatedIndex.build(train, catalogue)
        users, movie_ids = rated.user_ids, catalogue.movie_ids
        scores = UserScores(model.score, users, movie_ids, progress=progress)
        star_model = getattr(model, "stars", None)
        stars = UserScores(star_model.score, users, movie_ids) if star_model else None
        return cls(catalogue, rated, scores, movie_vectors(model, catalogue), stars)

    # ------------------------------------------------------------------ logic (no widgets)

    def results(self, user_id: object, filters: Filters) -> Recommendations:
        """One update's work: the user's scores, filtered, ranked and tabulated."""
        user = int(self.rated.user_ids[self.rated.row(user_id)])
        rated, _ = self.rated.of(user)
        return recommend(self.catalogue, self.scores(user), rated, filters, self.stars(user))

    def stars(self, user_id: int) -> np.ndarray:
        """The user's predicted stars for every catalogue movie (its scores, for a star model)."""
        return (self.star_scores or self.scores)(user_id)

    def explain(self, user_id: object, result: Recommendations, n: int = 5) -> nx.DiGraph:
        """The "because you liked" graph of the first ``n`` results."""
        rated, stars = self.rated.of(user_id)
        because = because_you_liked(
            self.catalogue, self.vectors, result.positions[:n], rated, stars
        )
        return explanation_graph(
            int(user_id), liked_movies(self.catalogue, rated, stars, 3), because
        )

    # ------------------------------------------------------------------ widgets

    def _build_controls(self) -> None:
        users = [str(u) for u in self.rated.user_ids[:MAX_OPTIONS]]
        popular = np.argsort(-self.catalogue.n_ratings, kind="stable")[:MAX_OPTIONS]
        self._titles = self.catalogue.full_titles().iloc[popular].tolist()
        low, high = self.catalogue.year_bounds()
        wide = {"style": {"description_width": "90px"}, "layout": widgets.Layout(width="360px")}
        buttons = {"style": {"description_width": "90px", "button_width": "120px"}}
        self.user = widgets.Combobox(
            value=users[0], options=users, description="User id", placeholder="type a user id",
            ensure_option=False, continuous_update=False, **wide,
        )  # fmt: skip
        self.loved = widgets.Combobox(
            options=self._titles, description="Who loved", placeholder="a movie (optional)",
            ensure_option=False, continuous_update=False, **wide,
        )  # fmt: skip
        self.genres = widgets.SelectMultiple(
            options=self.catalogue.genres, description="Genres", rows=5, **wide
        )
        self.match = widgets.ToggleButtons(options=["any", "all"], description="Match", **buttons)
        self.years = widgets.IntRangeSlider(
            min=low, max=high, value=(low, high), description="Released",
            continuous_update=False, **wide,
        )  # fmt: skip
        self.min_stars = widgets.FloatSlider(
            min=0.5, max=5.0, step=0.25, value=0.5, description="Min stars",
            continuous_update=False, **wide,
        )  # fmt: skip
        self.min_ratings = widgets.IntSlider(
            min=1,
            max=100,
            value=MIN_RATINGS,
            description="Min ratings",
            continuous_update=False,
            **wide,
        )
        self.k = widgets.IntSlider(
            min=1, max=50, value=10, description="Top K", continuous_update=False, **wide
        )
        self.hide_rated = widgets.Checkbox(value=True, description="hide movies already rated")
        self.order = widgets.ToggleButtons(options=list(ORDERS), description="Show", **buttons)
        self.status = widgets.HTML()
        self.table = widgets.HTML()
        self.picture = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.loved.observe(self._on_loved, names="value")
        for control in self.controls:
            if control is not self.loved:
                control.observe(self.update, names="value")

    @property
    def controls(self) -> list[widgets.Widget]:
        return [
            self.user, self.loved, self.genres, self.match, self.years, self.min_stars,
            self.min_ratings, self.k, self.hide_rated, self.order,
        ]  # fmt: skip

    def filters(self) -> Filters:
        """The controls' current settings (full year range = every year, also unknown ones)."""
        years = self.years.value
        full = years == (self.years.min, self.years.max)
        return Filters(
            genres=tuple(self.genres.value),
            match=self.match.value,
            years=None if full else tuple(years),
            min_stars=self.min_stars.value,
            min_ratings=self.min_ratings.value,
            hide_rated=self.hide_rated.value,
            k=self.k.value,
            order=ORDERS[self.order.value],
        )

    def update(self, change=None) -> None:
        """Recompute the table (and the picture) for the current controls; errors go to status."""
        started = time.perf_counter()
        try:
            user = int(self.rated.user_ids[self.rated.row(self.user.value)])
            result = self.results(user, self.filters())
        except ExplorerError as error:
            self._show_error(str(error))
            return
        self.table.value = TABLE_STYLE + result.table.to_html(
            index=False, classes="explorer-results", border=0
        )
        table_ms = 1000 * (time.perf_counter() - started)
        self.status.value = f"User {user}: {html.escape(result.status)} ({table_ms:.0f} ms)"
        explained = (user, tuple(result.positions[:5]))
        if self.vectors is not None and explained != self._explained:  # drawing costs ~0.1 s
            self.picture.value = _png(draw_explanation(self.explain(user, result)))
            self._explained = explained

    def _show_error(self, message: str) -> None:
        self.table.value = ""
        self.picture.value = b""
        self._explained = None
        self.status.value = f"<span style='color:#b00020'>{html.escape(message)}</span>"

    def _on_loved(self, change) -> None:
        """Narrow the user list to users who rated the chosen movie at least 4.5 stars."""
        title = (change["new"] or "").strip()
        if not title:
            self.user.options = [str(u) for u in self.rated.user_ids[:MAX_OPTIONS]]
            return
        try:
            position = self.catalogue.find(title)
        except ExplorerError as error:
            self._show_error(str(error))
            return
        fans = self.rated.loved_by(position)
        if len(fans) == 0:
            self._show_error(f"Nobody rated {title!r} 4.5 stars or more; try another movie.")
            return
        self.user.options = [str(u) for u in fans[:MAX_OPTIONS]]
        if self.user.value not in self.user.options:
            self.user.value = self.user.options[0]  # triggers update

    def widget(self) -> widgets.Widget:
        """The whole explorer, ready to ``display``."""
        left = widgets.VBox([self.user, self.loved, self.genres, self.match, self.years])
        right = widgets.VBox(
            [self.min_stars, self.min_ratings, self.k, self.order, self.hide_rated]
        )
        return widgets.VBox(
            [widgets.HBox([left, right]), self.status, self.table, self.picture],
            layout=widgets.Layout(width="100%"),
        )
