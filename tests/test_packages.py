"""Each package imports only the standard library, its own distribution and what its
pyproject.toml declares: an allow-list, which the import contracts (deny-lists and layers,
checked by `lint-imports`) cannot express."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "shared": "evcsm_schema",
    "link": "evcsm_link",
    "daemon": "evcsm_daemon",
    "tui": "evcsm_tui",
}
"""Folder -> import name of each distribution."""


def imported_roots(path: Path) -> set[str]:
    """The top-level names a module imports (relative imports are its own package)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def declared(folder: str) -> set[str]:
    """The distributions `folder/pyproject.toml` depends on, normalised (`pydantic_settings`)."""
    project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text(encoding="utf-8"))
    names = (
        re.split(r"[<>=!~ ;\[]", spec, maxsplit=1)[0] for spec in project["project"]["dependencies"]
    )
    return {name.lower().replace("-", "_") for name in names}


def distribution_of(root: str) -> set[str]:
    """The distributions that provide an import name, normalised."""
    found = packages_distributions().get(root, [])
    return {name.lower().replace("-", "_") for name in found}


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_a_package_imports_only_what_it_declares(folder: str) -> None:
    package = PACKAGES[folder]
    allowed = declared(folder) | {package.replace("-", "_")}
    undeclared: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder / package).rglob("*.py")):
        for root in imported_roots(path) - set(sys.stdlib_module_names) - {package}:
            providers = distribution_of(root) or {root}
            if not providers & allowed:
                undeclared.setdefault(root, set()).add(str(path.relative_to(ROOT)))
    assert not undeclared, f"{folder}/pyproject.toml does not declare: {undeclared}"
