"""bench/clients.py: when the churn sends its stop/start pairs.

The window opens as a tick's updates arrive, so the send times are measured from a fixed point
of the daemon's tick cycle. Pairs sent at fixed offsets (in the middle of each slot of
`1 / churn`) would meet that cycle at only a few points, the same ones every second: at 5 pairs a
second on a 1 s tick, five points, and the command a pair sends first (the MQTT stop) would
land on the tick's work every fifth pair or never, whichever the run's timing picked.
"""

import random

from bench.clients import send_offsets

TICK_S = 1.0
PHASES = 20
"""The tick's cycle cut into twentieths (50 ms each)."""


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - a seeded sequence, nothing secret


def test_pairs_are_sent_at_every_point_of_the_tick_cycle() -> None:
    offsets = send_offsets(150, 5.0, seeded(1))
    phases = {int(offset % TICK_S / TICK_S * PHASES) for offset in offsets}
    assert phases == set(range(PHASES))


def test_each_pair_stays_in_its_own_slot_so_the_rate_holds() -> None:
    slot = 1 / 5.0
    offsets = send_offsets(150, 5.0, seeded(2))
    assert len(offsets) == 150
    assert all(
        number * slot <= offset < (number + 1) * slot for number, offset in enumerate(offsets)
    )


def test_the_same_seed_sends_at_the_same_times() -> None:
    assert send_offsets(40, 2.0, seeded(7)) == send_offsets(40, 2.0, seeded(7))
