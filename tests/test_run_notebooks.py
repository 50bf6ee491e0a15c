"""The main job: a notebook runs top to bottom in a fresh kernel, which reports its peak memory."""

import nbformat

from helpers import run_notebooks


def test_execute_reports_time_and_kernel_peak_memory(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("block = bytearray(200 * 1024**2)  # 200 MiB, touched"),
        nbformat.v4.new_code_cell("print(len(block))"),
    ]
    source, target = tmp_path / "tiny.ipynb", tmp_path / "out" / "tiny.ipynb"
    nbformat.write(notebook, source)
    seconds, peak = run_notebooks.execute(source, target)
    assert seconds > 0
    assert peak is not None and peak >= 200 * 1024**2
    executed = nbformat.read(target, as_version=4)
    assert executed.cells[1].outputs[0]["text"].strip() == str(200 * 1024**2)


def test_run_notebooks_never_writes_other_data_into_the_committed_notebooks(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("MOVIELENS_DATASET", str(tmp_path / "ratings-25M"))
    assert run_notebooks.main(["--inplace"]) == 2
    assert "ratings-25M" in capsys.readouterr().err
