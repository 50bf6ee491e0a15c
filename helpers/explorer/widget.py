"""The recommendation explorer (notebook 08): ipywidgets over :mod:`helpers.explorer.logic`, a list
for a user or for *you* and a picture of why; ``voila apps/explorer.ipynb`` serves it."""

from __future__ import annotations

import html
import io
import re
import textwrap
import time
from functools import partial

import ipywidgets as widgets
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.data import STARS
from helpers.explorer import logic
from helpers.explorer.logic import Catalogue, ExplorerError, Filters, Recommendations
from helpers.metrics import Rated

LOVED = 4.5  # stars: a user "loved" a movie it rated at least this
MIN_RATINGS = 10  # scores of movies with a handful of ratings rest on little evidence
MAX_OPTIONS = 3000  # users / titles offered in a search list (any id can still be typed)
STYLE = (
    "<style>.explorer-results {border-collapse: collapse; font-size: 13px}"
    " .explorer-results th, .explorer-results td {padding: 2px 8px; text-align: left}"
    " .explorer-results th {white-space: nowrap}"
    " .explorer-results tbody tr:nth-child(odd) {background: #f4f6f8}</style>"
)
COLUMNS = {"predicted stars": "predicted ★", "ratings": "# ratings"}  # as the table shows them
READ_PICTURE = (
    "<small>How to read the picture: each of the top 5 (right) is linked, dashed, to the movie"
    f" rated {logic.EXPLAINING_STARS:g}★ or more (middle; without one, of the three rated best)"
    " that lies nearest to it in the model's embedding space. It says where a pick sits, not"
    " why the model chose it.</small>"
)
WATCHED = "mode user genres match years min_stars min_ratings k hide_rated order".split()


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
    """``label`` on at most ``lines`` lines of about ``width``: cut with "…", its " (4.5★)" kept."""
    title, stars = re.fullmatch(r"(.*?)((?: \([\d.]+★\))?)", label).groups()
    whole = textwrap.wrap(title + stars, width, max_lines=lines, placeholder="…")
    if not stars or whole[-1].endswith(stars.strip()):
        return "\n".join(whole)
    cut = textwrap.wrap(title, width, max_lines=lines, placeholder="…")
    last = textwrap.shorten(cut[-1], width - len(stars), placeholder="…")
    return "\n".join([*cut[:-1], last + stars])


def draw_explanation(graph: nx.DiGraph) -> Figure:
    """Three columns: who -> the movies it rated highly -> the recommendations, each dashed to the
    rated movie nearest to it. No line crosses a title; a ``$`` in a title is never math."""
    columns = [[n for n in graph if graph.nodes[n]["layer"] == layer] for layer in (0, 1, 2)]
    label = nx.get_node_attributes(graph, "label")
    rows, step = max(3, *map(len, columns)), 0.42  # inches between rows: room for two lines
    width, height = 8.0, step * rows + 0.5
    figure = Figure(figsize=(width, height))
    ax = figure.add_axes((0, 0, 1, 1), xlim=(0, width), ylim=(0, height))  # data units: inches
    ax.set_axis_off()
    top = height - 0.5 - step / 2
    y = {n: top - step * (i + (rows - len(c)) / 2) for c in columns for i, n in enumerate(c)}
    text = {"fontsize": 8, "va": "center", "parse_math": False}
    start = 1.5  # the middle titles start at ``start``; their node follows the longest
    for node in columns[0]:
        ax.text(0.78, y[node], label[node], ha="right", weight="bold", **text)
    middle = {n: ax.text(start, y[n], wrapped(label[n], 30), ha="left", **text) for n in columns[1]}
    inches = ax.transData.inverted()
    ends = {n: inches.transform(t.get_window_extent())[1, 0] for n, t in middle.items()}
    x1 = max(ends.values(), default=start) + 0.2
    x2 = x1 + 1.2
    for node in columns[2]:
        ax.text(x2 + 0.12, y[node], wrapped(label[node], 40), ha="left", **text)
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
    heading = {"fontsize": 9, "weight": "bold", "va": "bottom", "ha": "left"}
    ax.text(start, height - 0.3, "rated highly", **heading)
    ax.text(
        x2 + 0.12, height - 0.3, "recommended (dashed: the rated movie nearest to it)", **heading
    )
    return figure


def _svg(figure: Figure) -> bytes:
    """The picture as SVG: sharp at the size the page gives it (a PNG is rescaled, so blurry)."""
    figure.savefig(buffer := io.BytesIO(), format="svg", bbox_inches="tight")
    return buffer.getvalue()


def _wide(kind, description: str, width: str = "390px", **options) -> widgets.Widget:
    style, layout = {"description_width": "120px"}, widgets.Layout(width=width)
    return kind(description=description, style=style, layout=layout, **options)


def _slider(kind, description: str, low, high, value, **more) -> widgets.Widget:
    return _wide(kind, description, min=low, max=high, value=value, continuous_update=False, **more)


