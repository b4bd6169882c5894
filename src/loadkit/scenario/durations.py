"""Durations as people write them: `500ms`, `30s`, `5m`, `1h30m`, or a bare number of seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
HINT = "write a duration like 500ms, 30s, 5m or 1h30m"


def parse_duration(value: object) -> float:
    """Seconds as a float. Raises ValueError with a message fit for the user."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}; {HINT}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite duration, got {value!r}; {HINT}")
        if value < 0:
            raise ValueError(f"duration must not be negative, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration, got {type(value).__name__}; {HINT}")
    text = value.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total, seen = 0, 0.0, []
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        unit = match.group(2)
        if unit in seen:
            raise ValueError(f"unit {unit!r} appears twice in duration {value!r}; {HINT}")
        seen.append(unit)
        total += float(match.group(1)) * _UNIT_SECONDS[unit]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"invalid duration {value!r}; {HINT}")
    return total


def format_duration(seconds: float) -> str:
    """Compact human form: 0.25 -> '250ms', 90 -> '1m30s', 3600 -> '1h'."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or frac or not parts:
        parts.append(f"{secs + frac:g}s")
    return "".join(parts)
