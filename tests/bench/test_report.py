"""bench/report.py: the churn's commands told apart by whether they met a flush."""

from bench.report import during


def test_a_command_meets_a_flush_that_runs_during_its_round_trip() -> None:
    sent = [(1.0, 0.5), (2.0, 0.1), (3.0, 1.0), (5.0, 0.2), (6.0, 0.2)]
    flushes = [(1.2, 1.3), (3.9, 4.5), (5.2, 5.3), (5.9, 6.1)]
    met, others = during(sent, flushes)
    assert met == [0.5, 1.0, 0.2]  # one within it; one began during it; one ran when it was sent
    assert others == [0.1, 0.2]  # none near; one began just as it was answered
