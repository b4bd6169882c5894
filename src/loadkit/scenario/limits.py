"""How much a scenario may ask for: every bound of the scenario language, in one place.

Each is far above what a real test needs and far below what would make loading the scenario or
running it fail in another way (a YAML alias bomb, a run that overflows a timer, a task list
Locust builds `weight` times over). The README lists them; a test pins each message.
"""

from __future__ import annotations

MB = 1024 * 1024

MAX_SCENARIO_BYTES = 10 * MB
"""A scenario file. A 1 MB one validates in well under a second."""
MAX_DATA_BYTES = 50 * MB
"""A test data file: its rows are embedded in the locustfile every worker receives, and each
load process holds them all: an 8 MB CSV (200,000 rows) costs one ~100 MB, so 50 MB ~600 MB."""
MAX_CERTIFICATE_BYTES = 5 * MB
"""A CA bundle, client certificate or key (a system's whole CA bundle is about 0.2 MB)."""

MAX_DEPTH = 50
"""Levels of nested mappings and lists, aliases included."""
MAX_ALIAS_VALUES = 100_000
"""Values (mappings, lists, scalars) that aliases and merge keys may repeat, in all."""
MAX_ALIAS_CHARACTERS = 10 * MB
"""Characters of text that aliases may repeat, in all."""

MAX_NAME_LENGTH = 100
"""The scenario's name: the run folder is named after it."""
MAX_USERS = 1_000_000
"""Users at once, in any stage (and a spawn rate's users per second)."""
MAX_ARRIVAL_RATE = 1_000_000.0
"""Arrivals per second (the open model)."""
MAX_BACKLOG = 10_000_000
"""Arrivals that may wait for a free user (memory: ~50 bytes each)."""
MAX_WEIGHT = 10_000
"""A user type's or a task's weight (Locust lists a task `weight` times)."""
MAX_STAGES = 1_000
"""Stages of a load shape, a `step:` ramp's steps included."""
MAX_DURATION_S = 30 * 24 * 3600.0
"""Any duration, and a whole run: 30 days."""


def format_bytes(size: int) -> str:
    """1.5 MB, 10 MB, 512 bytes."""
    if size < MB:
        return f"{size} bytes" if size < 1024 else f"{size / 1024:.3g} KB"
    return f"{size / MB:.3g} MB"
