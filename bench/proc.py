"""What a running process holds, read from /proc: memory, its peak, open file descriptors."""

from dataclasses import dataclass
from pathlib import Path

KIB_PER_MIB = 1024


def _status_kib(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status (VmRSS, VmHWM, ...)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            fields[name] = int(value.split()[0])
    return fields


def rss_mib(pid: int) -> float:
    """Resident memory of a process now, in MiB."""
    return _status_kib(pid)["VmRSS"] / KIB_PER_MIB


def peak_rss_mib(pid: int) -> float:
    """The most resident memory the process ever had (VmHWM), in MiB."""
    return _status_kib(pid)["VmHWM"] / KIB_PER_MIB


def open_fds(pid: int) -> int:
    """File descriptors the process holds open (sockets, files, pipes)."""
    return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of a process: seconds since the first, RSS in MiB, open descriptors."""

    at: float
    rss_mib: float
    fds: int

    @classmethod
    def of(cls, pid: int, at: float) -> "Sample":
        """Read `pid` now."""
        return cls(at, rss_mib(pid), open_fds(pid))
