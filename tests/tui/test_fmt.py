"""How figures read on screen."""

import pytest
from evcsm_tui import fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0.0, "0.000"),
        (0.0061, "0.006"),
        (9.9994, "9.999"),
        (10.0, "10.00"),
        (123.456, "123.46"),
        (1234.56, "1234.6"),
    ],
)
def test_energy_keeps_watt_hours_below_ten_kwh(value: float | None, text: str) -> None:
    assert fmt.kwh(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (0.0, "0.00"), (7.366, "7.37"), (22.0, "22.0"), (150.04, "150.0")],
)
def test_power_keeps_one_or_two_decimals(value: float | None, text: str) -> None:
    assert fmt.kw(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0:00:00"), (59.9, "0:00:59"), (3723, "1:02:03"), (90061, "1d 1:01:01")],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


@pytest.mark.parametrize(
    ("fraction", "filled"), [(0.0, 0), (0.01, 1), (0.5, 4), (1.0, 8), (1.7, 8), (-1.0, 0)]
)
def test_gauge_fills_in_proportion_and_shows_any_power(fraction: float, filled: int) -> None:
    full, empty = fmt.gauge(fraction, 8)
    assert full == fmt.FULL * filled
    assert empty == fmt.EMPTY * (8 - filled)


def test_chart_scales_from_zero_to_the_ceiling() -> None:
    rows = fmt.spark_rows([0, 11, 22, 33], ceiling=22, width=4, height=2)
    assert rows == ["  ██", " ███"]  # 11 of 22 kW is half the height; 33 is capped


def test_chart_fills_from_the_right_and_averages_when_crowded() -> None:
    assert fmt.spark_rows([8, 8], ceiling=8, width=4, height=1) == ["  ██"]
    assert fmt.spark_rows([0, 8, 0, 8, 0, 8], ceiling=8, width=3, height=1) == ["▄▄▄"]
    assert fmt.spark_rows([1], ceiling=0, width=2, height=1) == ["  "]
    assert fmt.spark_rows([1], ceiling=8, width=0, height=1) == []


def test_the_power_chart_has_a_kw_scale_and_a_time_line() -> None:
    chart = fmt.power_chart([11, 22], ceiling=22, span_s=42, width=20, height=4)
    assert chart.gutter == 6
    assert chart.rows == [
        "22.0 ┤             █",
        "     │            ▄█",  # 11 of 22 kW: half of the three rows
        "   0 ┤            ██",
        "  kW └──0:42 ago─now",
    ]


def test_a_small_chart_is_bars_only() -> None:
    chart = fmt.power_chart([22], ceiling=22, span_s=0, width=8, height=2)
    assert chart == fmt.Chart(["       █", "       █"], gutter=0)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (59.9, "0:59"), (300, "5:00")])
def test_ago_is_minutes_and_seconds_within_the_chart_window(seconds: float, text: str) -> None:
    assert fmt.ago(seconds) == text


def test_short_id() -> None:
    assert fmt.short_id("85b6276c-36b7-4460-a14c-62c4318730e2") == "85b6276c"
    assert fmt.short_id(None) == "—"
