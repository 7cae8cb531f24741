"""Which chargers the table shows: by status, by a piece of id, both, or all."""

import pytest
from evcsm_schema import Availability, ChargerStatus
from evcsm_tui.filters import ChargerFilter, StatusFilter
from evcsm_tui.state import DashboardState, LinkChange, LinkStatus, fold_all

from tests.tui.data import FLEET

FAULTED = FLEET[3].model_copy(update={"charger_id": "OCPP-7", "status": ChargerStatus.FAULTED})
STATE = fold_all(
    DashboardState(), [LinkChange(LinkStatus.CONNECTED), Availability.ONLINE, *FLEET, FAULTED]
)


@pytest.mark.parametrize(
    ("shown", "rows"),
    [
        (ChargerFilter(), ("CP1", "CP2", "CP3", "DEPOT-04", "OCPP-7")),
        (ChargerFilter(StatusFilter.CHARGING), ("CP1", "CP3")),
        (ChargerFilter(StatusFilter.IDLE), ("CP2", "DEPOT-04")),
        (ChargerFilter(text="cp"), ("CP1", "CP2", "CP3", "OCPP-7")),
        (ChargerFilter(text="DEPOT"), ("DEPOT-04",)),
        (ChargerFilter(StatusFilter.IDLE, "cp"), ("CP2",)),
        (ChargerFilter(StatusFilter.CHARGING, "depot"), ()),
        (ChargerFilter(StatusFilter.OTHER), ("OCPP-7",)),
        (ChargerFilter(text="-"), ("DEPOT-04", "OCPP-7")),
    ],
)
def test_rows_kept_in_display_order(shown: ChargerFilter, rows: tuple[str, ...]) -> None:
    assert shown.rows(STATE) == rows


def test_no_filter_hands_over_the_order_without_copying_it() -> None:
    assert ChargerFilter().rows(STATE) is STATE.order
    assert not ChargerFilter().active
    assert ChargerFilter(text="x").active
    assert ChargerFilter(StatusFilter.IDLE).active


def test_the_filter_line_says_what_is_kept() -> None:
    assert ChargerFilter(StatusFilter.CHARGING, "CP").describe(2, 5000) == (
        '2 of 5,000 chargers · status Charging · id contains "CP" · esc shows all'
    )
