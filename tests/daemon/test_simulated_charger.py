"""The simulated charger's meter: cumulative, monotonic, derived from time, sped up."""

from datetime import timedelta

import pytest
from evcsm_daemon.chargers import ChargerSpec, SimulatedCharger
from evcsm_daemon.core.profile import ChargeProfile

from tests.support.clock import T0


def charger(speed: float = 1.0, kw: float = 22.0) -> SimulatedCharger:
    return SimulatedCharger(
        ChargerSpec("CP1", kw), profile=ChargeProfile(max_power_kw=kw), speed=speed
    )


@pytest.mark.parametrize(
    ("speed", "seconds", "wh"),
    [(1, 60, 366), (1, 3600, 22000), (60, 60, 22000), (10, 1, 61)],
)
async def test_register_grows_with_power_times_time(speed: float, seconds: int, wh: int) -> None:
    cp = charger(speed)
    start = await cp.start(T0)
    assert start.wh == 0
    reading = cp.read(T0 + timedelta(seconds=seconds))
    assert reading.wh == wh  # 22 kW * seconds * speed / 3.6, floored to Wh
    assert reading.power_kw == pytest.approx(22.0)


async def test_register_carries_over_between_sessions() -> None:
    cp = charger()
    await cp.start(T0)
    final = await cp.stop(T0 + timedelta(hours=1))
    assert final.wh == 22000
    assert final.power_kw == 0.0
    assert cp.read(T0 + timedelta(hours=5)).wh == 22000  # idle: no energy
    again = await cp.start(T0 + timedelta(hours=5))
    assert again.wh == 22000
    assert cp.read(T0 + timedelta(hours=5, minutes=30)).wh == 33000


async def test_resume_recomputes_from_start_time() -> None:
    before = charger()
    await before.start(T0)
    expected = before.read(T0 + timedelta(minutes=45)).wh
    after = charger()  # a new process: only the stored start time and register are known
    await after.resume(T0, 0)
    assert after.read(T0 + timedelta(minutes=45)).wh == expected


async def test_reading_never_goes_backwards_when_the_clock_does() -> None:
    cp = charger()
    await cp.start(T0)
    high = cp.read(T0 + timedelta(minutes=10)).wh
    assert cp.read(T0 + timedelta(minutes=5)).wh == high


def test_restore_register_only_moves_forward() -> None:
    cp = charger()
    cp.restore_register(5000)
    cp.restore_register(100)
    assert cp.read(T0).wh == 5000
    assert not cp.charging


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="speed"):
        charger(speed=0)
