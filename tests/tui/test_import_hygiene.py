"""The dashboard depends on the schema, Textual and aiomqtt only; its core on neither."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

TUI = Path(__file__).resolve().parents[2] / "tui" / "evcsm_tui"
PURE = (
    "evcsm_tui.state",
    "evcsm_tui.fmt",
    "evcsm_tui.history",
    "evcsm_tui.filters",
    "evcsm_tui.config",
    "evcsm_tui.errors",
)


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(TUI.rglob("*.py")), ids=lambda p: str(p.relative_to(TUI)))
def test_no_module_imports_the_daemon(path: Path) -> None:
    allowed = set(sys.stdlib_module_names) | {
        "evcsm_schema",
        "evcsm_tui",
        "textual",
        "rich",
        "aiomqtt",
        "paho",
        "pydantic",
    }
    assert imported_roots(path) <= allowed


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_the_app_loads_no_daemon_module() -> None:
    loaded = run_python(
        "import sys, evcsm_tui.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'evcsm_daemon'))"
    )
    assert loaded == "[]"


def test_the_core_loads_no_textual_and_no_mqtt() -> None:
    loaded = run_python(
        f"import sys\nfor name in {PURE!r}: __import__(name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'aiomqtt', 'paho', 'evcsm_daemon'}))"
    )
    assert loaded == "[]"
