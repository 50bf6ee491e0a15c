"""``benchmarks/tuning.py``: each setting changes one thing from the kit's defaults, and the
report names what validation picks and what that pick scores on test, each model in its own
direction (GraphSAGE's and LightGCN's lists: NDCG@10 up; stars: RMSE down)."""

import os
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
_environ = dict(os.environ)
import tuning  # noqa: E402 (seeds.py, which it imports, pins the numerics of the process)

os.environ.clear()
os.environ.update(_environ)  # and other tests' subprocesses keep this run's environment


def test_each_setting_changes_one_thing_and_stars_have_no_temperature():
    for model in ("lists", "stars", "lightgcn"):
        configs = tuning.tried(model)
        defaults = configs.pop("defaults")
        alone = defaults.blends == (0.0,) if model == "lightgcn" else defaults.guard is None
        assert alone  # measured alone, not blended
        for setting, config in configs.items():
            changed = [
                f.name
                for f in fields(config)
                if getattr(config, f.name) != getattr(defaults, f.name)
            ]
            assert len(changed) == 1, (model, setting, changed)
    assert "temperature 0.5" in tuning.tried("lists")
    assert "temperature 0.5" not in tuning.tried("stars")
    assert set(tuning.tried("lightgcn")) == {"defaults", "channels 256", "channels 1024"}


def test_validation_picks_by_each_models_direction_and_the_gain_is_on_test():
    rows = [
        # lists: higher is better; validation picks "channels 128", which is worse on test
        ("cut", "lists", "defaults", 0.150, 0.265),
        ("cut", "lists", "channels 128", 0.154, 0.256),
        # stars (RMSE): lower is better; validation picks "lr 0.005", better on test too
        ("cut", "stars", "defaults", 0.866, 0.878),
        ("cut", "stars", "lr 0.005", 0.860, 0.872),
        # LightGCN's lists: higher is better, as GraphSAGE's
        ("cut", "lightgcn", "defaults", 0.165, 0.302),
        ("cut", "lightgcn", "channels 256", 0.168, 0.300),
    ]
    results = pd.DataFrame(rows, columns=["variant", "model", "setting", "validation", "test"])
    table = tuning.picks(results).set_index("model")
    assert table.loc["lists", "validation picks"] == "channels 128"
    assert table.loc["lists", "gain over the defaults"] == "-0.0090"
    assert table.loc["lists", "best on test"] == "defaults"
    assert table.loc["stars", "validation picks"] == "lr 0.005"
    assert table.loc["stars", "gain over the defaults"] == "+0.0060"
    assert table.loc["lightgcn", "validation picks"] == "channels 256"
    assert table.loc["lightgcn", "gain over the defaults"] == "-0.0020"
