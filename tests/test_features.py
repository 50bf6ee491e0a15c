"""Node features: right rows on the right nodes, train ratings only, seeded reductions."""

import re

import numpy as np
import pandas as pd
import pytest

from helpers import data, features, graph, protocol, viz


@pytest.fixture(scope="module")
def tables(course):
    return course["ratings"], course["source"].movies, course["train"], course["test"]


@pytest.fixture(scope="module")
def maps(tables):
    _, movies, train, _ = tables
    return graph.IdMaps.from_tables(train, movies)


def test_year_of_movie_node_i_is_the_year_in_movie_i_title(tables, maps):
    _, movies, _, _ = tables
    shuffled = movies.sample(frac=1.0, random_state=0)  # file order must not matter
    year = features.movie_year(shuffled, maps)
    assert year.index.equals(pd.Index(maps.movies.ids))
    titles = movies.set_index("movieId")["title"].reindex(maps.movies.ids)
    for node in np.random.default_rng(0).choice(len(maps.movies), 300, replace=False):
        found = re.search(r"\((\d{4})\)\s*$", titles.iloc[node])
        if found:
            assert year["year"].iloc[node] == int(found.group(1))
            assert year["year_missing"].iloc[node] == 0
        else:
            assert year["year_missing"].iloc[node] == 1


def test_missing_years_get_the_median_and_a_flag(tables, maps):
    _, movies, _, _ = tables
    year = features.movie_year(movies, maps)
    missing = year["year_missing"] == 1
    assert missing.sum() == movies["year"].isna().sum() > 0
    assert (year.loc[missing, "year"] == movies["year"].dropna().median()).all()


def test_genres_and_stats_align_with_movie_nodes(tables, maps):
    _, movies, train, _ = tables
    genres = features.movie_genres(movies.iloc[::-1], maps)
    toy_story = maps.movies.index(np.array([1]))[0]
    listed = "Adventure|Animation|Children|Comedy|Fantasy".split("|")
    assert set(genres.columns[genres.iloc[toy_story] == 1]) == {f"genre_{g}" for g in listed}
    stats = features.movie_stats(train, maps)
    count = (train["movieId"] == 1).sum()
    assert stats["rating_log_count"].iloc[toy_story] == pytest.approx(np.log1p(count))


def test_user_features_align_with_user_nodes(tables, maps):
    _, _, train, _ = tables
    stats = features.user_stats(train, maps)
    node = maps.users.index(np.array([414]))[0]
    mine = train[train["userId"] == 414]["rating"]
    assert stats["rating_mean"].iloc[node] == pytest.approx(mine.mean())
    assert stats["rating_var"].iloc[node] == pytest.approx(mine.var(ddof=0))
    temporal = features.user_temporal(train, maps)
    hours = temporal.filter(like="hour_").to_numpy()
    assert np.allclose(hours.sum(axis=1), 1.0)
    stamps = pd.to_datetime(train.loc[train["userId"] == 414, "timestamp"], unit="s", utc=True)
    expected = stamps.dt.dayofweek.value_counts(normalize=True).sort_index()
    days = temporal.filter(like="day_").iloc[node].to_numpy()
    assert np.allclose(days[expected.index], expected.to_numpy())
    expected = stamps.dt.hour.value_counts(normalize=True).sort_index()
    assert np.allclose(hours[node, expected.index], expected.to_numpy())


def test_changing_test_ratings_changes_no_feature(course, tables, maps):
    ratings, _, train, test = tables
    changed = ratings.copy()
    changed.loc[test.index, "rating"] = 5.0 - changed.loc[test.index, "rating"] + 0.5
    changed.loc[test.index, "timestamp"] += 12345
    changed_train = protocol.protocol_split(changed, 42).train
    assert changed_train.equals(train)  # same rows: only test ratings differ
    recipe = features.temporal_features
    for build in (
        lambda t: recipe.users(t, maps),
        lambda t: recipe.movies(t, maps, course["source"]),
    ):
        pd.testing.assert_frame_equal(build(train), build(changed_train))


def test_train_only_tags_drop_tags_of_test_pairs(tables):
    _, _, train, test = tables
    pair = test.iloc[0]
    tags = pd.DataFrame(
        {"userId": [pair.userId], "movieId": [pair.movieId], "tag": ["spoiler"], "timestamp": [0]}
    )
    assert features.train_tags(tags, train).empty


def test_genome_join_handles_movies_without_genome(maps):
    covered = maps.movies.ids[[0, 5, 7]]
    genome = pd.DataFrame(
        {
            "movieId": np.repeat(np.append(covered, 10**8), 4),  # 10**8: not in the graph
            "tagId": np.tile(np.arange(1, 5), 4),
            "relevance": np.random.default_rng(0).random(16),
        }
    )
    reduction = features.genome_reduction(genome, n=3, seed=0)
    table = features.on_movie_nodes(reduction, maps, "has_genome")
    assert table.index.equals(pd.Index(maps.movies.ids))
    assert table["has_genome"].sum() == 3
    assert table.loc[covered, "has_genome"].eq(1).all()
    assert not table.isna().any().any()
    others = table.drop(index=covered)
    assert (others.to_numpy() == 0).all()
    assert np.allclose(table.loc[covered, "genome_00"], reduction.scores.loc[covered, "genome_00"])


def test_real_genome_subset_covers_some_movies(course, maps):
    genome = data.load_genome(course["settings"], maps.movies.ids)
    table = features.on_movie_nodes(features.genome_reduction(genome, seed=1), maps, "has_genome")
    assert 0 < table["has_genome"].sum() == genome["movieId"].nunique() < len(maps.movies)


