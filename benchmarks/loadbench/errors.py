"""The two ways a benchmark stops short of a figure."""

from __future__ import annotations


class BenchmarkError(Exception):
    """A measurement could not be made (not: a target was missed)."""


class Interrupted(BaseException):
    """SIGTERM/SIGINT: stop everything we started and leave."""
