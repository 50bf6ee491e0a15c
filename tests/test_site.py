"""The course website: it builds from the committed notebooks, and refuses broken sources."""

from __future__ import annotations

import html
import json
import re
import shutil
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


def next_and_previous(page: Path) -> tuple[str | None, str | None]:
    """The hrefs of a built page's "previous" and "next" links (None where it has none)."""
    html_text = page.read_text(encoding="utf-8")
    links = []
    for kind in ("left-prev", "right-next"):
        found = re.search(rf'<a class="{kind}"\s+href="([^"]+)"', html_text)
        links.append(found.group(1) if found else None)
    return links[0], links[1]


def notebook(path: Path, *markdown: str) -> None:
    """Write a minimal notebook made of markdown cells."""
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    content = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    path.write_text(json.dumps(content), encoding="utf-8")


GOALS = (
    "# {title}\n\nYou will:\n\n- learn one thing;\n- and a second one that wraps\n  onto a line."
    "\n\n**Prerequisites:** notebook 00, and\na line that wraps.\n\nMore text."
)


def test_landing_page_says_what_and_for_whom_and_lists_every_notebook(site: Path) -> None:
    index = (site / "index.html").read_text(encoding="utf-8")
    text = text_of(site / "index.html")
    for words in ["GraphSAGE", "PyTorch Geometric", "MovieLens", "instructors", "no GPU needed"]:
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
        assert "Voilà" in text and ".venv/bin/voila apps/explorer.ipynb" in text


def test_setup_and_licence_come_from_the_readme(site: Path) -> None:
    assert "pip install" in text_of(site / "setup.html")
    licence = text_of(site / "licence.html")
    for words in ["© GroupLens", "redistributed", "Harper", "Konstan", "2015", "Vig", "2012"]:
        assert words in licence


def test_goal_bullets_take_the_list_after_you_will() -> None:
    goals = build_site.goal_bullets(GOALS.format(title="x") + "\n\nMore text.\n- not a goal")
    assert goals == ["learn one thing;", "and a second one that wraps onto a line."]
    assert build_site.goal_bullets("# x\n\nNo goals here.\n\n- a bullet") == []
    wrapped = build_site.goal_bullets("# x\n\nIn this notebook you\nwill:\n\n- wrap a line;")
    assert wrapped == ["wrap a line;"]


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


def test_before_you_start_comes_before_the_notebooks_and_reference_after(site: Path) -> None:
    first, last = NOTEBOOKS[0].stem, NOTEBOOKS[-1].stem
    assert next_and_previous(site / "index.html")[1] == "setup.html"
    assert next_and_previous(site / "setup.html") == ("index.html", "licence.html")
    assert next_and_previous(site / "prerequisites.html")[1] == f"notebooks/{first}.html"
    assert next_and_previous(site / "notebooks" / f"{first}.html")[0] == "../prerequisites.html"
    assert next_and_previous(site / "notebooks" / f"{last}.html")[1] == "../glossary.html"
    assert next_and_previous(site / "glossary.html")[1] == "further-reading.html"
    landing = text_of(site / "index.html")
    assert landing.index("Before you start") < landing.index("The notebooks")


GLOSSARY = [
    "RMSE", "MAE", "NDCG@10", "Recall@10", "Coverage", "Relevant", "Liked", "Warm split",
    "Train, fit, validation and test parts", "Cold start", "Fold-in", "Bucket",
    "Message passing", "GraphSAGE", "LightGCN", "EASE", "SVD", "SVD++", "Bias model", "myFM",
    "iALS", "Embedding", "Softmax loss", "Leakage", "Graph filter", "Paired difference", "Fallback",
]  # fmt: skip


def test_glossary_defines_every_term_with_the_kits_thresholds(site: Path) -> None:
    from helpers import metrics

    page = (site / "glossary.html").read_text(encoding="utf-8")
    terms = {html.unescape(t) for t in re.findall(r'<dt id="term-[^"]+">(.*?)<a', page)}
    assert set(GLOSSARY) <= terms, set(GLOSSARY) - terms
    text = text_of(site / "glossary.html")
    assert f"{metrics.RELEVANT:.1f} stars or more" in text  # relevant: test ratings
    assert f"{metrics.LIKED} stars or more" in text  # liked: train ratings
    assert f"({metrics.MOVIE_BUCKETS[0]}, 1-4, 5-19, {metrics.MOVIE_BUCKETS[-1]} or more)" in text


def test_further_reading_gives_full_references(site: Path) -> None:
    text = text_of(site / "further-reading.html")
    for reference in [
        "Hamilton, R. Ying and J. Leskovec (2017)",
        "He, K. Deng, X. Wang, Y. Li, Y. Zhang and M. Wang (2020)",
        "H. Steck (2019)",
        "S. Rendle, L. Zhang and Y. Koren (2019)",
        "M. Ferrari Dacrema, P. Cremonesi and D. Jannach (2019)",
        "pytorch-geometric.readthedocs.io",
    ]:
        assert reference in text
    assert text.count("Why:") >= 10


def test_prerequisites_name_every_notebook_in_its_own_words(site: Path) -> None:
    page = (site / "prerequisites.html").read_text(encoding="utf-8")
    text = squash(text_of(site / "prerequisites.html"))
    for path in NOTEBOOKS:
        assert f'href="notebooks/{path.stem}.html"' in page, path.name
        needs = build_site.read_notebook(path).prerequisites
        assert needs and squash(needs) in text, path.name


def test_prerequisites_come_from_the_notebooks_line(tmp_path: Path) -> None:
    assert build_site.prerequisites_of(GOALS) == "notebook 00, and a line that wraps."
    notebook(tmp_path / "01_a.ipynb", GOALS.format(title="A"))
    table = build_site.prerequisites_table([build_site.read_notebook(tmp_path / "01_a.ipynb")])
    assert "| [A](notebooks/01_a.ipynb) | notebook 00, and a line that wraps. |" in table
    notebook(tmp_path / "02_b.ipynb", "# B\n\nYou will:\n\n- learn it.\n\nNo prerequisites.")
    with pytest.raises(build_site.SiteError, match="no '\\*\\*Prerequisites:\\*\\*' line"):
        build_site.read_notebook(tmp_path / "02_b.ipynb")


def test_pages_load_nothing_from_the_network(site: Path) -> None:
    """Scripts, styles and images are local (MathJax included): the site works offline."""
    remote = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="(?:https?:)?//', re.I)
    pages = [p for p in site.rglob("*.html") if "_static" not in p.parts]
    assert [str(p.relative_to(site)) for p in pages if remote.search(p.read_text("utf-8"))] == []
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()
    assert '_static/mathjax/tex-chtml.js"' in (site / "glossary.html").read_text("utf-8")
    assert "copybutton.js" in (site / "notebooks" / f"{NOTEBOOKS[0].stem}.html").read_text("utf-8")
