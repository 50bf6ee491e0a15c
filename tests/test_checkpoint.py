"""Saved models: reused when up to date, retrained (with one sentence) when damaged or stale."""

import dataclasses
import hashlib
import json
import pickle
import shutil

import numpy as np
import pytest

from helpers import Settings, checkpoint, data, features, models, protocol
from helpers.models import MODELS


@pytest.fixture
def setup(course, small_folder, tmp_path):
    settings = Settings.from_env().replace(
        dataset=str(small_folder),
        cache=course["settings"].cache,
        artifacts=tmp_path / "artifacts",
        max_epochs=2,
    )
    train = protocol.protocol_split(data.load_ratings(settings), 42).train
    return settings, train, data.load_movie_data(settings)


def _no_training(*args, **kwargs):
    raise AssertionError("an up-to-date saved model must be loaded, not trained")


def _named(name: str, build):
    """``build`` as a model function named ``name`` (``load_or_train`` files it by its name)."""

    def model(train, source, settings, seed=42, progress=False):
        return build(train, source, settings, seed, progress)

    model.__name__ = model.__qualname__ = name
    return model


bias = _named("bias", MODELS["bias"])


def test_round_trip_gives_identical_answers(setup):
    settings, train, source = setup
    first = checkpoint.load_or_train(models.graphsage, train, source, settings)
    assert checkpoint.path_of("graphsage", settings).is_file()
    second = checkpoint.load_or_train(_named("graphsage", _no_training), train, source, settings)
    users, movies = np.sort(train["userId"].unique()), np.sort(train["movieId"].unique())
    assert np.array_equal(first.score(users, movies), second.score(users, movies))
    assert np.array_equal(
        first.predict(users, movies[: len(users)]), second.predict(users, movies[: len(users)])
    )


def test_each_named_model_is_kept_in_a_file_of_its_own_name(setup, monkeypatch):
    """``load_or_train`` takes any model of ``helpers.models.MODELS``: each has a file of its
    own, ``artifacts/<its function's name>.pt`` (two sharing one would load each other's)."""
    settings, train, source = setup
    read = []
    monkeypatch.setattr(checkpoint, "load", lambda path, expected: read.append(path) or object())
    for build in MODELS.values():
        checkpoint.load_or_train(build, train, source, settings)  # loaded, so nothing trains
    names = [build.__name__.replace("_", "-") for build in MODELS.values()]
    assert [path.name for path in read] == [checkpoint.path_of(n, settings).name for n in names]
    assert len(set(read)) == len(MODELS)


@pytest.mark.parametrize("damage", [b"", b"\x80\x04not a pickle", "truncate"])
def test_a_damaged_file_is_reported_and_retrained(setup, capsys, damage):
    settings, train, source = setup
    checkpoint.load_or_train(bias, train, source, settings)
    path = checkpoint.path_of("bias", settings)
    path.write_bytes(path.read_bytes()[:100] if damage == "truncate" else damage)
    model = checkpoint.load_or_train(bias, train, source, settings)
    assert "is damaged" in capsys.readouterr().out and model.predict(
        train["userId"][:3].to_numpy(), train["movieId"][:3].to_numpy()
    ).shape == (3,)
    assert (
        checkpoint.load(path, checkpoint.fingerprint("bias", train, settings, 42, source))
        is not None
    )  # rewritten whole


def test_other_data_seed_or_settings_make_a_saved_model_stale(setup, capsys):
    settings, train, source = setup
    checkpoint.load_or_train(bias, train, source, settings)
    expected = checkpoint.fingerprint("bias", train, settings, 42, source)
    assert checkpoint.fingerprint("bias", train, settings, 43, source) != expected
    assert checkpoint.fingerprint("bias", train.iloc[1:], settings, 42, source) != expected
    assert (
        checkpoint.fingerprint("bias", train, settings.replace(max_epochs=3), 42, source)
        != expected
    )
    checkpoint.load_or_train(bias, train, source, settings, seed=43)
    assert "made by other data or code" in capsys.readouterr().out


@pytest.mark.parametrize("table", ["movies", "genome", "genome_tags", "tags"])
def test_a_change_to_any_table_the_model_reads_makes_a_saved_model_stale(setup, capsys, table):
    settings, train, source = setup
    checkpoint.load_or_train(bias, train, source, settings)
    original = getattr(source, table)
    if original is None:
        pytest.skip(f"the small folder has no {table}")
    changed = original.copy()
    column = "relevance" if table == "genome" else changed.columns[-1]
    if table == "movies":
        column = "title"
    other = changed[column][changed[column] != changed[column].iloc[0]].iloc[0]
    changed.loc[changed.index[0], column] = other
    altered = dataclasses.replace(source, **{table: changed})
    expected = checkpoint.fingerprint("bias", train, settings, 42, source)
    assert checkpoint.fingerprint("bias", train, settings, 42, altered) != expected
    checkpoint.load_or_train(bias, train, altered, settings)
    assert "made by other data or code" in capsys.readouterr().out


