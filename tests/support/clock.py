"""A clock tests move by hand."""

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


class FakeClock:
    """Returns `now`; `advance()` moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move forward and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now
