"""``python -m tools.run_notebooks``: bad arguments end in one ``error:`` line before any kernel
starts (the notebooks themselves run in tests/test_main_job.py)."""

import pytest

from tools import run_notebooks


@pytest.fixture
def no_kernel(monkeypatch):
    """Fail the test if a notebook would be executed."""

    def refuse(*args, **kwargs):
        raise AssertionError("a bad argument must be refused before any notebook runs")

    monkeypatch.setattr(run_notebooks, "execute", refuse)
    for variable in ("MOVIELENS_DATASET", "MOVIELENS_USER_SAMPLE"):
        monkeypatch.delenv(variable, raising=False)


def test_inplace_refuses_a_folder_named_like_the_course_data(tmp_path, monkeypatch, no_kernel,
                                                             capsys):  # fmt: skip
    (tmp_path / "ml-latest-small").mkdir()
    monkeypatch.setenv("MOVIELENS_DATASET", str(tmp_path / "ml-latest-small"))
    assert run_notebooks.main(["--inplace", "--only", "01*"]) == 2
    assert "--inplace would store" in capsys.readouterr().err
