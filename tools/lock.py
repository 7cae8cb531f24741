"""The committed lock: requirements/*.txt, exported from uv.lock with versions and hashes.

uv.lock names the package registry's address, so it stays out of git. The exports under
requirements/ are committed instead, and every install starts from them:

  dev.txt     development and CI (`./dev sync`): every package's dependencies and the dev group
  daemon.txt  the daemon image (Dockerfile, PACKAGE=daemon), installed with --require-hashes
  tui.txt     the dashboard image (Dockerfile, PACKAGE=tui), likewise
  build.txt   what the images' build stages run: uv, and the packages' build backend (build.in)

  python3 tools/lock.py check          make ./uv.lock pin exactly what requirements/ pins, or exit
                                       1 saying what is stale (`./dev sync` runs it)
  python3 tools/lock.py write [ARGS]   re-resolve and rewrite requirements/ (`./dev lock`); ARGS go
                                       to `uv lock` and `uv pip compile`: --upgrade, or
                                       --upgrade-package NAME

Stale means the committed pins and the committed pyproject files disagree: a dependency was
added or removed, or a range changed so that its pin falls outside it. It never depends on what
the registry published since: `check` locks the project with every package held to its committed
version, so only a change in the project can change the outcome. Hashes are not compared (a
registry may add a wheel to a release); the images install with --require-hashes against the
committed ones.

`write` changes as little as it can: it starts from a uv.lock holding the committed pins (of the
pyproject files as they are, else as in the last commit), so only what the change needs moves.
Standard library only: it runs before the development environment exists.
"""

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
LOCK = ROOT / "uv.lock"
BUILD_IN = REQUIREMENTS / "build.in"
BUILD_TXT = REQUIREMENTS / "build.txt"
FIX = "Run ./dev lock, then commit requirements/."
EXPORT = (
    "export",
    "--frozen",
    "--quiet",
    "--format",
    "requirements-txt",
    "--no-header",
    "--no-emit-workspace",  # the three packages install from their folders, not from a pin
)
TOOL_UV_TABLE = re.compile(r"(?m)^\[tool\.uv\][ \t]*$")


class LockError(Exception):
    """A step failed; the message says which and why."""


@dataclass(frozen=True)
class Export:
    """One committed export of uv.lock: its file, what it is for, and its `uv export` selection."""

    name: str
    purpose: str
    selection: tuple[str, ...]

    @property
    def path(self) -> Path:
        """The file under requirements/."""
        return REQUIREMENTS / self.name


EXPORTS = (
    Export(
        "dev.txt",
        "Development and CI (./dev sync): every package's dependencies and the dev group.",
        ("--all-packages",),
    ),
    Export(
        "daemon.txt",
        "The daemon image (Dockerfile, PACKAGE=daemon): the daemon's run-time dependencies.",
        ("--package", "evcsm-daemon", "--no-dev"),
    ),
    Export(
        "tui.txt",
        "The dashboard image (Dockerfile, PACKAGE=tui): the dashboard's run-time dependencies.",
        ("--package", "evcsm-tui", "--no-dev"),
    ),
)


def say(message: str) -> None:
    """One line for the person at the terminal."""
    print(f"evcsm: {message}", file=sys.stderr)


