"""``benchmarks/generalise.py``: its variants are real cuts of the data, and its verdicts say on
which variant a claim holds, with the right direction for stars and for lists."""

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
_environ = dict(os.environ)
import generalise  # noqa: E402 (seeds.py, which it imports, pins the numerics of the process)

os.environ.clear()
os.environ.update(_environ)  # and other tests' subprocesses keep this run's environment


def _ratings() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 4_000
    years = rng.integers(1996, 2019, n)
    stamps = [pd.Timestamp(f"{y}-06-01", tz="UTC").timestamp() for y in years]
    return pd.DataFrame(
        {"userId": rng.integers(1, 61, n), "movieId": rng.integers(1, 301, n),
         "rating": rng.integers(1, 11, n) / 2, "timestamp": stamps}
    )  # fmt: skip


def test_each_variant_cuts_what_its_name_says():
    ratings = _ratings()
    cut = {name: how(ratings) for name, (how, _) in generalise.VARIANTS.items()}
    year = pd.to_datetime(cut["before-2005"]["timestamp"], unit="s").dt.year
    assert year.max() < 2005 and len(cut["before-2005"]) > 0
    assert pd.to_datetime(cut["after-2010"]["timestamp"], unit="s").dt.year.min() >= 2010
    share = cut["users-30pct"]["userId"].nunique() / ratings["userId"].nunique()
    assert abs(share - 0.3) < 0.01
    assert cut["heavy-users"]["userId"].value_counts().min() >= 50
    assert len(cut["heavy-users"]) < len(ratings)
    assert cut["seed-7"] is ratings and generalise.VARIANTS["seed-7"][1] == 7


def test_each_probe_cuts_what_its_name_says_and_is_run_only_when_named():
    ratings = _ratings()
    cut = {name: how(ratings) for name, (how, _) in generalise.PROBES.items()}
    years = pd.to_datetime(cut["years-2005-2009"]["timestamp"], unit="s").dt.year
    assert years.min() >= 2005 and years.max() <= 2009 and len(cut["years-2005-2009"]) > 0
    assert pd.to_datetime(cut["after-2015"]["timestamp"], unit="s").dt.year.min() >= 2015
    assert cut["users-under-100"]["userId"].value_counts().max() < 100
    counts = cut["users-20-300"]["userId"].value_counts()
    assert counts.min() >= 20 and counts.max() <= 300
    share = cut["users-50pct"]["userId"].nunique() / ratings["userId"].nunique()
    assert share == 0.5
    assert cut["seed-101"] is ratings and generalise.PROBES["seed-101"][1] == 101
    assert not set(generalise.PROBES) & set(generalise.VARIANTS)  # the claims' cuts stay six


def _results(rows: list[tuple], protocol: str) -> pd.DataFrame:
    """Rows of (variant, model, RMSE, NDCG@10) as ``generalise.run`` writes them."""
    columns = ["variant", "model", "RMSE", "NDCG@10"]
    return pd.DataFrame(rows, columns=columns).assign(protocol=protocol)


def test_a_verdict_names_where_a_claim_holds_for_stars_and_for_lists():
    rows = [
        ("seed-7", "gnn-rating", 0.80, 0.30), ("seed-7", "svd++", 0.85, 0.05),
        ("after-2010", "gnn-rating", 0.90, 0.30), ("after-2010", "svd++", 0.85, 0.05),
        ("seed-7", "gnn-ranking", np.nan, 0.31), ("seed-7", "ease", np.nan, 0.30),
        ("after-2010", "gnn-ranking", np.nan, 0.29), ("after-2010", "ease", np.nan, 0.30),
    ]  # fmt: skip
    table = generalise.verdicts(_results(rows, "warm"))
    stars = table.loc["gnn-rating beats svd++ (RMSE, warm)"]
    assert stars["holds on"] == "seed-7" and stars["fails on"] == "after-2010"
    assert stars["seed-7"] == "-0.0500"
    lists = table.loc["gnn-ranking beats ease (NDCG@10, warm)"]
    assert lists["holds on"] == "seed-7" and lists["fails on"] == "after-2010"


