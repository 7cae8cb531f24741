"""The images: what the one Dockerfile makes of each program, and what its build stage installs,
for real."""

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.deployment import REPO
from tests.deploy.dockerfiles import (
    DOCKERFILE,
    PACKAGES,
    Stage,
    build_stage,
    image,
    run_build_stage,
    stages,
)

BUILD_TOOLS = re.compile(r"\b(uv|pip3?|apt-get|apt|gcc|cc|make|build-essential|hatch)\b")
UV_PIP_INSTALL = ["uv", "pip", "install"]


def final(package: str) -> Stage:
    """The stage `package`'s image is made of, with the stages it builds on folded in."""
    return image(package)


def test_one_dockerfile_builds_every_program() -> None:
    assert not [p for p in REPO.glob("*/Dockerfile") if p.parent.name != "node_modules"]
    names = [s.name for s in stages(DOCKERFILE)]
    assert set(PACKAGES) <= set(names)
    assert names[-1] == "daemon", "a build without --target makes the daemon (PACKAGE's default)"


@pytest.mark.parametrize("package", PACKAGES)
def test_multi_stage_on_one_pinned_slim_python(package: str) -> None:
    built = stages(DOCKERFILE, {"PACKAGE": package})
    assert len(built) >= 2
    names = {stage.name for stage in built}
    bases = {stage.base for stage in built if stage.base not in names}
    assert len(bases) == 1, f"the stages use different bases: {bases}"
    (base,) = bases
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", base), f"{base}: pin a patch and Debian"


@pytest.mark.parametrize("package", PACKAGES)
def test_final_stage_runs_unprivileged_and_stops_on_sigterm(package: str) -> None:
    image = final(package)
    user = image.last("USER").args.split(":")
    assert user[0].isdigit(), "a numeric USER lets orchestrators verify it is not root"
    assert int(user[0]) != 0
    assert all(part.isdigit() and int(part) != 0 for part in user)
    assert image.last("STOPSIGNAL").args == "SIGTERM"


@pytest.mark.parametrize("package", PACKAGES)
def test_final_stage_holds_no_build_tools(package: str) -> None:
    image = final(package)
    for copy in image.all("COPY"):
        assert copy.args.startswith("--from=build "), f"COPY {copy.args}: only the built venv"
    for run in image.all("RUN"):
        # Uninstalling pip is the one mention of a build tool the final stage may hold.
        commands = [c.strip() for c in run.args.split("&&")]
        for command in commands:
            if command.startswith("python -m pip uninstall"):
                assert {"pip", "setuptools", "wheel"} <= set(command.split())
                continue
            assert not BUILD_TOOLS.search(command), f"RUN {command}"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_build_copies_only_the_contract_the_link_its_package_and_their_pins(
    package: str,
) -> None:
    build = build_stage(package)
    copied = sorted(source for copy in build.all("COPY") for source in copy.args.split()[:-1])
    assert copied == sorted(
        ["shared/", "link/", f"{package}/", "requirements/build.txt", f"requirements/{package}.txt"]
    )


