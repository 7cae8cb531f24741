"""The Dockerfile read as the builder reads it: instructions, stages, build arguments, ENV.

One Dockerfile builds both programs: the build argument `PACKAGE` picks what the build stage
installs, and the target stage of the same name runs it (`image`). `run_build_stage` goes
further: it runs the build stage's steps for real, outside Docker.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.deployment import REPO

DOCKERFILE = REPO / "Dockerfile"
PACKAGES = ("daemon", "tui")
"""The programs the Dockerfile builds: each a `PACKAGE` build argument and a target stage."""


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword in upper case and the rest of its (joined) lines."""

    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form ENTRYPOINT, CMD or similar."""
        value = json.loads(self.args)
        assert isinstance(value, list), self.args
        return [str(item) for item in value]


@dataclass
class Stage:
    """One FROM and the instructions under it."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """This stage's instructions with `keyword`."""
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        """The instruction with `keyword` that takes effect (the last one)."""
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage FROM {self.base}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """Variables set by this stage's ENV instructions (`KEY=value` form)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in shlex.split(instruction.args):
                key, sep, value = word.partition("=")
                assert sep, f"ENV {instruction.args!r}: use the KEY=value form"
                values[key] = value
        return values


def instructions(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile, continuation lines joined, comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(args.split())))
        pending = ""
    return found


def stages(path: Path, build_args: Mapping[str, str] | None = None) -> list[Stage]:
    """The build stages of a Dockerfile, with the global ARGs (their defaults, or `build_args`)
    substituted wherever they are used."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for instruction in instructions(path.read_text(encoding="utf-8")):
        if instruction.keyword == "ARG":
            arg, _, default = instruction.args.partition("=")
            if not result:
                args[arg] = (build_args or {}).get(arg, default)
            continue  # inside a stage, ARG only brings a global one into scope
        text = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), instruction.args)
        if instruction.keyword == "FROM":
            words = text.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], alias))
        else:
            assert result, f"{instruction.keyword} before the first FROM"
            result[-1].instructions.append(Instruction(instruction.keyword, text))
    return result


def stage(path: Path, name: str, package: str) -> Stage:
    """The stage `name` as built for `package`, with the stages it is built FROM folded in: its
    base is the image it starts from, its instructions all those that make it."""
    built = {s.name: s for s in stages(path, {"PACKAGE": package})}
    found = built[name]
    parent = built.get(found.base)
    if parent is None:
        return found
    folded = stage(path, found.base, package)
    return Stage(folded.base, name, [*folded.instructions, *found.instructions])


def image(package: str, path: Path = DOCKERFILE) -> Stage:
    """The final stage of `package`'s image (the target of its name), built for it."""
    return stage(path, package, package)


def build_stage(package: str, path: Path = DOCKERFILE) -> Stage:
    """The stage that installs `package` and its pins."""
    return stage(path, "build", package)


# Where the build stage's absolute paths land when `run_build_stage` runs it in a folder.
IMAGE_PATHS = ("/usr/local", "/opt/evcsm", "/src")
# The build context's clutter, which .dockerignore keeps out.
IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", "*.egg-info"
)
# Left out to keep the test fast; none changes what is installed, and hashes are still checked.
SPEED_ONLY = {"UV_NO_CACHE", "PIP_NO_CACHE_DIR", "UV_COMPILE_BYTECODE"}


def build_environment(stage: Stage, folder: Path) -> dict[str, str]:
    """This machine's environment without pip's and uv's settings, then the stage's ENV.

    The image has no pip or uv configuration, so neither may this run: they reach the
    registry with their defaults, as in the image.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_")) and key != "VIRTUAL_ENV"
    }
    env |= {key: value for key, value in stage.env().items() if key not in SPEED_ONLY}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["UV_NO_CONFIG"] = "1"
    env["PATH"] = f"{folder}/usr/local/bin{os.pathsep}{env['PATH']}"
    return env


def run_build_stage(
    package: str, folder: Path, context: Path = REPO, dockerfile: Path = DOCKERFILE
) -> Path:
    """Run the build stage's WORKDIR, COPY and RUN for `package` for real under `folder`; the
    built /opt/evcsm.

    The base image's Python is a fresh virtual environment at `folder`/usr/local with pip alone,
    as in the image; the image's absolute paths move under `folder`; COPY reads `context`.
    """
    build = build_stage(package, dockerfile)
    base = ["uv", "venv", "--quiet", "--seed", "--python", sys.executable, f"{folder}/usr/local"]
    subprocess.run(base, check=True)
    env = build_environment(build, folder)
    workdir = folder
    for instruction in build.instructions:
        args = instruction.args
        for path in IMAGE_PATHS:
            args = args.replace(path, f"{folder}{path}")
        if instruction.keyword == "WORKDIR":
            workdir = Path(args)
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            *sources, target = args.split()
            for source in sources:
                copy_from_context(context / source, workdir / target)
        elif instruction.keyword == "RUN":
            done = subprocess.run(
                ["sh", "-c", args],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert done.returncode == 0, f"RUN {instruction.args}\n{done.stdout}{done.stderr}"
        else:
            assert instruction.keyword == "ENV", f"{instruction.keyword}: not emulated here"
    return folder / "opt" / "evcsm"


def copy_from_context(origin: Path, target: Path) -> None:
    """COPY `origin` (in the build context) into `target`, a folder."""
    assert origin.exists(), f"COPY {origin}: not in the build context"
    if origin.is_dir():
        shutil.copytree(origin, target, ignore=IGNORED, dirs_exist_ok=True)
    else:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target / origin.name)