def run(args: Sequence[str], cwd: Path = ROOT, *, show: bool = False) -> str:
    """Run a command and return its stdout; its stderr too goes to the terminal with `show`."""
    done = subprocess.run(
        list(args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=None if show else subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LockError((done.stderr or "").strip() or f"{' '.join(args)} failed")
    return done.stdout


def pins(text: str) -> set[str]:
    """The requirement lines of a requirements file, `name==version` and any marker, no hashes."""
    return {line.removesuffix("\\").strip() for line in text.splitlines() if line[:1].isalnum()}


def header(purpose: str, command: str) -> str:
    """The comment that opens a written file."""
    return f"# {purpose}\n# Pinned with hashes by ./dev lock ({command}); never edit by hand.\n"


def committed(path: Path) -> str:
    """A committed file's text, empty when it does not exist yet."""
    return path.read_text(encoding="utf-8") if path.exists() else ""


def exported(export: Export) -> str:
    """`export` as ./uv.lock gives it, with its header."""
    body = run(["uv", *EXPORT, *export.selection])
    if "://" in body:
        raise LockError(f"the export for {export.name} names an address: it may not be committed")
    return header(export.purpose, " ".join(["uv export", *export.selection])) + body


def python_floor() -> str:
    """The lowest Python the project supports (`requires-python`), e.g. `3.11`."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = re.search(r">=\s*(\d+\.\d+)", project["requires-python"])
    if found is None:
        raise LockError("pyproject.toml: requires-python has no lower bound (>=3.x)")
    return found.group(1)


def compile_build(*args: str) -> list[str]:
    """`uv pip compile` of build.in, as every build of build.txt runs it, plus `args`."""
    return [
        "uv",
        "pip",
        "compile",
        "--quiet",
        "--universal",
        "--python-version",
        python_floor(),
        "--generate-hashes",
        "--no-header",
        *args,
        str(BUILD_IN.relative_to(ROOT)),
    ]


def project_files(read: Callable[[str], str]) -> dict[str, str]:
    """The workspace's pyproject files by relative path, each read through `read`."""
    root = read("pyproject.toml")
    workspace = tomllib.loads(root).get("tool", {}).get("uv", {}).get("workspace", {})
    files = {"pyproject.toml": root}
    for member in workspace.get("members", []):
        files[f"{member}/pyproject.toml"] = read(f"{member}/pyproject.toml")
    return files


def working_tree(relative: str) -> str:
    """A file as it is now."""
    return (ROOT / relative).read_text(encoding="utf-8")


def last_commit(relative: str) -> str:
    """A file as the last commit has it."""
    return run(["git", "show", f"HEAD:{relative}"])


def with_constraints(pyproject: str, constraints: Iterable[str]) -> str:
    """The root pyproject.toml with every package held to `constraints`."""
    if "constraint-dependencies" in tomllib.loads(pyproject).get("tool", {}).get("uv", {}):
        raise LockError(
            "pyproject.toml sets [tool.uv] constraint-dependencies, which this replaces"
        )
    line = f"\nconstraint-dependencies = {json.dumps(sorted(constraints))}"
    table = TOOL_UV_TABLE.search(pyproject)
    if table is None:
        return f"{pyproject}\n[tool.uv]{line}\n"
    return pyproject[: table.end()] + line + pyproject[table.end() :]


def lock_quietly(project: Path) -> None:
    """`uv lock` from uv's cache, else from the registry: the cache suffices unless a package is new."""
    try:
        run(["uv", "lock", "--quiet", "--offline"], cwd=project)
    except LockError:
        run(["uv", "lock", "--quiet"], cwd=project)


def seeded_lock(files: dict[str, str], constraints: set[str]) -> str:
    """A uv.lock of the workspace `files` with every package at its version in `constraints`."""
    with tempfile.TemporaryDirectory(prefix="evcsm-lock-") as folder:
        for relative, text in files.items():
            path = Path(folder, relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        root = Path(folder, "pyproject.toml")
        root.write_text(with_constraints(files["pyproject.toml"], constraints), encoding="utf-8")
        lock_quietly(Path(folder))
        return Path(folder, "uv.lock").read_text(encoding="utf-8")


def all_committed_pins() -> set[str]:
    """Every pin of the committed exports."""
    return set().union(*(pins(committed(export.path)) for export in EXPORTS))


def changes(path: Path, before: set[str], after: set[str]) -> list[str]:
    """What `after` pins that `before` does not (+) and the other way round (-)."""
    name = path.relative_to(ROOT)
    return [f"  {name}: + {pin}" for pin in sorted(after - before)] + [
        f"  {name}: - {pin}" for pin in sorted(before - after)
    ]


def export_differences() -> list[str]:
    """How the exports of ./uv.lock differ from the committed files."""
    found: list[str] = []
    for export in EXPORTS:
        found += changes(export.path, pins(committed(export.path)), pins(exported(export)))
    return found


def build_differences() -> list[str]:
    """How build.in, compiled with build.txt's pins, differs from build.txt."""
    fixed = ["--constraints", str(BUILD_TXT.relative_to(ROOT))] if BUILD_TXT.exists() else []
    try:
        compiled = run(compile_build("--offline", *fixed))
    except LockError:
        compiled = run(compile_build(*fixed))
    return changes(BUILD_TXT, pins(committed(BUILD_TXT)), pins(compiled))


def lock_is_current() -> bool:
    """./uv.lock exists and still fits the pyproject files."""
    if not LOCK.exists():
        return False
    try:
        run(["uv", "lock", "--check", "--offline", "--quiet"])
    except LockError:
        return False
    return True


def conflict(error: LockError) -> bool:
    """Whether uv failed because the pins and the requirements cannot all hold (not the network)."""
    return "No solution found" in str(error)


def stale(lines: list[str]) -> int:
    """Say what is stale and how to fix it; the exit status."""
    say("requirements/ is stale: it no longer matches the pyproject files.")
    for line in lines:
        print(line, file=sys.stderr)
    say(FIX)
    return 1


def check() -> int:
    """Make ./uv.lock pin exactly the committed versions; 1 when the committed pins are stale."""
    if not lock_is_current() or export_differences():
        try:
            lock = seeded_lock(project_files(working_tree), all_committed_pins())
        except LockError as error:
            if not conflict(error):
                raise
            reason = str(error).splitlines()
            return stale(["  The committed pins conflict with them:", *(f"  {r}" for r in reason)])
        LOCK.write_text(lock, encoding="utf-8")
        lock_quietly(ROOT)  # the same versions, now without the constraints
    try:
        found = export_differences() + build_differences()
    except LockError as error:
        if not conflict(error):
            raise
        return stale([f"  {line}" for line in str(error).splitlines()])
    return stale(found) if found else 0


def start_from_committed_pins() -> None:
    """Write a ./uv.lock that holds the committed pins, so `uv lock` moves only what it must.

    With the pyproject files as they are when the pins fit them (a dependency was added), else
    as in the last commit (a range changed: `uv lock` then moves what the new range needs).
    """
    constraints = all_committed_pins()
    if not constraints:
        return
    try:
        LOCK.write_text(seeded_lock(project_files(working_tree), constraints), encoding="utf-8")
    except LockError:
        say(
            "the committed pins do not fit the changed pyproject files: starting from the last commit's"
        )
    else:
        return
    try:
        LOCK.write_text(seeded_lock(project_files(last_commit), constraints), encoding="utf-8")
    except LockError as error:
        say(
            f"the committed pins fit no pyproject files, resolving afresh: {str(error).splitlines()[0]}"
        )


def write(args: Sequence[str]) -> int:
    """Re-resolve and rewrite every file under requirements/; print what changed."""
    before = {export.path: pins(committed(export.path)) for export in EXPORTS}
    before[BUILD_TXT] = pins(committed(BUILD_TXT))
    start_from_committed_pins()
    run(["uv", "lock", *args], show=True)
    for export in EXPORTS:
        export.path.write_text(exported(export), encoding="utf-8")
    output = ["--output-file", str(BUILD_TXT.relative_to(ROOT))]
    run(compile_build(*args, *output), show=True)
    body = BUILD_TXT.read_text(encoding="utf-8")
    if "://" in body:
        raise LockError("the compiled build.txt names an address: it may not be committed")
    purpose = "The images' build stages: uv, and the build backend of the three packages."
    BUILD_TXT.write_text(header(purpose, "uv pip compile requirements/build.in") + body, "utf-8")
    say("requirements/ written")
    for path, old in before.items():
        new = pins(path.read_text(encoding="utf-8"))
        if not old:
            print(f"  {path.relative_to(ROOT)}: {len(new)} pins", file=sys.stderr)
            continue
        for line in changes(path, old, new):
            print(line, file=sys.stderr)
    return 0


def main(argv: Sequence[str]) -> int:
    """`check` or `write [ARGS]`."""
    try:
        match argv:
            case ["check"]:
                return check()
            case ["write", *args]:
                return write(args)
            case _:
                print(__doc__, file=sys.stderr)
                return 2
    except LockError as error:  # a failed step: its message, never a traceback
        say(str(error))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
