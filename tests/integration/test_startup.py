"""Start-up trouble: one clear line naming the address, retries, recovery; never a traceback."""

import asyncio
import logging
import socket
from collections.abc import Iterator

import pytest
from evcsm_daemon.main import main
from evcsm_daemon.runtime import connect_store

from tests.support.broker import Mosquitto, free_port
from tests.support.daemon import daemon_settings, running_daemon


@pytest.fixture
def _restore_logging() -> Iterator[None]:
    """`main()` sets up logging for a process; put the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_unreachable_database_is_one_line_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    uri = f"mongodb://evcsm:hunter2@127.0.0.1:{port}/evcsm"
    caplog.set_level(logging.WARNING)
    task = asyncio.create_task(connect_store(uri, timeout_ms=100))
    for _ in range(100):
        if len(caplog.records) >= 2:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 2, lines
    assert all(
        f"MongoDB mongodb://evcsm:***@127.0.0.1:{port}/evcsm unreachable" in line for line in lines
    )
    assert "retrying in 1 s" in lines[0]
    assert "retrying in 2 s" in lines[1]
    assert not any("hunter2" in line or "Traceback" in line for line in lines)
    assert all(record.exc_info is None for record in caplog.records)


async def test_broker_down_at_start_then_up(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    caplog.set_level(logging.WARNING)
    async with running_daemon(
        daemon_settings(f"mqtt://127.0.0.1:{port}"), wait_connected=False
    ) as daemon:
        assert daemon.bridge is not None
        for _ in range(100):
            if any("unreachable" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        line = next(r.getMessage() for r in caplog.records if "unreachable" in r.getMessage())
        assert line.startswith(f"MQTT broker mqtt://127.0.0.1:{port} unreachable")
        assert "retrying in" in line
        assert not daemon.bridge.connected.is_set()
        with Mosquitto(port=port):
            await asyncio.wait_for(daemon.bridge.connected.wait(), 30)
    assert all(record.exc_info is None for record in caplog.records)


@pytest.mark.usefixtures("_restore_logging")
def test_bad_settings_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--chargers", "CP1:lots", "--mongodb-uri", "memory"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evcsm-daemon: chargers:")
    assert "not a number" in err
    assert "Traceback" not in err


def test_help_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--mqtt-url",
        "--mqtt-password",
        "--mongodb-uri",
        "--http-addr",
        "--chargers",
        "--sim-speed",
        "--api-token",
        "--log-format",
    ):
        assert flag in out


def test_a_taken_http_port_is_one_line(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--http-addr", f"127.0.0.1:{port}", "--mongodb-uri", "memory"])
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().out
