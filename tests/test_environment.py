"""environment.yml must install exactly what pyproject.toml lists."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    listed = {line for line in pip_section if not line.startswith("-e")}
    assert listed == set(project["dependencies"]), "environment.yml and pyproject.toml drifted"
    assert "-e .[dev]" in pip_section, "conda users must get the dev extras too"
    python = next(d for d in conda["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.split("=")[1] in project["requires-python"]
