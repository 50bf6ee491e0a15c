"""The course website: it builds from the committed notebooks, and refuses broken sources."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import build_site

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def text_of(page: Path) -> str:
    """A built page's visible text, tags stripped and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


def squash(text: str) -> str:
    """Only letters and digits: markdown marks, smart quotes and spacing do not matter."""
    return re.sub(r"\W+", "", text)


def notebook(path: Path, *markdown: str) -> None:
    """Write a minimal notebook made of markdown cells."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    content = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(content), encoding="utf-8")


GOALS = (
    "# {title}\n\nYou will:\n\n- learn one thing;\n- and a second one that wraps\n  onto a line."
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built by the README's command, into a temporary folder."""
    out = tmp_path_factory.mktemp("site") / "site"
    command = [sys.executable, "-m", "tools.build_site", "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"built the site of \d+ notebooks in [\d.]+ s", result.stdout)
    return out


def test_landing_page_says_what_and_for_whom_and_lists_every_notebook(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    text = text_of(site / "index.html")
    for words in ["GraphSAGE", "PyTorch Geometric", "MovieLens", "instructors", "laptop CPU"]:
        assert words in text
    assert "Students" in text
    for path in NOTEBOOKS:
        read = build_site.read_notebook(path)
        assert read.title in text and path.name in text
        assert f'href="notebooks/{path.stem}.html"' in index
        assert all(squash(goal) in squash(text) for goal in read.goals), path.name


def test_every_notebook_has_its_page_and_the_explorer_says_how_to_run_it(site: Path) -> None:
    for path in NOTEBOOKS:
        assert (site / "notebooks" / f"{path.stem}.html").exists()
    explorers = [path for path in NOTEBOOKS if "explorer" in path.name]
    assert explorers
    for path in explorers:
        text = text_of(site / "notebooks" / f"{path.stem}.html")
        assert "Voilà" in text and f".venv/bin/voila notebooks/{path.name}" in text


def test_setup_and_licence_come_from_the_readme(site: Path) -> None:
    assert "pip install" in text_of(site / "setup.html")
    licence = text_of(site / "licence.html")
    for words in ["© GroupLens", "redistributed", "Harper", "Konstan", "2015", "Vig", "2012"]:
        assert words in licence


def test_goal_bullets_take_the_list_after_you_will() -> None:
    goals = build_site.goal_bullets(GOALS.format(title="x") + "\n\nMore text.\n- not a goal")
    assert goals == ["learn one thing;", "and a second one that wraps onto a line."]
    assert build_site.goal_bullets("# x\n\nNo goals here.\n\n- a bullet") == []


def test_toc_check_finds_a_notebook_left_out(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    for name in ["01_a", "02_b", "03_explorer"]:
        notebook(tmp_path / "notebooks" / f"{name}.ipynb", GOALS.format(title=name))
    (tmp_path / "index.md").write_text("# Home\n", encoding="utf-8")
    toc = "format: jb-book\nroot: index\nchapters:\n  - file: notebooks/01_a\n"
    (tmp_path / "_toc.yml").write_text(toc + "  - file: notebooks/03_explorer.ipynb\n")
    assert build_site.missing_from_toc(tmp_path) == ["02_b.ipynb"]
    (tmp_path / "_toc.yml").write_text(toc.replace("file: notebooks/01_a", "glob: notebooks/*"))
    assert build_site.missing_from_toc(tmp_path) == []


def test_build_fails_when_the_toc_leaves_a_notebook_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(ROOT / "site", sources)
    listed = "\n".join(f"      - file: notebooks/{path.stem}" for path in NOTEBOOKS[:-1])
    toc = (sources / "_toc.yml").read_text(encoding="utf-8")
    assert "      - glob: notebooks/*" in toc
    (sources / "_toc.yml").write_text(toc.replace("      - glob: notebooks/*", listed))
    assert build_site.main(["--site", str(sources), "--out", str(tmp_path / "site")]) == 1
    error = capsys.readouterr().err
    assert "not in the table of contents" in error and NOTEBOOKS[-1].name in error


@pytest.mark.parametrize(
    ("markdown", "named"),
    [("See [it](02_gone.ipynb).", "02_gone.ipynb"), ("![a plot](plots/gone.png)", "gone.png")],
    ids=["broken link", "missing image"],
)
def test_build_fails_on_a_broken_link_or_a_missing_image(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], markdown: str, named: str
) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    notebook(notebooks / "01_intro.ipynb", GOALS.format(title="Intro"), markdown)
    notebook(notebooks / "02_explorer.ipynb", GOALS.format(title="Explorer"))
    assert build_site.main(["--notebooks", str(notebooks), "--out", str(tmp_path / "site")]) == 1
    captured = capfd.readouterr()
    assert named in captured.err and "site build failed" in captured.err
