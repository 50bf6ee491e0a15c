"""The recommendation explorer (notebook 08): ipywidgets over :mod:`helpers.explorer.logic`.

Two modes: a user of the data set (scores computed once, every click only filters and ranks),
or *you*: rate a few movies and your list is folded into the model after every change. The same
widget runs in a notebook and, with ``voila notebooks/08_explorer.ipynb``, as a web page.
"""

from __future__ import annotations

import html
import io
import time

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from helpers.explorer import explain, logic
from helpers.explorer.logic import ExplorerError, Filters
from helpers.recommender import Rated

MIN_RATINGS = 10  # scores of movies with a handful of ratings rest on little evidence
MAX_OPTIONS = 3000  # users / titles offered in a search list (any id can still be typed)
STYLE = (
    "<style>.explorer-results {border-collapse: collapse; font-size: 13px}"
    " .explorer-results th, .explorer-results td {padding: 2px 10px; text-align: left}"
    " .explorer-results tbody tr:nth-child(odd) {background: #f4f6f8}</style>"
)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


class Explorer:
    """The controls, the status line, the results table and the "because you liked" picture."""

    def __init__(self, model, you_model, train: pd.DataFrame, movies: pd.DataFrame):
        """``model`` serves the data set's users, ``you_model`` folds in your ratings."""
        self.model, self.you_model = model, you_model
        self.catalogue = logic.Catalogue.of(movies, train)
        self.rated, ids = Rated.of(train, self.catalogue.movie_ids), self.catalogue.movie_ids
        self.scores = logic.Scores(model.score, self.rated.user_ids, ids)
        self.stars = logic.Scores(
            lambda u, m: model.predict(np.repeat(u, len(m)), np.tile(m, len(u))).reshape(
                len(u), -1
            ),
            self.rated.user_ids,
            ids,
        )
        self.vectors = {"users": model.movie_vectors(ids), "you": you_model.movie_vectors(ids)}
        self.yours = logic.YourRatings(self.catalogue)
        self._build()
        self.update()

    # ------------------------------------------------------------------ logic (no widgets)

    def results(
        self, filters: Filters
    ) -> tuple[logic.Recommendations, str, np.ndarray, np.ndarray]:
        """One update's work: the list, whose it is, and the rated rows and stars behind it."""
        if self.mode.value == "you":
            result, rated = logic.for_you(self.you_model, self.catalogue, self.yours, filters)
            return result, "You", rated, np.fromiter(self.yours.stars.values(), np.float32)
        user = logic.user_row(self.rated, self.user.value)
        rated, stars = self.rated.of_user(user)
        return (
            logic.recommend(self.catalogue, self.scores(user), rated, filters, self.stars(user)),
            f"User {user}",
            rated,
            stars,
        )

    # ------------------------------------------------------------------ widgets

    def _build(self) -> None:
        wide = {"style": {"description_width": "90px"}, "layout": widgets.Layout(width="360px")}
        popular = np.argsort(-self.catalogue.n_ratings, kind="stable")[:MAX_OPTIONS]
        self.titles = self.catalogue.labels().iloc[popular].tolist()
        low, high = int(np.nanmin(self.catalogue.year)), int(np.nanmax(self.catalogue.year))
        self.mode = widgets.ToggleButtons(
            options=["a MovieLens user", "you"],
            description="List for",
            style={"description_width": "90px"},
        )

        def search(description: str, placeholder: str, options: list, live=False, **more):
            """A search box that also takes what is not in its list (any id, any title part)."""
            return widgets.Combobox(
                options=options, description=description, placeholder=placeholder,
                ensure_option=False, continuous_update=live, **wide, **more,
            )  # fmt: skip

        first_user = str(self.rated.user_ids[0])
        self.user = search("User id", "type a user id", self._users(), value=first_user)
        self.loved = search("Who loved", "a movie (optional)", self.titles)
        self.title = search("Movie", "search a title", self.titles, live=True)
        self.your_stars = widgets.Dropdown(
            options=[s / 2 for s in range(10, 0, -1)], value=4.0, description="Stars", **wide
        )
        self.add, self.remove = (
            widgets.Button(description="Add"),
            widgets.Button(description="Remove"),
        )
        self.your_list = widgets.HTML()
        self.genres = widgets.SelectMultiple(
            options=self.catalogue.genres, description="Genres", rows=5, **wide
        )
        self.match = widgets.ToggleButtons(
            options=["any", "all"],
            description="Match",
            style={"description_width": "90px", "button_width": "80px"},
        )
        self.years = widgets.IntRangeSlider(
            min=low,
            max=high,
            value=(low, high),
            description="Released",
            continuous_update=False,
            **wide,
        )
        self.min_stars = widgets.FloatSlider(
            min=0.5,
            max=5.0,
            step=0.25,
            value=0.5,
            description="Min stars",
            continuous_update=False,
            **wide,
        )
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
        self.order = widgets.ToggleButtons(
            options=["top", "least likely"],
            description="Show",
            style={"description_width": "90px", "button_width": "100px"},
        )
        self.status, self.table = widgets.HTML(), widgets.HTML()
        self.picture = widgets.Image(format="png", layout=widgets.Layout(max_width="760px"))
        self.loved.observe(self._on_loved, names="value")
        self.add.on_click(
            lambda _: self._change(self.yours.add, self.title.value, self.your_stars.value)
        )
        self.remove.on_click(lambda _: self._change(self.yours.remove, self.title.value))
        for control in (
            self.mode,
            self.user,
            self.genres,
            self.match,
            self.years,
            self.min_stars,
            self.min_ratings,
            self.k,
            self.hide_rated,
            self.order,
        ):
            control.observe(self.update, names="value")

    def _users(self, ids: np.ndarray | None = None) -> list[str]:
        return [str(u) for u in (self.rated.user_ids if ids is None else ids)[:MAX_OPTIONS]]

    def filters(self) -> Filters:
        """The controls' current settings (the full year range keeps movies without a year)."""
        full = self.years.value == (self.years.min, self.years.max)
        return Filters(
            tuple(self.genres.value), self.match.value, None if full else tuple(self.years.value),
            self.min_stars.value, self.min_ratings.value, self.hide_rated.value, self.k.value,
            "top" if self.order.value == "top" else "least",
        )  # fmt: skip

    def update(self, change=None) -> None:
        """Recompute the table and the picture for the current controls; errors go to status."""
        self.user_box.layout.display = "none" if self.mode.value == "you" else None
        self.you_box.layout.display = None if self.mode.value == "you" else "none"
        started = time.perf_counter()
        try:
            result, who, rated, stars = self.results(self.filters())
        except ExplorerError as error:
            self._show_error(str(error))
            return
        self.table.value = STYLE + result.table.to_html(classes="explorer-results", border=0)
        took = 1000 * (time.perf_counter() - started)
        self.status.value = f"{who}: {html.escape(result.status)} ({took:.0f} ms)"
        try:
            vectors = self.vectors["you" if self.mode.value == "you" else "users"]
            because = explain.because_you_liked(vectors, result.positions[:5], rated, stars)
            self.picture.value = _png(
                explain.draw_explanation(
                    explain.explanation_graph(self.catalogue, who, because, rated, stars)
                )
            )
        except ExplorerError:
            self.picture.value = b""

    def _show_error(self, message: str) -> None:
        self.table.value, self.picture.value = "", b""
        self.status.value = (
            f"<span class='explorer-error' style='color:#b00020'>{html.escape(message)}</span>"
        )

    def _change(self, action, *args) -> None:
        """Add or remove one of your ratings, then show your list again."""
        try:
            action(*args)
        except ExplorerError as error:
            self._show_error(str(error))
            return
        labels = self.catalogue.labels()
        rows = [
            f"<li>{html.escape(labels.iloc[p])}: {s:g}★</li>" for p, s in self.yours.stars.items()
        ]
        self.your_list.value = f"<b>Your ratings ({len(rows)})</b><ul>{''.join(rows)}</ul>"
        self.update()

    def _on_loved(self, change) -> None:
        """Narrow the user list to users who rated the chosen movie 4.5 stars or more."""
        title = (change["new"] or "").strip()
        if not title:
            self.user.options = self._users()
            self.update()
            return
        try:
            fans = logic.loved_by(self.rated, self.catalogue.find(title))
            if len(fans) == 0:
                raise ExplorerError(f"Nobody rated {title!r} 4.5 stars or more; try another movie.")
        except ExplorerError as error:
            self._show_error(str(error))
            return
        self.user.options = self._users(fans)
        if self.user.value not in self.user.options:
            self.user.value = self.user.options[0]  # triggers update
        else:
            self.update()

    @property
    def user_box(self) -> widgets.Widget:
        if not hasattr(self, "_user_box"):
            self._user_box = widgets.VBox([self.user, self.loved])
        return self._user_box

    @property
    def you_box(self) -> widgets.Widget:
        if not hasattr(self, "_you_box"):
            self._you_box = widgets.VBox(
                [self.title, self.your_stars, widgets.HBox([self.add, self.remove]), self.your_list]
            )
        return self._you_box

    def widget(self) -> widgets.Widget:
        """The whole explorer, ready to ``display``."""
        left = widgets.VBox([self.mode, self.user_box, self.you_box, self.genres, self.match])
        right = widgets.VBox(
            [self.years, self.min_stars, self.min_ratings, self.k, self.order, self.hide_rated]
        )
        return widgets.VBox(
            [widgets.HBox([left, right]), self.status, self.table, self.picture],
            layout=widgets.Layout(width="100%"),
        )