def test_saving_replaces_the_rows_of_the_same_keys_and_keeps_the_rest(tmp_path):
    path = tmp_path / "rows.csv"
    first = pd.DataFrame({"variant": ["a", "b"], "protocol": "warm", "model": "m", "RMSE": [1, 2]})
    generalise.seeds.save(first, path, ["variant", "protocol", "model"])
    again = pd.DataFrame({"variant": ["b"], "protocol": "warm", "model": "m", "RMSE": [3]})
    generalise.seeds.save(again, path, ["variant", "protocol", "model"])
    saved = pd.read_csv(path).set_index("variant")["RMSE"]
    assert saved.to_dict() == {"a": 1, "b": 3}


def test_below_fallback_names_each_variant_where_a_model_is_worse_than_its_rule():
    rows = [
        ("seed-7", "graphsage-cold-movies", 0.90, 0.10), ("seed-7", "bias", 0.95, np.nan),
        ("seed-7", "genre-profile-year", 0.93, 0.10),
        ("seed-11", "graphsage-cold-movies", 0.96, 0.05), ("seed-11", "bias", 0.95, np.nan),
        ("seed-11", "genre-profile-year", 0.93, 0.08),
    ]  # fmt: skip
    table = generalise.below_fallback(_results(rows, "new-movies"))
    lists = table.loc["graphsage-cold-movies vs genre-profile-year (NDCG@10, new-movies)"]
    assert lists["below on"] == "seed-11" and lists["largest shortfall"] == "0.0300"
    stars = table.loc["graphsage-cold-movies vs bias (RMSE, new-movies)"]
    assert stars["below on"] == "seed-11" and stars["largest shortfall"] == "0.0100"
    assert lists["variants"] == 2  # the tie on seed 7 (0.10 each) is not below


def test_below_fallback_checks_new_users_at_every_onboarding_size_run():
    """New users at K = 3 and 8 (``--onboarding 3 8``) are checked as K = 1, 5, 20 are."""
    rows = [
        ("seed-7", "graphsage-cold-users", 0.90, 0.30), ("seed-7", "most-popular", 1.0, 0.31),
        ("seed-7", "bias", 0.95, np.nan),
    ]  # fmt: skip
    results = pd.concat([_results(rows, "new-users-k8"), _results(rows, "new-users-k3")])
    table = generalise.below_fallback(results)
    lists = [label for label in table.index if label.startswith("graphsage-cold-users vs most")]
    assert lists == [
        "graphsage-cold-users vs most-popular (NDCG@10, new-users-k3)",
        "graphsage-cold-users vs most-popular (NDCG@10, new-users-k8)",
    ]
    assert (table.loc[lists, "below on"] == "seed-7").all()
    assert table.loc[lists[0], "largest shortfall"] == "0.0100"


def test_warm_stars_are_scored_by_bucket_of_the_movies_train_ratings():
    """``seeds.by_movie_bucket``: every test rating in one bucket (0, 1-4, 5+ train ratings of
    its movie), each bucket's RMSE that of its ratings alone."""
    ratings = _ratings()
    train, test = ratings[:3_000], ratings[3_000:]

    class Constant:
        def predict(self, users, movies):
            return np.full(len(users), 3.0)

    rows = generalise.seeds.by_movie_bucket(Constant(), train, test)
    assert set(rows) <= {"warm-movies-0", "warm-movies-1-4", "warm-movies-5+"}
    assert sum(row["test ratings"] for row in rows.values()) == len(test)
    n = train["movieId"].value_counts().reindex(test["movieId"]).fillna(0).to_numpy()
    many = test["rating"].to_numpy()[n >= 5]
    assert np.isclose(rows["warm-movies-5+"]["RMSE"], np.sqrt(np.mean((many - 3.0) ** 2)))


def test_warm_lists_are_scored_by_bucket_of_the_users_train_ratings():
    """``seeds.by_user_bucket``: every ranked user in one bucket of its train ratings, each
    bucket's NDCG@10 the mean over its users alone."""
    from helpers import baselines, metrics

    ratings = _ratings()
    train, test = ratings[:3_000], ratings[3_000:]
    train = train[~((train["userId"] == 1) & (train.index % 2 == 0))]  # a user with few ratings
    popular = baselines.MostPopular().fit(train)
    rows = generalise.seeds.by_user_bucket(popular, train, test)
    users = metrics.Ranking(train, test).per_user(popular.score)
    assert sum(row["ranked users"] for row in rows.values()) == len(users)
    n = train["userId"].value_counts().reindex(users["userId"]).fillna(0).to_numpy()
    many = users.loc[n >= 5, "NDCG@10"].mean()
    assert np.isclose(rows["warm-users-5+"]["NDCG@10"], many)
