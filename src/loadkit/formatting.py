"""How loadkit writes a number for a person: one function per kind of value, used by every
renderer (terminal, summary.md, report.html, junit.xml) and by the threshold messages, so a
value reads the same wherever it appears.

Times keep three significant figures where they matter and never more than two decimals:
0.41 ms, 65.5 ms, 123 ms, 1,235 ms. Rates are percentages with two decimals, throughput one
decimal, Apdex scores three decimals.
"""

from __future__ import annotations

from collections.abc import Mapping

NONE = "-"


def ms(value: float | None) -> str:
    """A time in milliseconds, without the unit."""
    if value is None:
        return NONE
    if value < 1:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def ms_unit(value: float | None) -> str:
    """A time in milliseconds, with the unit."""
    return NONE if value is None else f"{ms(value)} ms"


def percent(fraction: float | None) -> str:
    """A fraction as a percentage: 0.0123 -> 1.23%."""
    return NONE if fraction is None else f"{fraction * 100:.2f}%"


def rps(value: float | None) -> str:
    """Requests (or transactions) per second, without the unit."""
    return NONE if value is None else f"{value:,.1f}"


def score(value: float | None) -> str:
    """An Apdex score."""
    return NONE if value is None else f"{value:.3f}"


def count(value: float | None) -> str:
    return NONE if value is None else f"{value:,.0f}"


def apdex(entry: Mapping[str, object] | None) -> str:
    """A summary's Apdex entry ({score, rating, t_ms}) as `0.940 (good, T=500 ms)`."""
    if not entry or entry.get("score") is None:
        return NONE
    value = entry["score"]
    t_ms = entry.get("t_ms")
    assert isinstance(value, int | float)
    t = f", T={ms_unit(float(t_ms))}" if isinstance(t_ms, int | float) else ""
    return f"{score(float(value))} ({entry.get('rating')}{t})"


def metric_value(unit: str, value: float | None, *, metric: str = "") -> str:
    """A threshold's or a comparison's value in its unit ("ms", "%", "req/s", "" for scores
    and counts): what the terminal, summary.md, report.html and junit.xml all print."""
    if value is None:
        return "n/a"
    if unit == "ms":
        return ms_unit(value)
    if unit == "%":
        return percent(value)
    if unit in ("req/s", "txn/s"):
        return f"{rps(value)} {unit}"
    if metric == "apdex":
        return score(value)
    return count(value) if float(value).is_integer() else f"{value:g}"


_CONTROL = {i: f"\\x{i:02x}" for i in [*range(0x20), 0x7F]} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def printable(text: object) -> str:
    """Text from a scenario or a response (a request name, an error) as one line: control
    characters shown as escapes, so a newline in a name cannot break a table or a terminal."""
    return str(text).translate(_CONTROL)


def request_label(method: object, name: object) -> str:
    """A request as the reports name it, "GET /api/cases": its method and name, the method
    once when the name already starts with it (a user's `name: DELETE records/{id}`)."""
    verb, text = str(method or ""), str(name or "")
    if not verb or text.split(" ", 1)[0].upper() == verb.upper():
        return text.strip()
    return f"{verb} {text}".strip()


def measured(value: float | None, unit: str) -> str:
    """A system's metric (`observe:`) in its unit: bytes as MiB/GiB, other units after three
    significant figures (0.0312 cores, 3.9 cores, 18 connections)."""
    if value is None:
        return NONE
    if unit == "bytes":
        for size, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= size:
                return f"{value / size:.3g} {name}"
        return f"{value:.0f} bytes"
    number = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{number} {unit}".rstrip()


def utc_time(unix_s: float) -> str:
    """A moment as the history lists it: `2026-12-06 04:29:35` (UTC)."""
    import datetime

    return datetime.datetime.fromtimestamp(unix_s, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
