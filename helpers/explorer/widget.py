"""The recommendation explorer (notebook 08): ipywidgets over :mod:`helpers.explorer.logic`, a list
for a user of the data set or for *you*; ``voila apps/explorer.ipynb`` serves it."""

from __future__ import annotations

import html
import io
import time
from functools import partial

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.data import STARS
from helpers.explorer import explain, logic
from helpers.explorer.logic import ExplorerError, Filters, Recommendations
from helpers.metrics import Rated

LOVED = 4.5  # stars: a user "loved" a movie it rated at least this
MIN_RATINGS = 10  # scores of movies with a handful of ratings rest on little evidence
MAX_OPTIONS = 3000  # users / titles offered in a search list (any id can still be typed)
STYLE = (
    "<style>.explorer-results {border-collapse: collapse; font-size: 13px}"
    " .explorer-results th, .explorer-results td {padding: 2px 10px; text-align: left}"
    " .explorer-results tbody tr:nth-child(odd) {background: #f4f6f8}</style>"
)
WATCHED = "mode user genres match years min_stars min_ratings k hide_rated order".split()


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


def _wide(kind, description: str, **options) -> widgets.Widget:
    """A control of the two columns: labels 90px wide, boxes 360px."""
    style, layout = {"description_width": "90px"}, widgets.Layout(width="360px")
    return kind(description=description, style=style, layout=layout, **options)


def _slider(kind, description: str, low, high, value, **more) -> widgets.Widget:
    return _wide(kind, description, min=low, max=high, value=value, continuous_update=False, **more)


def _toggles(description: str, options: list[str], **style) -> widgets.ToggleButtons:
    style = {"description_width": "90px", **style}
    return widgets.ToggleButtons(options=options, description=description, style=style)


class Explorer:
    """The controls, the status line, the results table and the "because you liked" picture:
    ``model`` serves the data set's users (scored once), ``you_model`` folds in your ratings."""

    def __init__(self, model, you_model, train: pd.DataFrame, movies: pd.DataFrame):
        self.model, self.you_model = model, you_model
        self.catalogue = catalogue = logic.Catalogue.of(movies, train)
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
        self.loved = search("Who loved", placeholder="a movie (optional)", options=titles)
        self.title = search("Movie", placeholder="search a title", options=titles)
        self.title.continuous_update = True  # its value follows every key typed
        stars = [s / 2 for s in range(int(2 * STARS[1]), int(2 * STARS[0]) - 1, -1)]  # 5 .. 0.5
        self.your_stars = _wide(widgets.Dropdown, "Stars", options=stars, value=4.0)
        self.add = widgets.Button(description="Add")
        self.remove = widgets.Button(description="Remove")
        self.your_list, self.status, self.table = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.genres = _wide(widgets.SelectMultiple, "Genres", options=catalogue.genres, rows=5)
        self.match = _toggles("Match", ["any", "all"], button_width="80px")
        low, high = int(np.nanmin(catalogue.year)), int(np.nanmax(catalogue.year))
        self.years = _slider(widgets.IntRangeSlider, "Released", low, high, (low, high))
        self.min_stars = _slider(widgets.FloatSlider, "Min stars", *STARS, STARS[0], step=0.25)
        self.min_ratings = _slider(widgets.IntSlider, "Min ratings", 1, 100, MIN_RATINGS)
        self.k = _slider(widgets.IntSlider, "Top K", 1, 50, 10)
        self.hide_rated = widgets.Checkbox(value=True, description="hide movies already rated")
        self.order = _toggles("Show", ["top", "least likely"], button_width="100px")
        self.picture = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.user_box = widgets.VBox([self.user, self.loved])
        buttons = widgets.HBox([self.add, self.remove])
        self.you_box = widgets.VBox([self.title, self.your_stars, buttons, self.your_list])
        self.loved.observe(self._on_loved, names="value")
        self.add.on_click(
            lambda _: self._change(self.yours.add, self.title.value, self.your_stars.value)
        )
        self.remove.on_click(lambda _: self._change(self.yours.remove, self.title.value))
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
        self.you_box.layout.display = None if you else "none"
        started = time.perf_counter()
        try:
            result, who, rated, stars = self.results(self.filters())
        except ExplorerError as error:
            return self._show_error(error)
        self.table.value = STYLE + result.table.to_html(classes="explorer-results", border=0)
        took = 1000 * (time.perf_counter() - started)
        self.status.value = f"{who}: {html.escape(result.status)} ({took:.0f} ms)"
        try:
            vectors = self.vectors["you" if you else "users"]
            because = explain.because_you_liked(vectors, result.positions[:5], rated, stars)
            graph = explain.explanation_graph(self.catalogue, who, because, rated, stars)
            self._show_picture(_png(explain.draw_explanation(graph)))
        except ExplorerError:
            self._show_picture(b"")

    def _show_picture(self, png: bytes) -> None:
        self.picture.value = png
        self.picture.layout.display = None if png else "none"  # not a broken-image icon

    def _show_error(self, error: ExplorerError, keep: bool = False) -> None:
        """A prompt in grey or a mistake in red; ``keep``: the last list and picture stay."""
        if not keep:
            self.table.value = ""
            self._show_picture(b"")
        prompt = isinstance(error, logic.ExplorerPrompt)
        kind, colour = ("prompt", "#555555") if prompt else ("error", "#b00020")
        text = html.escape(str(error))
        self.status.value = f"<span class='explorer-{kind}' style='color:{colour}'>{text}</span>"

    def _change(self, action, *args) -> None:
        """Add or remove one of your ratings, then show your list (a typo keeps the last one)."""
        try:
            action(*args)
        except ExplorerError as error:
            return self._show_error(error, keep=True)
        labels, given = self.catalogue.labels(), self.yours.stars.items()
        rows = [f"<li>{html.escape(labels.iloc[p])}: {s:g}★</li>" for p, s in given]
        self.your_list.value = f"<b>Your ratings ({len(rows)})</b><ul>{''.join(rows)}</ul>"
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
        left = widgets.VBox([self.mode, self.user_box, self.you_box, self.genres, self.match])
        right = [self.years, self.min_stars, self.min_ratings, self.k, self.order, self.hide_rated]
        top, full = widgets.HBox([left, widgets.VBox(right)]), widgets.Layout(width="100%")
        return widgets.VBox([top, self.status, self.table, self.picture], layout=full)