def test_reductions_are_seeded(course, tables, maps):
    _, _, train, _ = tables
    tags = features.train_tags(course["source"].tags, train)
    first = features.tag_reduction(tags, n=8, seed=3)
    second = features.tag_reduction(tags, n=8, seed=3)
    pd.testing.assert_frame_equal(first.scores, second.scores)
    assert first.top_terms().shape == (8, 7)


def test_umap_is_seeded():
    vectors = np.random.default_rng(0).normal(size=(120, 8))
    first = viz.project_2d(vectors, seed=7, n_epochs=20)
    second = viz.project_2d(vectors, seed=7, n_epochs=20)
    assert np.array_equal(first, second)


def test_neighbour_agreement_sees_real_clusters():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 50)
    vectors = rng.normal(size=(150, 4)) + np.repeat(np.eye(3, 4) * 8, 50, axis=0)
    result = viz.neighbour_agreement(vectors, labels, k=5)
    assert result["k-NN agreement"] > 0.9 > 0.5 > result["shuffled labels"]


def test_neighbour_agreement_shares_tied_places_and_never_counts_the_point_itself():
    # four copies of one point (labels a, a, b, b) and two of another (c, c): for a copy of the
    # first, the 3 others tie as its nearest neighbour, 1 of them shares its label
    vectors = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 2)
    labels = np.array(["a", "a", "b", "b", "c", "c"])
    result = viz.neighbour_agreement(vectors, labels, k=1, metric="euclidean")
    assert result["k-NN agreement"] == pytest.approx((4 * (1 / 3) + 2 * 1.0) / 6)


def test_neighbour_agreement_is_the_same_under_rounding_noise_and_row_order():
    rng = np.random.default_rng(1)
    distinct = rng.normal(size=(40, 6))
    vectors = distinct[rng.integers(0, 40, 200)]  # many exact copies, as movies with equal tags
    labels = rng.choice(list("abcd"), 200)
    noisy = vectors * (1 + 1e-13 * rng.standard_normal(vectors.shape))
    order = rng.permutation(200)
    results = [
        viz.neighbour_agreement(v, y, k=5)["k-NN agreement"]
        for v, y in ((vectors, labels), (noisy, labels), (vectors[order], labels[order]))
    ]
    assert results[0] == pytest.approx(results[1], abs=1e-12)
    assert results[0] == pytest.approx(results[2], abs=1e-12)


def test_scaling_uses_table_statistics_clips_and_names_columns(course, tables, maps):
    _, _, train, _ = tables
    users = features.NodeFeatures.standardise(features.rich_features.users(train, maps))
    assert users.columns == ["rating_mean", "rating_log_count", "rating_var"]
    x = users.tensor()
    assert x.shape == (len(maps.users), 3) and float(x.abs().max()) <= features.NodeFeatures.CLIP
    unclipped = (users.raw - users.mean) / users.std
    assert np.allclose(
        x.numpy()[np.abs(unclipped.to_numpy()) < 2.9],
        unclipped.to_numpy()[np.abs(unclipped.to_numpy()) < 2.9],
        atol=1e-5,
    )
    again = users.apply(users.raw.iloc[:5])  # other rows, the same scaling
    assert np.allclose(again.tensor().numpy(), x.numpy()[:5])
    with pytest.raises(TypeError, match="blocks are functions"):
        features.FeatureRecipe("bad", ("stats",))  # a name, as recipes once took


def test_feature_tables_scale_other_ratings_as_fitted_and_keep_the_movies(course, tables, maps):
    _, _, train, _ = tables
    recipe = features.rich_features
    fitted = features.FeatureTables.fit(recipe, train, maps, course["source"])
    assert fitted.users.columns == ["rating_mean", "rating_log_count", "rating_var"]
    fewer = train.iloc[: len(train) // 3]
    users, movies = fitted.on(fewer, maps)
    raw = recipe.users(fewer, maps)
    clip = features.NodeFeatures.CLIP
    expected = ((raw - fitted.users.mean) / fitted.users.std).clip(-clip, clip)
    assert np.allclose(users.numpy(), expected.to_numpy(), atol=1e-5)  # recomputed, scaled as fit
    refitted = features.NodeFeatures.standardise(raw).tensor().numpy()
    assert not np.allclose(users.numpy(), refitted, atol=1e-3)  # not scaled on their own rows
    assert np.array_equal(movies.numpy(), fitted.movies.tensor().numpy())  # movies as fitted
    assert features.FeatureTables.fit(None, train, maps, course["source"]).on(train, maps) == (
        None,
        None,
    )
    assert features.MovieData is data.MovieData  # still importable from features


def test_title_words_describe_a_movie_nobody_rated(tables, maps):
    _, movies, _, _ = tables
    table = features.on_movie_nodes(
        features.title_reduction(movies, n=8, seed=0), maps, "has_title"
    )
    star_wars = movies.loc[movies["title"].str.startswith("Star Wars"), "movieId"].to_numpy()
    rows = table.loc[star_wars].filter(like="title_").to_numpy()
    assert np.linalg.matrix_rank(rows, tol=1e-6) < len(rows)  # sequels share their title words
    assert table["has_title"].all()


def test_top_terms_of_a_two_word_vocabulary():
    tags = pd.DataFrame(
        {"userId": [1, 2, 3, 4], "movieId": [1, 1, 2, 2], "tag": ["synthetic tag 1"] * 4}
    ).assign(tag=["synthetic tag 1", "synthetic tag 2", "tag 3", "synthetic 4"])
    reduction = features.tag_reduction(tags, n=2, seed=0)
    top = reduction.top_terms(5)
    assert list(top.columns[:-1]) == list(range(1, reduction.loadings.shape[1] + 1))
    assert set(top.iloc[0, :-1]) <= {"synthetic", "tag"}
