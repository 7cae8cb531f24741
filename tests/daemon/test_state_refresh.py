"""Refreshing the retained states of charging chargers: every one in time, never all at once."""

import math
from collections import Counter

from evcsm_daemon.mqtt.refresh import StateRefresh

EVERY_S = 5.0
TICK_S = 1.0


def test_a_charger_is_refreshed_once_its_state_is_older_than_the_interval() -> None:
    refresh = StateRefresh(EVERY_S, TICK_S)
    refresh.published("CP1", 0.0)
    assert refresh.due(["CP1"], 4.0) == []
    assert refresh.due(["CP1"], 5.0) == ["CP1"]
    assert refresh.due(["CP1"], 6.0) == []
    assert refresh.due(["CP1"], 10.0) == ["CP1"]


def test_a_charger_never_published_is_due_at_once_and_a_stopped_one_is_forgotten() -> None:
    refresh = StateRefresh(EVERY_S, TICK_S)
    assert refresh.due(["CP1"], 0.0) == ["CP1"]
    refresh.forget("CP1")
    assert refresh.due([], 100.0) == []
    assert refresh.due(["CP1"], 100.0) == ["CP1"]


def test_thousands_published_together_are_spread_over_the_interval() -> None:
    chargers = [f"CP{n}" for n in range(5000)]
    refresh = StateRefresh(EVERY_S, TICK_S)
    for charger_id in chargers:
        refresh.published(charger_id, 0.0)  # every state goes out on connect
    last = dict.fromkeys(chargers, 0.0)
    per_tick: list[int] = []
    gaps: Counter[float] = Counter()
    for tick in range(1, 61):
        now = tick * TICK_S
        due = refresh.due(chargers, now)
        per_tick.append(len(due))
        for charger_id in due:
            gaps[now - last[charger_id]] += 1
            last[charger_id] = now
    share = math.ceil(len(chargers) * TICK_S / EVERY_S)
    assert share == 1000
    # Nothing before the interval, then one share per tick: never a burst of 5,000.
    assert per_tick == [0] * 4 + [share] * 56
    # The first round spreads the burst over 5 ticks (gaps of 5 to 9 s); then every 5 s exactly.
    assert set(gaps) == {5.0, 6.0, 7.0, 8.0, 9.0}
    assert gaps[5.0] > 9 * len(chargers)
    assert all(60.0 - seen < EVERY_S for seen in last.values())


def test_a_large_fleet_is_refreshed_less_often_never_past_the_rate() -> None:
    chargers = [f"CP{n}" for n in range(10_000)]
    refresh = StateRefresh(EVERY_S, TICK_S, per_s=500)
    assert refresh.period(1_000) == EVERY_S
    assert refresh.period(10_000) == 20.0
    for charger_id in chargers:
        refresh.published(charger_id, 0.0)
    per_tick = [len(refresh.due(chargers, tick * TICK_S)) for tick in range(1, 41)]
    assert max(per_tick) == 500
    assert per_tick[:19] == [0] * 19  # none is older than the period of 20 s before then
    assert sum(per_tick) == 500 * 21  # ticks 20 to 40, 500 each: every charger every 20 s


def test_a_period_of_zero_turns_the_refresh_off() -> None:
    refresh = StateRefresh(0.0, TICK_S, per_s=500)
    assert refresh.due(["CP1"], 100.0) == []
