"""The peers of ``benchmarks/peers.py``: each answers the kit's interface, learns, and is tuned
on the validation part only."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import peers  # noqa: E402
from helpers import baselines, metrics  # noqa: E402


def _structured(seed: int = 0, n: int = 2_000) -> pd.DataFrame:
    """Stars = user taste + movie quality + noise, on the half-star scale."""
    rng = np.random.default_rng(seed)
    users, movies = rng.integers(1, 81, n), rng.integers(1, 61, n)
    taste, quality = rng.normal(0, 0.7, 81), rng.normal(0, 0.7, 61)
    stars = 3.5 + taste[users] + quality[movies] + rng.normal(0, 0.3, n)
    half_stars = (np.clip(stars, 0.5, 5.0) * 2).round() / 2
    frame = pd.DataFrame({"userId": users, "movieId": movies, "rating": half_stars})
    return frame.drop_duplicates(["userId", "movieId"]).reset_index(drop=True)


def test_bayesian_fm_learns_and_answers_unknown_ids():
    ratings = _structured()
    train, test = ratings.iloc[:1500], ratings.iloc[1500:]
    model = peers.BayesianFM(samples=40, seed=0).fit(train)
    mean_rmse = metrics.rmse(np.full(len(test), train["rating"].mean()), test["rating"].to_numpy())
    assert metrics.rating_metrics(model, test)["RMSE"] < 0.8 * mean_rmse
    stars = model.predict(np.array([1, 10_000]), np.array([10_000, 1]))
    assert np.isfinite(stars).all()


def test_ials_scores_only_movies_it_modelled():
    ratings = _structured(1)
    model = peers.IALS(factors=4, iterations=3).fit(ratings)
    liked = np.sort(ratings.loc[ratings["rating"] >= 4, "movieId"].unique())
    scores = model.score(np.array([1, 2, 10_000]), np.array([liked[0], 10_000]))
    assert np.isfinite(scores[:2, 0]).all()
    assert np.isneginf(scores[:, 1]).all() and np.isneginf(scores[2]).all()


@pytest.mark.parametrize("peer", ["ials", "ease-tuned"])
def test_a_tuned_peer_keeps_the_setting_best_on_validation(peer, monkeypatch):
    monkeypatch.setattr(peers, "EASE_LAMBDAS", (1.0, 1e6))
    monkeypatch.setattr(
        peers, "IALS_GRID", {"factors": (2, 8), "alpha": (1.0,), "regularization": (0.1,)}
    )
    model = peers.build(peer, _structured(2), seed=0)
    assert model.chosen == max(model.validation, key=model.validation.get)
    assert len(model.validation) == 2
    if peer == "ease-tuned":
        assert model.reg == model.chosen and model.min_rating == 4.0
    else:
        hyper = (
            f"factors {model.factors}, alpha {model.alpha}, regularization {model.regularization}"
        )
        assert model.chosen == hyper


def test_an_ensemble_averages_its_members_and_folds_each_in():
    ratings = _structured(2)
    train, test = ratings.iloc[:1500], ratings.iloc[1500:]
    members = [baselines.BiasBaseline(reg_user=r).fit(train) for r in (1.0, 50.0)]
    ensemble = peers.Ensemble(members, "two biases")
    users, movies = test["userId"].to_numpy(), test["movieId"].to_numpy()
    mean = (members[0].predict(users, movies) + members[1].predict(users, movies)) / 2
    assert np.allclose(ensemble.predict(users, movies), mean)
    assert not np.allclose(mean, members[0].predict(users, movies))  # the members differ
    newcomer = test[test["userId"] == users[0]].assign(userId=-7)
    joined = ensemble.fold_in(newcomer)
    alone = [m.fold_in(newcomer).predict(np.array([-7] * 5), movies[:5]) for m in members]
    assert np.allclose(joined.predict(np.array([-7] * 5), movies[:5]), np.mean(alone, axis=0))
