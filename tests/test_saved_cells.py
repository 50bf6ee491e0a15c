"""Shown first, then saved (issue 31): a notebook cell that starts with
``# @save helpers/<module>.py`` holds definitions only, each the very source of the same-named
definition in that module, so what a learner reads and edits is what the kit runs."""

import ast
import json
from pathlib import Path

import pytest

from helpers.settings import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MARK = "# @save "


def code_cells(notebook: Path) -> list[tuple[str, str]]:
    cells = json.loads(notebook.read_text())["cells"]
    return [(c["id"], "".join(c["source"])) for c in cells if c["cell_type"] == "code"]


def saved_cells() -> list[tuple[str, str, str]]:
    return [
        (notebook.stem, cell_id, source)
        for notebook in NOTEBOOKS
        for cell_id, source in code_cells(notebook)
        if source.startswith(MARK)
    ]


def definitions(source: str, only: bool = True) -> dict[str, str]:
    """Each top-level definition's name and text (decorators included); ``only``: the source
    may hold nothing else (a saved cell), else other statements are skipped (a module)."""
    lines, tree = source.splitlines(), ast.parse(source)
    found = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.ClassDef):
            if not only:
                continue
            raise AssertionError(f"a saved cell holds definitions only, not {ast.dump(node)[:60]}")
        start = (node.decorator_list[0] if node.decorator_list else node).lineno - 1
        found[node.name] = "\n".join(lines[start : node.end_lineno])
    return found


@pytest.mark.parametrize("notebook, cell_id, source", saved_cells(), ids=lambda v: str(v)[:40])
def test_a_saved_cell_is_its_helper(notebook, cell_id, source):
    mark, _, body = source.partition("\n")
    module = REPO / mark.removeprefix(MARK).strip()
    assert module.is_file(), f"{notebook} {cell_id}: {module} does not exist"
    saved = definitions(module.read_text(), only=False)
    for name, text in definitions(body).items():
        assert name in saved, f"{notebook} {cell_id}: {module.name} has no {name}"
        assert text == saved[name], f"{notebook} {cell_id}: {name} differs from {module.name}'s"


def test_the_models_are_shown_where_they_are_taught():
    shown = {(nb, name) for nb, _, source in saved_cells() for name in definitions(
        source.partition("\n")[2])}  # fmt: skip
    wanted = {
        ("02_graph_and_graphsage", "GraphSAGE"),
        ("02_graph_and_graphsage", "list_step"),
        ("06_best_gnns", "RankingLightGCN"),
        ("06_best_gnns", "GraphFilter"),
        ("06_best_gnns", "NeighbourhoodGNN"),
        ("07_cold_start", "Practice"),
        ("07_cold_start", "Blend"),
    }
    assert wanted <= shown, f"not shown: {sorted(wanted - shown)}"


def test_no_notebook_prints_helper_source():
    """Code is shown by defining it (a saved cell), never by printing a helper's source."""
    for notebook in NOTEBOOKS:
        for cell_id, source in code_cells(notebook):
            assert "getsource" not in source, f"{notebook.stem} {cell_id} calls inspect.getsource"


def test_a_changed_cell_fails(tmp_path):
    """The check can fail: a saved cell that differs by one character is caught."""
    notebook, _, source = saved_cells()[0]
    body = source.partition("\n")[2]
    module = REPO / source.partition("\n")[0].removeprefix(MARK).strip()
    saved = definitions(module.read_text(), only=False)
    changed = definitions(body.replace("self", "me", 1))
    assert any(text != saved[name] for name, text in changed.items())
