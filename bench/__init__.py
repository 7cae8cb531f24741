"""Benchmarks, run from the repository root: `uv run python -m bench.fleet --help`."""
