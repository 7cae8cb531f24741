"""What machine a benchmark ran on, so its figures can be read in context."""

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.broker import MOSQUITTO


@dataclass(frozen=True, slots=True)
class Machine:
    """CPU, interpreter and broker versions, and how busy the machine was at the start."""

    cpus: int
    cpu_model: str
    python: str
    mosquitto: str
    load_average: tuple[float, float, float]

    @classmethod
    def here(cls) -> "Machine":
        """This machine, now."""
        return cls(
            cpus=os.cpu_count() or 1,
            cpu_model=_cpu_model(),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            mosquitto=_mosquitto_version(),
            load_average=os.getloadavg(),
        )

    def describe(self) -> str:
        """One line for the report."""
        load = " ".join(f"{value:.2f}" for value in self.load_average)
        return (
            f"{self.cpus} x {self.cpu_model}, {self.python}, {self.mosquitto}, load average {load}"
        )


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown CPU"
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


def _mosquitto_version() -> str:
    try:
        done = subprocess.run(
            [MOSQUITTO, "-h"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "mosquitto (version unknown)"
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else "mosquitto (version unknown)"
