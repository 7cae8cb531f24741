"""The charge profile: full power, then a taper; energy is the integral of power."""

import itertools

import pytest
from evcsm_daemon.core.profile import ChargeProfile

P = ChargeProfile(max_power_kw=22.0, capacity_kwh=60.0, initial_soc=0.2, taper_soc=0.8)
BULK_S = (0.8 - 0.2) * 60.0 / 22.0 * 3600  # seconds at full power


@pytest.mark.parametrize(
    ("elapsed_s", "energy_kwh", "power_kw"),
    [
        (0, 0.0, 22.0),
        (-5, 0.0, 22.0),
        (3600, 22.0, 22.0),
        (1800, 11.0, 22.0),
        (BULK_S, 36.0, 22.0),
    ],
)
def test_bulk_phase_is_full_power(elapsed_s: float, energy_kwh: float, power_kw: float) -> None:
    assert P.energy_kwh(elapsed_s) == pytest.approx(energy_kwh, abs=1e-9)
    assert P.power_kw(elapsed_s) == pytest.approx(power_kw)


def test_taper_lowers_power_and_never_exceeds_capacity() -> None:
    later = [P.power_kw(BULK_S + k * 600) for k in range(1, 20)]
    assert all(a > b for a, b in itertools.pairwise(later))
    assert later[0] < 22.0
    assert P.energy_kwh(10 * 24 * 3600) == pytest.approx(48.0, abs=1e-6)  # 80 % of 60 kWh
    assert P.energy_kwh(10 * 24 * 3600) <= 48.0


def test_energy_is_the_integral_of_power() -> None:
    step = 1.0
    start = BULK_S - 300
    integral = sum(P.power_kw(start + (k + 0.5) * step) * step / 3600 for k in range(3600))
    assert P.energy_kwh(start + 3600) - P.energy_kwh(start) == pytest.approx(integral, rel=1e-4)


def test_energy_is_monotonic() -> None:
    values = [P.energy_kwh(t * 37.0) for t in range(2000)]
    assert values == sorted(values)


def test_starting_above_the_taper_tapers_at_once() -> None:
    full = ChargeProfile(max_power_kw=11.0, initial_soc=0.9, taper_soc=0.8)
    assert full.power_kw(0) == pytest.approx(11.0 * 0.1 / 0.2)
    empty_battery_full = ChargeProfile(max_power_kw=11.0, initial_soc=1.0)
    assert empty_battery_full.energy_kwh(3600) == 0.0
    assert empty_battery_full.power_kw(3600) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_power_kw": 0},
        {"max_power_kw": 11, "capacity_kwh": -1},
        {"max_power_kw": 11, "initial_soc": 1.5},
        {"max_power_kw": 11, "taper_soc": 1.0},
    ],
)
def test_invalid_profiles_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        ChargeProfile(**kwargs)
