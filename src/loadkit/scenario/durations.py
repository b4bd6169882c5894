"""Durations as people write them: `500ms`, `30s`, `5m`, `1h30m`, or a bare number of seconds."""

from __future__ import annotations

import math
import re

from loadkit.scenario.limits import MAX_DURATION_S

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
HINT = "write a duration like 500ms, 30s, 5m or 1h30m"


def parse_duration(value: object) -> float:
    """Seconds as a float, at most 30 days. Raises ValueError with a message fit for the user."""
    seconds = _seconds(value)
    if seconds > MAX_DURATION_S:
        raise ValueError(
            f"duration {_shown(value)} is longer than {format_duration(MAX_DURATION_S)} (30 days), "
            "the longest loadkit runs or waits; give a shorter one"
        )
    return seconds


def _seconds(value: object) -> float:
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
        raise ValueError(f"invalid duration {_shown(value)}; {HINT}")
    return total


def _shown(value: object, limit: int = 40) -> str:
    """`repr` of what was written, cut to fit a line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    quote = text[0] if text[0] in "'\"" else ""
    return f"{text[: limit - 4]}...{quote}"


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
