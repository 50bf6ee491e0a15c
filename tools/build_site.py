"""Build the course website from the committed notebooks: ``python -m tools.build_site``.

``site/`` holds the sources (Sphinx config, TOC, pages). They are staged with copies of the
notebooks in ``build/site-src/``, where what comes from elsewhere is filled in: each notebook's
"You will:" goals on the landing page, its "**Prerequisites:**" line in the prerequisites table,
the README's set-up and licence sections, and a note on the explorer's page on running it live
with Voila. Sphinx (myst-nb, sphinx-book-theme) then renders them into ``build/site/`` with
warnings as errors. The notebooks keep their stored outputs and are never executed, and nothing
is fetched from the network. The build fails (exit 1) on a notebook missing from the TOC or
without goals or prerequisites, a broken link or cross-reference, or a missing image.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sphinx.util.matching import patfilter
from sphinx_external_toc.parsing import parse_toc_yaml

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
OUT = ROOT / "build" / "site"
EXPLORER = "*explorer*.ipynb"  # the notebook whose page explains how to run it with Voila
VOILA_NOTE = "_fragments/explorer_live.md"  # in site/; ``{notebook}`` becomes its path
ASSETS = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}  # images the notebooks may show
SOURCE_SUFFIXES = (".md", ".ipynb")
MARKER = re.compile(r"^<!-- build_site: (\S+)(?: (.*?))? -->$", re.M)
STAMP = ".made-by-build-site"  # marks the staging and output folders this module may wipe


class SiteError(Exception):
    """A problem with the site's sources, said in one sentence."""


@dataclass(frozen=True)
class Notebook:
    """A course notebook as the landing page lists it."""

    path: Path
    title: str
    goals: list[str]
    has_outputs: bool
    prerequisites: str = ""


def goal_bullets(markdown: str) -> list[str]:
    """The bullets after "You will:" in a notebook's first markdown cell, one string each."""
    match = re.search(r"you\s+will:", markdown, re.I)
    if match is None:
        return []
    goals: list[str] = []
    for line in markdown[match.end() :].splitlines()[1:]:
        if re.match(r"[-*] ", line):
            goals.append(line[2:].strip())
        elif goals and line.startswith(" ") and line.strip():
            goals[-1] += " " + line.strip()  # a bullet wrapped onto the next line
        elif goals or line.strip():
            break
    return goals


PREREQUISITES = "**Prerequisites:**"


def prerequisites_of(markdown: str) -> str:
    """The paragraph that starts with ``**Prerequisites:**`` (without it), on one line."""
    start = markdown.find(PREREQUISITES)
    if start < 0:
        return ""
    paragraph = re.split(r"\n\s*\n", markdown[start + len(PREREQUISITES) :], maxsplit=1)[0]
    return " ".join(paragraph.split())


def read_notebook(path: Path) -> Notebook:
    """Title (first ``#`` heading), goals and prerequisites of a notebook, from its first markdown
    cell: the notebook is the one place each is written."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = next((cell for cell in cells if cell["cell_type"] == "markdown"), None)
    text = "".join(first["source"]) if first else ""
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), None)
    goals = goal_bullets(text)
    if not goals:
        raise SiteError(f"{path.name}: its first markdown cell has no 'You will:' list of goals")
    needs = prerequisites_of(text)
    if not needs:
        raise SiteError(f"{path.name}: its first markdown cell has no '{PREREQUISITES}' line")
    outputs = any(cell.get("outputs") for cell in cells if cell["cell_type"] == "code")
    return Notebook(path, title or path.stem, goals, outputs, needs)


def landing_list(notebooks: list[Notebook]) -> str:
    """Markdown for the landing page: every notebook in order, a link and its goals."""
    blocks = []
    for notebook in notebooks:
        name = notebook.path.name
        goals = "\n".join(f"- {goal}" for goal in notebook.goals)
        link = f"`{name}` · [read it](notebooks/{name}). You will:"
        blocks.append(f"### {notebook.title}\n\n{link}\n\n{goals}")
    return "\n\n".join(blocks)


def prerequisites_table(notebooks: list[Notebook]) -> str:
    """Markdown for the prerequisites page: each notebook's own "**Prerequisites:**" line."""
    rows = ["| Notebook | What to know first (the notebook's own words) |", "| --- | --- |"]
    for notebook in notebooks:
        needs = notebook.prerequisites.replace("|", "\\|")
        rows.append(f"| [{notebook.title}](notebooks/{notebook.path.name}) | {needs} |")
    return "\n".join(rows)


