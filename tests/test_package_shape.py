"""The shape ``helpers`` keeps (issue 12): short modules that each name the notebook teaching
them, settings read in one place, and one star range."""

import ast
import re

import pytest

from helpers.settings import REPO

MODULES = sorted((REPO / "helpers").rglob("*.py"))
MAX_LINES = 300


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_module_is_short_and_names_its_notebook(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_LINES, f"{path.name} is over {MAX_LINES} lines"
    docstring = ast.get_docstring(ast.parse(source)) or ""
    names_notebook = re.search(r"(?i)notebooks?\s+\d\d", docstring)
    assert names_notebook, f"{path.name}'s docstring names no notebook"


def test_only_settings_reads_the_environment():
    """Other modules take a ``Settings``; seeding may only set CUDA's workspace variable."""
    readers = {
        path.name
        for path in MODULES
        if re.search(r"os\.environ(?!\.setdefault\(\"CUBLAS)|os\.getenv", path.read_text())
    }
    assert readers == {"settings.py"}


def test_the_star_range_is_written_once():
    """``helpers.data.STARS`` is MovieLens' scale; no other module spells it out."""
    spelled = re.compile(r"0\.5\s*,\s*5(\.0)?\b|between\(0\.5|\b0\.5\s*\.\.\s*5")
    writers = {path.name for path in MODULES if spelled.search(path.read_text())}
    assert writers == {"data.py"}