def _toggles(description: str, options: list[str], **style) -> widgets.ToggleButtons:
    style = {"description_width": "120px", **style}
    return widgets.ToggleButtons(options=options, description=description, style=style)


class Explorer:
    """The controls, the status line, the results table and the "because you liked" picture:
    ``model`` serves the data set's users (scored once), ``you_model`` folds in your ratings."""

    def __init__(self, model, you_model, train: pd.DataFrame, movies: pd.DataFrame):
        self.you_model = you_model
        self.catalogue = catalogue = Catalogue.of(movies, train)
        ids, self.rated = catalogue.movie_ids, Rated.of(train, catalogue.movie_ids)

        def stars(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
            grid = model.predict(np.repeat(users, len(movies)), np.tile(movies, len(users)))
            return grid.reshape(len(users), -1)

        self.scores = logic.Scores(model.score, self.rated.user_ids, ids)
        self.stars = logic.Scores(stars, self.rated.user_ids, ids)
        self.vectors = {"users": model.movie_vectors(ids), "you": you_model.movie_vectors(ids)}
        self.yours = logic.YourRatings(catalogue)
        # the controls; a search box takes what is not in its list: any user id, part of a title
        search = partial(_wide, widgets.Combobox, ensure_option=False, continuous_update=False)
        popular = np.argsort(-catalogue.n_ratings, kind="stable")[:MAX_OPTIONS]
        self.titles = titles = catalogue.labels().iloc[popular].tolist()
        users, first = self._users(), str(self.rated.user_ids[0])
        self.mode = _toggles("List for", ["a MovieLens user", "you"])
        self.user = search("User id", placeholder="type a user id", options=users, value=first)
        loved = f"a movie they rated {LOVED:g}★+ (optional)"
        self.loved = search("Users who loved", placeholder=loved, options=titles)
        self.title = search("Movie", placeholder="search a title", options=titles)
        self.title.continuous_update = True  # its value follows every key typed
        stars = [s / 2 for s in range(int(2 * STARS[1]), int(2 * STARS[0]) - 1, -1)]  # 5 .. 0.5
        self.your_stars = _wide(widgets.Dropdown, "Stars", "200px", options=stars, value=4.0)
        self.add = widgets.Button(description="Add", layout=widgets.Layout(width="80px"))
        self.remove = widgets.Button(description="Remove", layout=widgets.Layout(width="80px"))
        self.status, self.table = widgets.HTML(), widgets.HTML()
        # your ratings: a column of their own, scrolling, so the table below never moves down
        scrolls = widgets.Layout(width="300px", max_height="200px", overflow="auto")
        self.your_list = widgets.HTML("<b>Your ratings (0)</b>", layout=scrolls)
        self.genres = _wide(widgets.SelectMultiple, "Genres", options=catalogue.genres, rows=5)
        self.genres_hint = widgets.HTML(
            "<small>Ctrl-click (⌘-click on a Mac) picks several genres; none picked: all</small>",
            layout=widgets.Layout(width="200px", align_self="flex-end"),
        )
        self.match = _toggles("Match", ["any", "all"], button_width="80px")
        span = int(np.nanmin(catalogue.year)), int(np.nanmax(catalogue.year))
        # the years' readout sits beside the slider: the slider's own overlaps its right handle
        self.years = _slider(widgets.IntRangeSlider, "Released", *span, span, readout=False)
        self.years_readout = readout = widgets.Label(layout=widgets.Layout(width="90px"))
        widgets.dlink((self.years, "value"), (readout, "value"), lambda v: f"{v[0]} – {v[1]}")
        self.min_stars = _slider(
            widgets.FloatSlider, "Min predicted ★", *STARS, STARS[0], step=0.25,
            tooltip="only movies the rating model predicts at least this many stars for",
        )  # fmt: skip
        self.min_ratings = _slider(
            widgets.IntSlider, "Min no. of ratings", 1, 100, MIN_RATINGS,
            tooltip="only movies with at least this many ratings in the train part (all users)",
        )  # fmt: skip
        self.k = _slider(widgets.IntSlider, "Top K", 1, 50, 10)
        self.hide_rated = widgets.Checkbox(value=True, description="hide movies already rated")
        self.order = _toggles("Show", ["top", "least likely"], button_width="100px")
        self.picture = widgets.Image(format="svg+xml", layout=widgets.Layout(max_width="900px"))
        self.reading = widgets.HTML(READ_PICTURE, layout=widgets.Layout(max_width="900px"))
        self.user_box = widgets.VBox([self.user, self.loved])
        buttons = widgets.HBox([self.your_stars, self.add, self.remove])
        self.you_box = widgets.VBox([self.title, buttons])
        self.loved.observe(self._on_loved, names="value")
        self.add.on_click(lambda _: self._change(self.yours.add, self.your_stars.value))
        self.remove.on_click(lambda _: self._change(self.yours.remove))
        for name in WATCHED:  # every change of these redraws the list
            getattr(self, name).observe(self.update, names="value")
        self.update()

    def _users(self, ids: np.ndarray | None = None) -> list[str]:
        return [str(u) for u in (self.rated.user_ids if ids is None else ids)[:MAX_OPTIONS]]

    def filters(self) -> Filters:
        """The controls' current settings (the full year range keeps movies without a year)."""
        full = self.years.value == (self.years.min, self.years.max)
        years = None if full else tuple(self.years.value)
        order = "top" if self.order.value == "top" else "least"
        limits = self.min_stars.value, self.min_ratings.value, self.hide_rated.value, self.k.value
        return Filters(tuple(self.genres.value), self.match.value, years, *limits, order)

    def results(self, filters: Filters) -> tuple[Recommendations, str, np.ndarray, np.ndarray]:
        """One update's work: the list, whose it is, and the rated rows and stars behind it."""
        if self.mode.value == "you":
            result, rated = logic.for_you(self.you_model, self.catalogue, self.yours, filters)
            return result, "You", rated, np.fromiter(self.yours.stars.values(), np.float32)
        user = logic.user_row(self.rated, self.user.value)
        rated, stars = self.rated.of_user(user)
        predicted = self.stars(user)
        result = logic.recommend(self.catalogue, self.scores(user), rated, filters, predicted)
        return result, f"User {user}", rated, stars

    def update(self, change=None) -> None:
        """Recompute the table and the picture for the current controls; errors go to status."""
        you = self.mode.value == "you"
        self.user_box.layout.display = "none" if you else None
        self.you_box.layout.display = self.your_list.layout.display = None if you else "none"
        started = time.perf_counter()
        try:
            result, who, rated, stars = self.results(self.filters())
        except ExplorerError as error:
            return self._show_error(error)
        shown = result.table.rename(columns=COLUMNS).reset_index()  # rank: a column, one header
        self.table.value = STYLE + shown.to_html(classes="explorer-results", border=0, index=False)
        took = 1000 * (time.perf_counter() - started)
        self.status.value = f"{who}: {html.escape(result.status)} ({took:.0f} ms)"
        try:
            vectors = self.vectors["you" if you else "users"]
            because = logic.because_you_liked(vectors, result.positions[:5], rated, stars)
            graph = explanation_graph(self.catalogue, who, because, rated, stars)
            self._show_picture(_svg(draw_explanation(graph)))
        except ExplorerError:
            self._show_picture(b"")

    def _show_picture(self, svg: bytes) -> None:
        self.picture.value = svg
        shown = None if svg else "none"  # not a broken-image icon
        self.picture.layout.display = self.reading.layout.display = shown

    def _show_error(self, error: ExplorerError, keep: bool = False) -> None:
        """A prompt in grey or a mistake in red; ``keep``: the last list and picture stay."""
        if not keep:
            self.table.value = ""
            self._show_picture(b"")
        prompt = isinstance(error, logic.ExplorerPrompt)
        kind, colour = ("prompt", "#555555") if prompt else ("error", "#b00020")
        text = html.escape(str(error))
        self.status.value = f"<span class='explorer-{kind}' style='color:{colour}'>{text}</span>"

    def _change(self, action, *stars) -> None:
        """Add or remove your rating of the typed title, then show your list. A typo keeps the last
        list and picture: your ratings did not change, so neither did the list they give."""
        try:
            action(self.title.value, *stars)
        except ExplorerError as error:
            return self._show_error(error, keep=True)
        labels, given = self.catalogue.labels(), self.yours.stars.items()
        rows = "".join(f"<li>{html.escape(labels.iloc[p])}: {s:g}★</li>" for p, s in given)
        self.your_list.value = f"<b>Your ratings ({len(given)})</b><ul style='margin:0'>{rows}</ul>"
        self.update()

    def _on_loved(self, change) -> None:
        """Narrow the user list to the users who gave the chosen movie :data:`LOVED` or more."""
        title, rated = (change["new"] or "").strip(), self.rated
        if not title:
            self.user.options = self._users()
            return self.update()
        try:
            loved = (rated.positions == self.catalogue.find(title)) & (rated.stars >= LOVED)
            if not loved.any():
                raise ExplorerError(
                    f"Nobody rated {title!r} {LOVED:g} stars or more; try another movie."
                )
        except ExplorerError as error:
            return self._show_error(error)
        rows = np.searchsorted(rated.indptr, np.flatnonzero(loved), side="right") - 1  # of users
        self.user.options = self._users(rated.user_ids[rows])
        if self.user.value not in self.user.options:
            self.user.value = self.user.options[0]  # triggers update
        else:
            self.update()

    def widget(self) -> widgets.Widget:
        """The whole explorer, ready to ``display``."""
        match = widgets.HBox([self.match, self.genres_hint])
        left = widgets.VBox([self.mode, self.user_box, self.you_box, self.genres, match])
        years = widgets.HBox([self.years, self.years_readout])
        right = [years, self.min_stars, self.min_ratings, self.k, self.order, self.hide_rated]
        top = widgets.HBox([left, widgets.VBox(right), self.your_list])
        parts = [top, self.status, self.table, self.picture, self.reading]
        return widgets.VBox(parts, layout=widgets.Layout(width="100%"))