def readme_section(readme: str, title: str) -> str:
    """The body of the README's ``## title`` section, up to its next ``##`` heading."""
    body: list[str] | None = None
    fenced = False
    for line in readme.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            if body is not None:
                break
            if line[3:].strip() == title:
                body = []
                continue
        if body is not None:
            body.append(line)
    if body is None:
        raise SiteError(f"README.md has no '## {title}' section (the site shows it)")
    return "\n".join(body).strip()


def fill(page: str, notebooks: list[Notebook], readme: str) -> str:
    """Replace a page's ``<!-- build_site: ... -->`` markers with their generated markdown."""

    def generated(marker: re.Match) -> str:
        kind, argument = marker.group(1), marker.group(2) or ""
        if kind == "notebooks":
            return landing_list(notebooks)
        if kind == "prerequisites":
            return prerequisites_table(notebooks)
        if kind == "readme":
            return f"## {argument}\n\n{readme_section(readme, argument)}"
        if kind == "readme-body":
            return readme_section(readme, argument)
        raise SiteError(f"unknown marker {marker.group(0)}")

    return MARKER.sub(generated, page)


def add_note(path: Path, note: str) -> None:
    """Insert a markdown cell after the notebook's first markdown cell (the staged copy only)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = {"cell_type": "markdown", "metadata": {}, "source": note}
    if (notebook["nbformat"], notebook["nbformat_minor"]) >= (4, 5):
        cell["id"] = "site-voila-note"
    kinds = [existing["cell_type"] for existing in notebook["cells"]]
    notebook["cells"].insert(kinds.index("markdown") + 1 if "markdown" in kinds else 0, cell)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def source_documents(source: Path) -> list[str]:
    """Sphinx docnames of every page and notebook under a source folder."""
    files = [p for p in source.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()]
    return sorted(p.relative_to(source).with_suffix("").as_posix() for p in files)


def toc_documents(source: Path) -> set[str]:
    """Docnames the folder's ``_toc.yml`` takes in: its files, and what its globs match."""
    site_map = parse_toc_yaml(source / "_toc.yml")
    documents = {re.sub(r"\.(md|ipynb)$", "", name) for name in site_map}
    candidates = source_documents(source)
    for pattern in site_map.globs():
        documents.update(patfilter(candidates, pattern))
    return documents


def missing_from_toc(source: Path) -> list[str]:
    """The notebooks in ``source/notebooks/`` that the folder's ``_toc.yml`` leaves out."""
    listed = toc_documents(source)
    notebooks = sorted((source / "notebooks").glob("*.ipynb"))
    return [p.name for p in notebooks if f"notebooks/{p.stem}" not in listed]


def clear(folder: Path) -> None:
    """Empty a folder this module made before (and stamp it), and refuse to touch any other."""
    if folder.exists() and any(folder.iterdir()) and not (folder / STAMP).exists():
        raise SiteError(f"{folder} exists and was not made by this build: not replacing it")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / STAMP).touch()


