"""``python -m tools.run_notebooks``: bad arguments end in one ``error:`` line before any kernel
starts (the notebooks themselves run in tests/test_main_job.py)."""

import nbformat
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


@pytest.mark.parametrize("pattern", ["", " ", "/etc/*", "../*", "../notebooks/*", "x/../../*"])
def test_only_takes_names_inside_notebooks(pattern, no_kernel, capsys):
    assert run_notebooks.main(["--only", pattern]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --only takes a glob") and err.count("\n") == 1


def test_only_never_runs_a_file_that_is_not_a_notebook(no_kernel, capsys):
    assert run_notebooks.main(["--only", "*.md"]) == 2
    assert "no notebook matches" in capsys.readouterr().err


def test_out_naming_a_file_is_refused_before_any_notebook_runs(tmp_path, no_kernel, capsys):
    existing = tmp_path / "keep.txt"
    existing.write_text("keep me")
    assert run_notebooks.main(["--only", "01*", "--out", str(existing)]) == 2
    assert "is a file" in capsys.readouterr().err and existing.read_text() == "keep me"
    assert run_notebooks.main(["--only", "01*", "--out", str(existing / "sub")]) == 2
    assert "cannot be written" in capsys.readouterr().err


def test_relative_path_settings_mean_the_folder_the_command_started_from(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    monkeypatch.chdir(tmp_path)
    relative = {"MOVIELENS_MIRROR": "mirror", "MOVIELENS_CACHE": "cache ",
                "MOVIELENS_ARTIFACTS": "./artifacts", "MOVIELENS_RESULTS": "out/results",
                "MOVIELENS_DATASET": "ml-latest-small", "MOVIELENS_GENOME": "none"}  # fmt: skip
    for variable, value in relative.items():
        monkeypatch.setenv(variable, value)
    seen = []
    monkeypatch.setattr(
        run_notebooks, "execute", lambda *args, **kwargs: seen.append(args) or (0.0, None)
    )
    assert run_notebooks.main(["--only", "01*", "--out", str(tmp_path / "build")]) == 0
    kernel = seen[0][3]  # the environment the kernel (running in notebooks/) gets
    for variable, folder in (("MOVIELENS_MIRROR", "mirror"), ("MOVIELENS_CACHE", "cache"),
                             ("MOVIELENS_ARTIFACTS", "artifacts"),
                             ("MOVIELENS_RESULTS", "out/results")):  # fmt: skip
        assert kernel[variable] == str(tmp_path / folder), variable
    assert kernel["MOVIELENS_DATASET"] == "ml-latest-small" and kernel["MOVIELENS_GENOME"] == "none"


KNOWN_FAILURE = """
import nbformat, sys
from pathlib import Path
from tools import run_notebooks
path = Path(sys.argv[1])
code = "from helpers import Settings\\nSettings.from_env({'MOVIELENS_MIRROR': 'no/such/folder'})"
nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
try:
    run_notebooks.execute(path, None)
except run_notebooks.CellExecutionError as error:
    print(run_notebooks.failure(path, error), file=sys.stderr)
"""


def test_a_known_error_in_a_notebook_is_its_sentence_without_kernel_warnings(tmp_path):
    import os
    import subprocess
    import sys

    from helpers.settings import REPO

    env = os.environ | {"PYTHONPATH": str(REPO)}  # the kernel imports this checkout's helpers
    result = subprocess.run(
        [sys.executable, "-c", KNOWN_FAILURE, str(tmp_path / "01_broken.ipynb")],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    lines = [line for line in result.stderr.splitlines() if line.strip() and "cell/s]" not in line]
    assert lines == [
        "error: 01_broken.ipynb stopped: MOVIELENS_MIRROR='no/such/folder' is not a folder. "
        + __import__("helpers.settings").settings.MIRROR_HELP
    ], result.stderr


SOLVED = """<details><summary>Solution 1</summary>

```python
print(f"{0.8213:.4f} over 610 users")
```

Expected output:

```text
0.8213 over 610 users
```

It reads the output.
</details>

<details><summary>Solution 2</summary>

```python
print("no block")
```
</details>"""


def executed(notebook, text: str):
    """The solution cells of ``notebook`` as the runner builds them, showing ``text``."""
    cells = []
    for number, solution in enumerate(run_notebooks.solutions(notebook), 1):
        cell = nbformat.v4.new_code_cell(solution.code)
        cell.id = f"solution-{number}"
        if solution.expected is not None:
            cell.metadata["expected"] = solution.expected
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def test_a_solution_is_its_code_and_its_expected_output():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(SOLVED)])
    first, second = run_notebooks.solutions(notebook)
    assert first.code.startswith('print(f"{0.8213') and first.expected == "0.8213 over 610 users\n"
    assert second.code == 'print("no block")\n' and second.expected is None


@pytest.mark.parametrize(
    ("shown", "accepted"),
    [
        ("0.8213 over 610 users\n", True),
        ("0.8220 over 610 users\n", True),  # within the policy's 1 %
        ("0.9213 over 610 users\n", False),
        ("0.8213 over 611 users\n", False),  # counts are exact by default
        ("0.8213 over 610 movies\n", False),
    ],
)
def test_a_solution_must_print_its_expected_output(shown, accepted):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(SOLVED)])
    messages = run_notebooks.unexpected(executed(notebook, shown), "01_dataset_exploration")
    assert (messages == []) is accepted
    if not accepted:
        assert "solution-1 printed" in messages[0] and "Expected output says" in messages[0]


@pytest.mark.parametrize("path", run_notebooks.notebooks(), ids=lambda p: p.stem)
def test_every_worked_solution_says_what_it_prints(path):
    notebook = nbformat.read(path, as_version=4)
    found = run_notebooks.solutions(notebook)
    assert found, f"{path.name} has no worked solution"
    missing = [n for n, solution in enumerate(found, 1) if solution.expected is None]
    assert not missing, f"{path.name}: solutions {missing} have no 'Expected output' text block"