def build_commands(package: str) -> list[list[str]]:
    """The build stage's shell commands, split into words."""
    return [
        shlex.split(command.strip())
        for run in build_stage(package).all("RUN")
        for command in run.args.split("&&")
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_the_build_installs_or_runs_is_pinned_with_hashes(package: str) -> None:
    commands = build_commands(package)
    installs = [c for c in commands if c[:2] == ["pip", "install"] or c[:3] == UV_PIP_INSTALL]
    tools, dependencies, own = installs
    assert tools[:2] == ["pip", "install"]
    assert {"--require-hashes", "requirements/build.txt"} <= set(tools)
    assert {"--require-hashes", f"requirements/{package}.txt"} <= set(dependencies)
    assert [word for word in own if word.startswith("./")] == ["./shared", "./link", f"./{package}"]
    assert "--no-deps" in own, "the dependencies come from the pins alone"
    for install in (dependencies, own):
        # Whatever a build runs (a build backend) is pinned with hashes in build.txt too.
        assert "--require-build-hashes" in install
        assert install[install.index("--build-constraints") + 1] == "requirements/build.txt"
    assert commands[-1][:3] == ["uv", "pip", "check"], "the installed set is complete"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_build_stage_installs_exactly_the_pins_for_real(
    package: str, request: pytest.FixtureRequest
) -> None:
    venv: Path = request.getfixturevalue(f"{package}_image")
    listed = subprocess.run(
        ["uv", "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {canonicalize_name(p["name"]): p["version"] for p in json.loads(listed.stdout)}
    pinned = requirements(REPO / "requirements" / f"{package}.txt")
    expected = {name: str(version) for name, version in pinned.items()}
    expected |= {"evcsm-schema": "0.1.0", "evcsm-link": "0.1.0", f"evcsm-{package}": "0.1.0"}
    assert installed == expected
    entry = final(package).last("ENTRYPOINT").exec_form()[0]
    done = subprocess.run(
        [str(venv / "bin" / entry), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_build_refuses_a_package_whose_hash_is_not_the_pinned_one(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for folder in ("shared", "link", "daemon", "requirements"):
        shutil.copytree(REPO / folder, context / folder)
    pins = context / "requirements" / "daemon.txt"
    # Every hash of one package replaced: what a tampered or substituted download looks like.
    text = pins.read_text(encoding="utf-8")
    entry = re.search(r"(?ms)^h11==.*?(?=^\S)", text)
    assert entry, "pick another small package of daemon.txt"
    tampered = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, entry.group())
    pins.write_text(text.replace(entry.group(), tampered), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"(?i)hash mismatch for `h11=="):
        run_build_stage("daemon", tmp_path / "build", context)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_target_built_for_the_other_package_stops_the_build(
    package: str, request: pytest.FixtureRequest
) -> None:
    (target,) = [s for s in stages(DOCKERFILE, {"PACKAGE": package}) if s.name == package]
    (check,) = target.all("RUN")
    for built, works in ((package, True), (next(p for p in PACKAGES if p != package), False)):
        venv: Path = request.getfixturevalue(f"{built}_image")
        done = subprocess.run(
            ["sh", "-c", check.args.replace("/opt/evcsm", str(venv))],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (done.returncode == 0) is works, (built, done.stderr)
    assert f"PACKAGE={package}" in done.stderr


def requirements(path: Path) -> dict[str, Version]:
    """The pins of a requirements file that apply on this machine, by name."""
    found: dict[str, Version] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line[:1].isalnum():
            requirement = Requirement(line.removesuffix("\\").strip())
            if requirement.marker is None or requirement.marker.evaluate():
                (spec,) = requirement.specifier
                assert spec.operator == "==", line
                found[canonicalize_name(requirement.name)] = Version(spec.version)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_the_entry_point_is_the_packages_console_script(package: str) -> None:
    pyproject = tomllib.loads((REPO / package / "pyproject.toml").read_text(encoding="utf-8"))
    entry = final(package).last("ENTRYPOINT").exec_form()
    assert entry == [f"evcsm-{package}"]
    assert entry[0] in pyproject["project"]["scripts"]
    assert final(package).env()["PATH"].startswith("/opt/evcsm/bin:")


def test_the_daemon_image_logs_json_and_listens_beyond_loopback() -> None:
    env = final("daemon").env()
    assert env["EVCSM_LOG_FORMAT"] == "json"
    assert env["EVCSM_HTTP_ADDR"] == "0.0.0.0:5274"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert final("daemon").last("EXPOSE").args == "5274"


def dependency_closure(name: str) -> set[str]:
    """Every distribution `name` needs at run time, as installed here (extras left out)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = canonicalize_name(todo.pop())
        if current in seen:
            continue
        seen.add(current)
        for line in metadata.requires(current) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_daemons_dependencies_leave_the_dashboard_out() -> None:
    needed = dependency_closure("evcsm-daemon")
    assert {"evcsm-schema", "aiomqtt", "fastapi", "pymongo"} <= needed
    assert not needed & {"textual", "evcsm-tui", "rich"}


def test_the_build_context_keeps_secrets_and_clutter_out() -> None:
    patterns = [
        line
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert patterns[0] == "*", "exclude everything, then let the package folders in"
    allowed = {"!shared/", "!link/", "!daemon/", "!tui/", "!requirements/"}
    assert {p for p in patterns if p.startswith("!")} == allowed
    assert "**/.env" in patterns
