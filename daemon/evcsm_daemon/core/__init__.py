"""The pure core: session rules and the meter model. No IO, no await; the clock is passed in."""