def test_any_change_to_helpers_changes_the_fingerprint(tmp_path, monkeypatch):
    copy = tmp_path / "repo"
    shutil.copytree(
        checkpoint.REPO / "helpers", copy / "helpers", ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setattr(checkpoint, "REPO", copy)
    before = checkpoint.code_digest()
    once_forgotten = ("metrics.py", "protocol.py", "data.py", "baselines.py")
    for module in (*once_forgotten, "models/graphsage.py"):
        path = copy / "helpers" / module
        original = path.read_text()
        path.write_text(original + "\n# changed\n")
        assert checkpoint.code_digest() != before, module
        path.write_text(original)
    assert checkpoint.code_digest() == before


@pytest.mark.parametrize(
    "name",
    ["most-popular", "ease", "svd", "svd++", "graphsage-final", "graphsage-cold-users", "gnn"],
)
def test_every_kind_of_model_comes_back_identical_without_pickle(setup, tmp_path, name):
    settings, train, source = setup
    model = MODELS[name](train, source, settings)
    path = checkpoint.save(model, tmp_path / f"{name}.pt", "f")
    assert b"pickle" not in path.read_bytes()[:64] and not path.read_bytes().startswith(b"\x80")
    again = checkpoint.load(path, "f")
    users, movies = np.sort(train["userId"].unique()), np.sort(train["movieId"].unique())
    assert np.array_equal(model.score(users, movies), again.score(users, movies))
    pairs = users, movies[: len(users)]
    assert np.array_equal(model.predict(*pairs), again.predict(*pairs))


def test_overwritten_bytes_inside_a_saved_model_are_caught(setup, capsys):
    settings, train, source = setup
    model = checkpoint.load_or_train(models.graphsage, train, source, settings)
    path = checkpoint.path_of("graphsage", settings)
    writer = checkpoint._Writer()
    writer.encode(model)
    floats = [a for a in writer.arrays.values() if a.dtype == np.float32 and a.nbytes > 8192]
    raw = bytearray(path.read_bytes())
    start = raw.find(max(floats, key=len).tobytes()[:256])  # inside the largest float array
    assert start > 0
    raw[start : start + 4096] = b"\x7f" * 4096  # as float32: 3.4e38
    path.write_bytes(bytes(raw))
    expected = checkpoint.fingerprint("graphsage", train, settings, 42, source)
    assert checkpoint.load(path, expected) is None
    assert "is damaged" in capsys.readouterr().out


def _tree_of(value):
    """The JSON tree and arrays ``checkpoint`` writes for ``value``, read back."""
    writer = checkpoint._Writer()
    tree = json.loads(json.dumps(writer.encode(value)))
    return checkpoint._Reader(writer.arrays).decode(tree)


def test_a_recipe_keeps_its_blocks_by_name_and_refuses_other_functions():
    """A recipe's blocks are the kit's own functions, stored by name; a function of the
    learner's (a lambda, a notebook's def) cannot be stored; a name outside the kit is never
    looked up, and a function a kit module only imports is refused."""
    assert _tree_of(features.temporal_features) == features.temporal_features
    mine = features.FeatureRecipe("mine", (lambda ratings, maps: ratings,))
    with pytest.raises(ValueError, match="cannot store the function"):
        checkpoint._Writer().encode(mine)
    for name in ("os:system", "helpers.download:shutil.rmtree"):  # the second: imported there
        planted = {"id": 0, "$": "function", "name": name}
        with pytest.raises(ValueError, match=f"refuses to load the function {name}"):
            checkpoint._Reader({}).decode(planted)


def test_a_model_with_a_block_of_your_own_is_returned_but_not_kept(setup, capsys):
    settings, train, source = setup

    def mine(train, source, settings, seed, progress):  # stands for a model with such a recipe
        return features.FeatureRecipe("mine", (lambda ratings, maps: ratings,))

    assert checkpoint.load_or_train(mine, train, source, settings).name == "mine"
    assert "is not kept (cannot store the function" in capsys.readouterr().out
    assert not checkpoint.path_of("mine", settings).exists()


class _Planted:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_planted_pickle_runs_no_code(setup, tmp_path, capsys):
    settings, train, source = setup
    marker = tmp_path / "code-ran"
    path = checkpoint.path_of("bias", settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(_Planted(marker)))
    checkpoint.load_or_train(bias, train, source, settings)
    assert not marker.exists(), "loading a saved model ran code from the file"
    assert "old pickle format (never loaded now)" in capsys.readouterr().out
    expected = checkpoint.fingerprint("bias", train, settings, 42, source)
    assert checkpoint.load(path, expected) is not None  # replaced by a real model


def test_a_file_naming_a_class_outside_the_kit_is_refused(setup, tmp_path, capsys):
    tree = {
        "id": 0,
        "$": "object",
        "class": "subprocess:Popen",
        "state": {"$": "dict", "items": []},
    }
    payload = checkpoint.save_arrays({}, metadata={checkpoint.TREE: json.dumps(tree)})
    header = {"fingerprint": "f", "sha256": hashlib.sha256(payload).hexdigest()}
    path = tmp_path / "planted.pt"
    path.write_bytes(checkpoint.MAGIC + json.dumps(header).encode() + b"\n" + payload)
    assert checkpoint.load(path, "f") is None
    assert "refuses to rebuild a subprocess:Popen" in capsys.readouterr().out


def test_an_artifacts_folder_that_cannot_be_written_keeps_the_trained_model(setup, tmp_path,
                                                                            capsys):  # fmt: skip
    settings, train, source = setup
    (tmp_path / "file").write_text("")
    settings = settings.replace(artifacts=tmp_path / "file" / "artifacts")
    model = checkpoint.load_or_train(bias, train, source, settings)
    assert model.predict(train["userId"][:3].to_numpy(), train["movieId"][:3].to_numpy()).shape
    out = capsys.readouterr().out
    assert "cannot be written" in out and "MOVIELENS_ARTIFACTS" in out
