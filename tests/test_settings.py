"""Settings: every MOVIELENS_* variable is read in Settings.from_env and a bad value is refused."""

import dataclasses
from pathlib import Path

import pytest

from helpers.settings import LARGE, LARGE_EPOCHS, REPO, VARIABLES, Settings, SettingsError


def test_defaults_are_the_course():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.dataset == "ml-latest-small"
    assert settings.mirror is None and settings.genome is None
    assert settings.user_sample is None and settings.max_epochs is None
    assert settings.cache == REPO / "data" and settings.artifacts == REPO / "artifacts"
    assert settings.is_course_data


def test_valid_values_parse(tmp_path):
    settings = Settings.from_env(
        {
            "MOVIELENS_DATASET": " ml-25m ",
            "MOVIELENS_MIRROR": str(tmp_path),
            "MOVIELENS_CACHE": str(tmp_path / "cache"),
            "MOVIELENS_GENOME": "none",
            "MOVIELENS_USER_SAMPLE": "10000",
            "MOVIELENS_MAX_EPOCHS": " 5 ",
            "MOVIELENS_ARTIFACTS": "~/artifacts",
        }
    )
    assert settings.dataset == "ml-25m"
    assert settings.mirror == str(tmp_path)
    assert settings.cache == tmp_path / "cache"
    assert settings.genome == "none"
    assert settings.user_sample == 10_000
    assert settings.max_epochs == 5
    assert settings.artifacts == Path.home() / "artifacts"
    assert not settings.is_course_data


def test_from_env_reads_the_process_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MOVIELENS_USER_SAMPLE", "50")
    monkeypatch.setenv("MOVIELENS_CACHE", str(tmp_path))
    settings = Settings.from_env()
    assert settings.user_sample == 50 and settings.cache == tmp_path


@pytest.mark.parametrize("name", ["max_epochs", "user_sample"])
@pytest.mark.parametrize(
    "value", ["0", "abc", "-3", "10.5", "1e3", pytest.param("²", id="superscript-2")]
)
def test_a_count_that_is_not_a_positive_whole_number_is_refused(name, value):
    variable = VARIABLES[name]
    with pytest.raises(SettingsError, match=f"{variable}=.*positive whole number"):
        Settings.from_env({variable: value})


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_count_means_unset(value):
    settings = Settings.from_env({"MOVIELENS_USER_SAMPLE": value, "MOVIELENS_MAX_EPOCHS": value})
    assert settings.user_sample is None and settings.max_epochs is None


def test_mirror_that_is_not_a_folder(tmp_path):
    with pytest.raises(SettingsError, match="MOVIELENS_MIRROR=.*is not a folder"):
        Settings.from_env({"MOVIELENS_MIRROR": str(tmp_path / "nowhere")})
    (tmp_path / "file.zip").write_bytes(b"")
    with pytest.raises(SettingsError, match="MOVIELENS_MIRROR"):
        Settings.from_env({"MOVIELENS_MIRROR": str(tmp_path / "file.zip")})


@pytest.mark.parametrize("url", ["file:///srv/movielens", "https://mirror.example/movielens"])
def test_mirror_urls_are_taken_as_they_are(url):
    assert Settings.from_env({"MOVIELENS_MIRROR": url}).mirror == url


def test_label_names_the_data_and_the_sample():
    assert Settings().label == "ml-latest-small"
    assert Settings(dataset="ml-25m", user_sample=10_000).label == "ml-25m-10000users"
    assert Settings(dataset="/data/ratings-25M/").label == "ratings-25M"
    assert not Settings(user_sample=50).is_course_data


def test_epochs_are_capped():
    assert Settings(max_epochs=5).epochs(300, 1_000) == 5
    assert Settings(max_epochs=500).epochs(300, LARGE) == 300
    assert Settings().epochs(300, 100_836) == 300
    assert Settings().epochs(300, LARGE - 1) == 300
    assert Settings().epochs(300, 2_000_000) == LARGE_EPOCHS == 10
    assert Settings().epochs(3, 25_000_095) == 3


def test_settings_are_frozen_and_replace_makes_a_copy(tmp_path):
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.cache = tmp_path  # type: ignore[misc]
    moved = settings.replace(cache=tmp_path)
    assert moved.cache == tmp_path and settings.cache == REPO / "data"


@pytest.mark.parametrize("folder", ["ml-latest-small/", "./ml-latest-small"])  # bare: the release
def test_a_folder_named_like_the_course_data_is_not_the_course_data(tmp_path, folder, monkeypatch):
    from helpers import checkpoint, leaderboard

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ml-latest-small").mkdir()
    for path in (folder, str(tmp_path / folder)):
        settings = Settings(dataset=path)
        assert not settings.is_course_data
        assert leaderboard.path(settings).name != "leaderboard.csv"
        assert checkpoint.path_of("gnn", settings).name != "gnn.pt"


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ("https://[bad", "is not a valid URL"),
        ("http://host:port/", "is not a valid URL"),
        ("ftp://files.grouplens.org/datasets/movielens", "cannot be read"),
        ("https://", "cannot be read"),
    ],
)
def test_a_mirror_url_the_kit_cannot_use_is_refused_at_once(mirror, message):
    with pytest.raises(SettingsError, match=message) as error:
        Settings.from_env({"MOVIELENS_MIRROR": mirror})
    assert "MOVIELENS_MIRROR" in str(error.value) and "SHA-256" not in str(error.value)


def test_folder_settings_are_stripped_and_blank_means_the_default(tmp_path):
    names = ("MOVIELENS_CACHE", "MOVIELENS_ARTIFACTS", "MOVIELENS_RESULTS")
    blank = Settings.from_env(dict.fromkeys(names, "  "))
    default = Settings()
    assert (blank.cache, blank.artifacts, blank.results) == (
        default.cache,
        default.artifacts,
        default.results,
    )
    padded = Settings.from_env(
        {"MOVIELENS_CACHE": f" {tmp_path} ", "MOVIELENS_RESULTS": f"{tmp_path}\n"}
    )
    assert padded.cache == tmp_path and padded.results == tmp_path


def test_every_setting_has_its_variable():
    """``VARIABLES`` names every field's ``MOVIELENS_*`` variable, spelled out for a search."""
    fields = [field.name for field in dataclasses.fields(Settings)]
    assert VARIABLES == {name: f"MOVIELENS_{name.upper()}" for name in fields}
