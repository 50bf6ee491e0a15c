"""Every named model trains and answers; no GNN is worse than the bias model where it is blind."""

import dataclasses
import importlib

import numpy as np
import pytest

from helpers import Settings, baselines, data, evaluate, features, metrics, models, protocol
from helpers.models.graphsage import LISTS, STARS, _Run, serve, train_lists, train_stars
from helpers.models.neighbourhood import WEIGHT_DECAYS, train_neighbourhood


@pytest.fixture(scope="module")
def small(course, small_folder):
    settings = Settings.from_env().replace(
        dataset=str(small_folder), cache=course["settings"].cache, max_epochs=2
    )
    train, test = protocol.protocol_split(data.load_ratings(settings), 42)
    return settings, train, test, data.load_movie_data(settings)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_model_trains_and_answers_in_shape(small, name):
    settings, train, test, source = small
    model = models.MODELS[name](train, source, settings)
    users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
    assert model.predict(users, movies).shape == (len(test),)
    grid = model.score(np.unique(users)[:3], np.unique(movies))
    assert grid.shape == (3, len(np.unique(movies))) and not np.isnan(grid).any()


def test_the_named_models_are_the_kits_and_the_default_is_one():
    assert set(models.MODELS) == {
        "global-mean", "bias", "most-popular", "ease", "svd", "svd++", "graphsage",
        "graphsage-content", "graphsage-final", "graphsage-cold-users", "graphsage-cold-movies",
        "lightgcn", "gnn-ranking", "gnn-rating", "gnn",
    }  # fmt: skip
    assert models.DEFAULT_MODEL in models.MODELS and models.NO_FOLD_IN <= set(models.MODELS)


def test_unknown_model_names_say_which_exist(small_folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        evaluate.main(["--data-dir", str(small_folder), "--out", str(tmp_path),
                       "--model", "graphsage-xl"])  # fmt: skip
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "graphsage-xl" in error and all(name in error for name in models.MODELS)


def _graphsage_stars(train, source, settings, seed=42, progress=False):
    return train_stars(train, source, settings, seed=seed)


def _graphsage_content_stars(train, source, settings, seed=42, progress=False):
    config = dataclasses.replace(STARS, recipe=features.CONTENT)
    return train_stars(train, source, settings, config=config, seed=seed)


@pytest.mark.parametrize(
    "build",
    [_graphsage_stars, _graphsage_content_stars, models.MODELS["gnn-rating"]],
    ids=["graphsage-stars", "graphsage-content-stars", "gnn-rating"],
)
def test_no_gnn_is_worse_than_the_bias_model_on_movies_without_train_ratings(course, build):
    settings, train, test = (
        course["settings"].replace(max_epochs=30),
        course["train"],
        course["test"],
    )
    cold = test[~test["movieId"].isin(train["movieId"])]
    bias = baselines.BiasBaseline().fit(train)
    model = build(train, course["source"], settings)
    actual = cold["rating"].to_numpy()
    ours = metrics.rmse(
        model.predict(cold["userId"].to_numpy(), cold["movieId"].to_numpy()), actual
    )
    theirs = metrics.rmse(
        bias.predict(cold["userId"].to_numpy(), cold["movieId"].to_numpy()), actual
    )
    assert len(cold) > 500 and ours <= theirs + 1e-9


def test_the_star_model_keeps_the_width_and_learning_rate_best_on_validation(small):
    """``train_stars`` trains the config and each width and learning rate it tries, records the
    best validation RMSE of each, and serves the one with the lowest."""
    settings, train, _, source = small
    config = dataclasses.replace(STARS, channels_tried=(8,), lrs_tried=(0.05,), guard=None)
    model = train_stars(train, source, settings, config=config, seed=42)
    assert set(model.tried) == {
        "64 channels, lr 0.01",
        "8 channels, lr 0.01",
        "64 channels, lr 0.05",
    }
    kept = min(model.tried, key=model.tried.get)
    assert model.model.movie_ids.embedding_dim == int(kept.split()[0])
    assert model.tried[kept] == pytest.approx(-max(model.history.valid.values()))
    assert STARS.channels_tried and STARS.lrs_tried  # the kit's warm star models choose


def test_star_models_warm_and_cold_ask_fit_for_a_moving_average(small, monkeypatch):
    """The warm and the cold-start star configs ask ``fit`` to validate and keep a moving average
    of about 10 epochs (the best of many noisy last-weight checks flattered the model, and its
    blend trusted that luck: README), and ``train_stars`` passes it on for both
    (``tests/test_train.py`` tests the average itself); the cold-start list config does not."""
    graphsage = importlib.import_module("helpers.models.graphsage")  # the module, not the model

    settings, train, _, source = small
    passed = []

    def recording_fit(*args, **kwargs):
        passed.append(kwargs["average"])
        return fit(*args, **kwargs)

    fit = graphsage.fit
    monkeypatch.setattr(graphsage, "fit", recording_fit)
    config = dataclasses.replace(STARS, channels_tried=(), lrs_tried=(), guard=None)
    train_stars(train, source, settings, config=config, seed=42)
    cold = dataclasses.replace(graphsage.COLD_STARS, guard=None)
    train_stars(train, source, settings, config=cold, seed=42, cold=protocol.NEW_MOVIES)
    assert passed == [0.9, 0.9] and STARS.average == 0.9
    assert graphsage.COLD_LISTS.average is None


def test_the_rating_gnn_keeps_the_weight_decay_best_on_validation(small):
    """``train_neighbourhood`` trains once per weight decay, records each one's best validation
    RMSE, and serves the one with the lowest: its history is that training's."""
    settings, train, _, source = small
    model = train_neighbourhood(train, source, settings, weight_decays=(1e-4, 0.5))
    assert set(model.tried) == {"weight decay 0.0001", "weight decay 0.5"}
    kept = min(model.tried, key=model.tried.get)
    assert model.tried[kept] == pytest.approx(-max(model.history.valid.values()))
    assert model.tried[kept] < max(model.tried.values())  # the two differ: a choice was made
    assert len(WEIGHT_DECAYS) > 1  # the kit's rating GNN chooses


def test_warm_lists_are_served_on_the_graph_they_were_checked_on(small):
    """A warm list model answers with its embeddings of the fit part's graph, the graph
    validation scored it (and chose its blend) on, not of all train ratings (README: served on
    all of them it ranked worse)."""
    settings, train, _, source = small
    config = dataclasses.replace(LISTS, guard=None)
    lists = train_lists(train, source, settings, config=config, seed=42)
    fit = _Run.of(train, source, settings, config, 42, None, "fit", all_ids=True)
    checked = serve(lists.model, fit.graph, fit.maps, fit.tables, fit.base, "fit", stars=False)
    np.testing.assert_array_equal(lists.lists.users, checked.lists.users)
    assert len(fit.fit_part) < len(train)  # the validation ratings are not in that graph
