"""Every named model trains and answers; no GNN is worse than the bias model where it is blind."""

import numpy as np
import pytest

from helpers import Settings, baselines, data, metrics, pipeline, split


@pytest.fixture(scope="module")
def small(course, small_folder):
    settings = Settings.from_env().replace(
        dataset=str(small_folder), cache=course["settings"].cache, max_epochs=2
    )
    train, test = split.protocol_split(data.load_ratings(settings), 42)
    return settings, train, test, pipeline.movie_data(settings)


@pytest.mark.parametrize(
    "name", [n for n in pipeline.MODELS if not n.endswith(("-lists", "-stars"))]
)
def test_every_model_trains_and_answers_in_shape(small, name):
    settings, train, test, source = small
    model = pipeline.build(name, train, source, settings)
    users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
    assert model.predict(users, movies).shape == (len(test),)
    grid = model.score(np.unique(users)[:3], np.unique(movies))
    assert grid.shape == (3, len(np.unique(movies))) and not np.isnan(grid).any()


def test_unknown_model_names_say_which_exist(small):
    settings, train, _, source = small
    with pytest.raises(KeyError, match="choose one of"):
        pipeline.build("graphsage-xl", train, source, settings)


@pytest.mark.parametrize("name", ["graphsage-stars", "graphsage-content-stars", "gnn-rating"])
def test_no_gnn_is_worse_than_the_bias_model_on_movies_without_train_ratings(course, name):
    settings, train, test = (
        course["settings"].replace(max_epochs=30),
        course["train"],
        course["test"],
    )
    cold = test[~test["movieId"].isin(train["movieId"])]
    bias = baselines.BiasBaseline().fit(train)
    model = pipeline.build(name, train, course["source"], settings)
    actual = cold["rating"].to_numpy()
    ours = metrics.rmse(
        model.predict(cold["userId"].to_numpy(), cold["movieId"].to_numpy()), actual
    )
    theirs = metrics.rmse(
        bias.predict(cold["userId"].to_numpy(), cold["movieId"].to_numpy()), actual
    )
    assert len(cold) > 500 and ours <= theirs + 1e-9
