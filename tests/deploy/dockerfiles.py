"""Dockerfiles read as the builder reads them: instructions, stages, ARG defaults, ENV."""

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.deployment import REPO

DAEMON_DOCKERFILE = REPO / "daemon" / "Dockerfile"
TUI_DOCKERFILE = REPO / "tui" / "Dockerfile"


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


def stages(path: Path) -> list[Stage]:
    """The build stages of a Dockerfile, with ARG defaults substituted into FROM."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for instruction in instructions(path.read_text(encoding="utf-8")):
        if instruction.keyword == "ARG" and not result:
            arg, _, default = instruction.args.partition("=")
            args[arg] = default
        elif instruction.keyword == "FROM":
            words = instruction.args.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base, alias))
        else:
            assert result, f"{instruction.keyword} before the first FROM"
            result[-1].instructions.append(instruction)
    return result
