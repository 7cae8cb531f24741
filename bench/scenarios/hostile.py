"""Hostile clients and signals, measured by bench/abuse.py and bench/flood.py, as fault rows.

The measurements are those scripts' own functions; this module only says what each must show:
an oversized body refused before it is read (401 without the token, 413 with it) with memory
unchanged; half-sent request heads dropped after their deadline while ordinary requests are
served; every signal ending the process within 10 s with exit status 0; an MQTT flood leaving
the daemon's memory flat and the next query answered.
"""

import asyncio

from bench import abuse, flood
from bench.scenarios.rig import Outcome

MEMORY_SLACK_MIB = 5.0
"""Growth of the daemon's resident memory that still counts as unchanged."""
HEAD_DEADLINE_S = 10.0
"""The daemon's deadline for a request head (`HttpLimits.header_timeout`)."""


def held_memory(row: Outcome, *, alive: bool, before: float, peak: float) -> None:
    """Count a crash if the daemon died, a failure if its memory grew past the slack."""
    if not alive:
        row.crashes += 1
    row.check(
        peak - before <= MEMORY_SLACK_MIB, f"the daemon's memory grew {peak - before:.0f} MiB"
    )


async def rest_bodies(megabytes: int) -> list[Outcome]:
    """Oversized POSTs: declared by Content-Length without and with the token, and chunked."""
    rows = []
    for body in await asyncio.to_thread(abuse.bodies, megabytes * abuse.MB):
        row = Outcome(f"{megabytes} MB POST body ({body.kind})", 1, "request")
        held_memory(row, alive=body.alive, before=body.rss_before_mib, peak=body.rss_peak_mib)
        row.check(body.answer.startswith(f"HTTP/1.1 {body.expected}"), f"answered {body.answer}")
        row.figure = (
            f"{body.answer.removeprefix('HTTP/1.1 ')} after {body.sent / abuse.MB:.1f} MB;"
            f" RSS {body.rss_before_mib:.0f} → {body.rss_after_mib:.0f} MiB"
            f" (peak {body.rss_peak_mib:.0f})"
        )
        rows.append(row)
    return rows


async def slow_clients(count: int, hold: float) -> list[Outcome]:
    """`count` half-sent request heads held `hold` seconds (slowloris)."""
    slow = await asyncio.to_thread(abuse.slow_clients, count, hold)
    row = Outcome(f"slowloris: half-sent request heads held {hold:g} s", count, "connection")
    held_memory(row, alive=slow.alive, before=slow.rss_before_mib, peak=slow.rss_peak_mib)
    row.check(slow.served == slow.asked, f"{slow.served} of {slow.asked} ordinary requests served")
    if hold > HEAD_DEADLINE_S + 2:
        row.check(slow.still_open == 0, f"{slow.still_open} still open past the head deadline")
    row.figure = (
        f"{slow.still_open} still open at the end; {slow.served}/{slow.asked} requests served,"
        f" slowest {slow.worst_s * 1000:.0f} ms; RSS {slow.rss_before_mib:.0f} →"
        f" {slow.rss_after_mib:.0f} MiB"
    )
    return [row]


async def signals() -> list[Outcome]:
    """SIGTERM (and SIGINT) in each phase of the daemon's life."""
    rows = []
    for result in await asyncio.to_thread(abuse.signals):
        row = Outcome(f"signal: {result.phase}", 1, "signal")
        row.check(result.seconds is not None, "still running 10 s after the signal")
        row.check(result.exit_code in {0, None}, f"exit status {result.exit_code}")
        row.figure = result.describe()
        rows.append(row)
    return rows


async def mqtt_flood(messages: int) -> list[Outcome]:
    """`messages` MQTT commands and junk published as fast as the broker takes them."""
    result = await flood.flood(messages, flood.JUNK_BYTES)
    row = Outcome(
        f"MQTT flood: queries, commands, {flood.JUNK_BYTES:,}-byte junk, QoS 0 and 1",
        messages,
        "message",
    )
    held_memory(row, alive=result.alive, before=result.rss_before_mib, peak=result.rss_peak_mib)
    row.check(result.answered_s is not None, "the next query was not answered")
    answered = f"{result.answered_s * 1000:.0f} ms" if result.answered_s else "never"
    row.figure = (
        f"{result.messages / result.seconds:,.0f} msg/s for {result.seconds:.0f} s; RSS"
        f" {result.rss_before_mib:.0f} → {result.rss_after_mib:.0f} MiB (peak"
        f" {result.rss_peak_mib:.0f}); next query answered in {answered}"
    )
    return [row]