def stage(site: Path, notebooks_dir: Path, staging: Path, readme: str) -> list[Notebook]:
    """Copy the sources and notebooks into ``staging``, filled in; the notebooks, in order."""
    notebook_paths = sorted(notebooks_dir.glob("*.ipynb"))
    if not notebook_paths:
        raise SiteError(f"no notebooks in {notebooks_dir}")
    notebooks = [read_notebook(path) for path in notebook_paths]
    clear(staging)
    shutil.copytree(site, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for page in staging.rglob("*.md"):
        page.write_text(fill(page.read_text(encoding="utf-8"), notebooks, readme), encoding="utf-8")
    images = [path for path in notebooks_dir.rglob("*") if path.suffix.lower() in ASSETS]
    for path in notebook_paths + images:
        target = staging / "notebooks" / path.relative_to(notebooks_dir)
        if ".ipynb_checkpoints" not in target.parts:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    explorers = sorted((staging / "notebooks").glob(EXPLORER))
    if not explorers:
        raise SiteError(f"no {EXPLORER} in {notebooks_dir}: the site must say how to run it live")
    note = (site / VOILA_NOTE).read_text(encoding="utf-8")
    for explorer in explorers:
        add_note(explorer, note.replace("{notebook}", f"notebooks/{explorer.name}"))
    return notebooks


class _Targets(HTMLParser):
    """The ids of an HTML page and the local links and images it points to."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.ids.update(v for k, v in values.items() if k in ("id", "name") and v)
        for kind, key in (("link", "href"), ("image", "src")):
            target = values.get(key) if (tag, key) in (("a", "href"), ("img", "src")) else None
            parts = urlsplit(target or "")
            if target and not parts.scheme and not parts.netloc and target != "#":
                self.targets.append((kind, target))


def broken_targets(out: Path) -> list[str]:
    """Links and images in the built HTML whose file (or ``#anchor``) does not exist."""
    pages: dict[Path, _Targets] = {}

    def parsed(page: Path) -> _Targets:
        if page not in pages:
            pages[page] = _Targets()
            pages[page].feed(page.read_text(encoding="utf-8", errors="replace"))
        return pages[page]

    problems = []
    for page in sorted(out.rglob("*.html")):
        for kind, target in parsed(page).targets:
            parts = urlsplit(target)
            file = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if file.is_dir():
                file = file / "index.html"
            if not file.exists():
                problems.append(f"{page.relative_to(out)}: {kind} {target} does not exist")
            elif parts.fragment and file.suffix == ".html":
                if unquote(parts.fragment) not in parsed(file).ids:
                    problems.append(f"{page.relative_to(out)}: link {target} has no such anchor")
    return problems


def sphinx(staging: Path, out: Path) -> int:
    """Run Sphinx's HTML builder, every warning an error; its exit status."""
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q"]
    command += ["-d", str(staging / ".doctrees"), str(staging), str(out)]
    return subprocess.run(command, check=False).returncode


def build(
    out: Path = OUT, site: Path = SITE, notebooks_dir: Path = NOTEBOOKS, readme: Path = README
) -> list[Notebook]:
    """Stage, check and render the site into ``out``; raises SiteError on any problem."""
    staging = out.with_name(out.name + "-src")
    clear(out)  # first: never leave an old site behind a failed build
    notebooks = stage(site, notebooks_dir, staging, readme.read_text(encoding="utf-8"))
    missing = missing_from_toc(staging)
    if missing:
        toc = site / "_toc.yml"
        raise SiteError(f"not in the table of contents {toc}: {', '.join(missing)}")
    if sphinx(staging, out) != 0:
        raise SiteError(
            "Sphinx reported the problems above (warnings count as errors; paths under "
            f"{staging} are the staged copies of {site} and {notebooks_dir})"
        )
    problems = broken_targets(out)
    if problems:
        raise SiteError("broken links or images in the built site:\n  " + "\n  ".join(problems))
    return notebooks


def main(argv: list[str] | None = None) -> int:
    """Build the site, print how long it took; 1 with the reason when the sources are broken."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the HTML site")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="notebooks to show")
    parser.add_argument("--site", type=Path, default=SITE, help="the site's sources")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        notebooks = build(args.out.resolve(), args.site.resolve(), args.notebooks.resolve())
    except SiteError as error:
        took = time.perf_counter() - started
        print(f"error: site build failed after {took:.1f} s: {error}", file=sys.stderr)
        return 1
    bare = [n.path.name for n in notebooks if not n.has_outputs]
    if bare:
        print(f"note: shown without outputs (never executed and saved): {', '.join(bare)}")
    took, index = time.perf_counter() - started, args.out / "index.html"
    print(f"built the site of {len(notebooks)} notebooks in {took:.1f} s: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
