"""The committed lock in requirements/: what the files hold, the stale check and `./dev lock`.

The last two run tools/lock.py, as ./dev does, on a copy of the project's pyproject files and
pins in a scratch git repository, so a test can change a dependency and see what it says.
"""

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements"
EXPORTS = ("dev.txt", "daemon.txt", "tui.txt", "build.txt")
MEMBERS = ("shared", "link", "daemon", "tui")
FIX = "Run ./dev lock, then commit requirements/."
# Pinned exactly, so that what the tests expect does not move with the registry.
NEW_DEV_DEPENDENCY = "six==1.17.0"  # in no pin: sortedcontainers came in with hypothesis
OLDER_RUFF = "ruff==0.17.4"


def pins(path: Path) -> set[str]:
    """The requirement lines of a requirements file, without hashes."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.removesuffix("\\").strip() for line in lines if line[:1].isalnum()}


def pinned_versions(path: Path) -> dict[str, str]:
    """{name: version} of a requirements file."""
    found = {}
    for pin in pins(path):
        requirement = Requirement(pin)
        found[requirement.name] = str(requirement.specifier).removeprefix("==")
    return found


@pytest.mark.parametrize("name", EXPORTS)
def test_no_file_names_an_address(name: str) -> None:
    text = (REQUIREMENTS / name).read_text(encoding="utf-8")
    assert "://" not in text
    options = [line.split()[0] for line in text.splitlines() if line.startswith("-")]
    assert not options, f"{name}: {options} (index or link options name the registry)"


@pytest.mark.parametrize("name", EXPORTS)
def test_every_pin_is_exact_and_carries_a_hash(name: str) -> None:
    text = (REQUIREMENTS / name).read_text(encoding="utf-8")
    entries = re.split(r"(?m)^(?=[A-Za-z0-9])", text)[1:]
    assert entries
    for entry in entries:
        assert re.match(r"[A-Za-z0-9._-]+==[^ ;\\]+", entry), entry.splitlines()[0]
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.splitlines()[0]


@pytest.mark.parametrize("image", ["daemon.txt", "tui.txt"])
def test_the_images_install_the_versions_development_tests(image: str) -> None:
    dev = pinned_versions(REQUIREMENTS / "dev.txt")
    for name, version in pinned_versions(REQUIREMENTS / image).items():
        assert dev.get(name) == version, name


def test_each_image_holds_its_own_side_and_no_development_tool() -> None:
    daemon = set(pinned_versions(REQUIREMENTS / "daemon.txt"))
    tui = set(pinned_versions(REQUIREMENTS / "tui.txt"))
    assert {"aiomqtt", "fastapi", "pymongo", "pydantic"} <= daemon
    assert {"aiomqtt", "textual", "pydantic"} <= tui
    assert not daemon & {"textual", "rich"}
    assert not tui & {"fastapi", "pymongo", "uvicorn"}
    assert not (daemon | tui) & {"pytest", "ruff", "mypy", "pyyaml"}


def test_build_in_names_every_packages_build_backend() -> None:
    declared = {
        line.split("#")[0].strip()
        for line in (REQUIREMENTS / "build.in").read_text(encoding="utf-8").splitlines()
    }
    for member in MEMBERS:
        pyproject = tomllib.loads((REPO / member / "pyproject.toml").read_text(encoding="utf-8"))
        for requirement in pyproject["build-system"]["requires"]:
            assert requirement in declared, f"{member}: add {requirement} to requirements/build.in"


def test_dev_installs_the_uv_that_build_in_pins() -> None:
    dev = (REPO / "dev").read_text(encoding="utf-8")
    assert "grep -E '^uv==' requirements/build.in" in dev
    assert any(pin.startswith("uv==") for pin in pins(REQUIREMENTS / "build.txt"))


@dataclass
class Project:
    """A scratch copy of the project's pyproject files, pins and tools/lock.py, under git."""

    root: Path

    @classmethod
    def copy(cls, root: Path) -> "Project":
        """Copy what locking reads into `root` and commit it."""
        for name in ("pyproject.toml", *(f"{m}/pyproject.toml" for m in MEMBERS)):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
        shutil.copytree(REQUIREMENTS, root / "requirements")
        (root / "tools").mkdir()
        shutil.copy2(REPO / "tools" / "lock.py", root / "tools" / "lock.py")
        project = cls(root)
        project.git("init", "--quiet")
        project.git("add", "--all")
        project.git("commit", "--quiet", "--message", "the project as committed")
        return project

    def git(self, *args: str) -> None:
        """Run git here, with an identity of its own."""
        identity = ["-c", "user.name=test", "-c", "user.email=test@localhost"]
        subprocess.run(["git", *identity, *args], cwd=self.root, check=True)

    def lock_tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python3 tools/lock.py ARGS` here, as ./dev runs it."""
        return subprocess.run(
            [sys.executable, "tools/lock.py", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace `old` (which must be there) with `new` in a file."""
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{relative} lacks {old!r}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def add_dev_dependency(self, requirement: str) -> None:
        """Add `requirement` to the dev group, as an engineer would."""
        self.edit("pyproject.toml", "dev = [\n", f'dev = [\n    "{requirement}",\n')

    def pins(self, name: str) -> set[str]:
        """The pins of one of its requirements files."""
        return pins(self.root / "requirements" / name)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """The project's locking inputs in a scratch repository."""
    return Project.copy(tmp_path)


def locked_version(project: Project, name: str) -> str:
    """The version of `name` in the project's uv.lock."""
    lock = tomllib.loads((project.root / "uv.lock").read_text(encoding="utf-8"))
    (version,) = {p["version"] for p in lock["package"] if p["name"] == name}
    return str(version)


def test_check_passes_on_the_committed_pins_and_makes_uv_lock_hold_them(
    project: Project,
) -> None:
    # A uv.lock with another version of a package: what a clone that resolved on its own, or a
    # registry that published since, leaves behind. The committed pins win.
    committed = pinned_versions(project.root / "requirements" / "dev.txt")["ruff"]
    project.edit("pyproject.toml", '"ruff==', f'"{OLDER_RUFF}",  # was "ruff==')
    subprocess.run(["uv", "lock", "--quiet"], cwd=project.root, check=True)
    project.git("checkout", "--quiet", "pyproject.toml")
    assert locked_version(project, "ruff") != committed
    done = project.lock_tool("check")
    assert done.returncode == 0, done.stderr
    assert locked_version(project, "ruff") == committed
    assert project.lock_tool("check").returncode == 0


def test_check_says_stale_when_a_dependency_is_added_without_locking(project: Project) -> None:
    project.add_dev_dependency(NEW_DEV_DEPENDENCY)
    done = project.lock_tool("check")
    assert done.returncode == 1
    assert f"requirements/dev.txt: + {NEW_DEV_DEPENDENCY}" in done.stderr
    assert FIX in done.stderr


def test_check_says_stale_when_a_range_leaves_the_pin_out(project: Project) -> None:
    project.edit("pyproject.toml", '"ruff==0.17.5"', f'"{OLDER_RUFF}"')
    done = project.lock_tool("check")
    assert done.returncode == 1
    assert "ruff" in done.stderr
    assert FIX in done.stderr


def test_check_says_stale_when_a_dependency_is_removed(project: Project) -> None:
    # import-linter: a dev dependency no other package needs (schemathesis needs pyyaml too)
    linter = next(pin for pin in project.pins("dev.txt") if pin.startswith("import-linter=="))
    project.edit("pyproject.toml", '"import-linter>=', '# "import-linter>=')
    done = project.lock_tool("check")
    assert done.returncode == 1
    assert f"requirements/dev.txt: - {linter}" in done.stderr
    assert FIX in done.stderr


def test_check_says_stale_when_the_build_pins_no_longer_fit(project: Project) -> None:
    project.edit("requirements/build.in", "hatchling>=1.25", "hatchling>=1.25,<1.26")
    done = project.lock_tool("check")
    assert done.returncode == 1
    assert "hatchling" in done.stderr
    assert FIX in done.stderr


def test_lock_adds_a_dependency_and_moves_nothing_else(project: Project) -> None:
    before = {name: project.pins(name) for name in EXPORTS}
    project.add_dev_dependency(NEW_DEV_DEPENDENCY)
    done = project.lock_tool("write")
    assert done.returncode == 0, done.stderr
    assert project.pins("dev.txt") == before["dev.txt"] | {NEW_DEV_DEPENDENCY}
    text = (project.root / "requirements" / "dev.txt").read_text(encoding="utf-8")
    assert re.search(rf"(?m)^{NEW_DEV_DEPENDENCY} \\\n    --hash=sha256:[0-9a-f]{{64}}", text)
    for name in ("daemon.txt", "tui.txt", "build.txt"):
        assert project.pins(name) == before[name], name
    assert project.lock_tool("check").returncode == 0


def test_lock_follows_a_changed_range_and_moves_nothing_else(project: Project) -> None:
    before = project.pins("dev.txt")
    ruff = next(pin for pin in before if pin.startswith("ruff=="))
    project.edit("pyproject.toml", '"ruff==0.17.5"', f'"{OLDER_RUFF}"')
    done = project.lock_tool("write")
    assert done.returncode == 0, done.stderr
    assert project.pins("dev.txt") == (before - {ruff}) | {OLDER_RUFF}
    assert project.lock_tool("check").returncode == 0
