"""Durations as people write them: parse_duration / format_duration."""

from __future__ import annotations

import pytest

from loadkit.scenario.durations import HINT, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("2m500ms", 120.5),
        ("1.5s", 1.5),
        ("0.25s", 0.25),
        ("30", 30.0),
        ("2.5", 2.5),
        ("0", 0.0),
        (" 30s ", 30.0),
        ("1h 30m", 5400.0),
        ("30S", 30.0),
        ("1H30M", 5400.0),
    ],
)
def test_parse_text(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("number", "seconds"), [(30, 30.0), (0, 0.0), (1.5, 1.5), (0.25, 0.25)])
def test_parse_bare_numbers_are_seconds(number: float, seconds: float) -> None:
    result = parse_duration(number)
    assert result == seconds
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", f"invalid duration ''; {HINT}"),
        ("   ", f"invalid duration '   '; {HINT}"),
        ("30 sec", f"invalid duration '30 sec'; {HINT}"),
        ("5x", f"invalid duration '5x'; {HINT}"),
        ("s", f"invalid duration 's'; {HINT}"),
        ("1m30", f"invalid duration '1m30'; {HINT}"),
        (".5s", f"invalid duration '.5s'; {HINT}"),
        ("-5s", f"invalid duration '-5s'; {HINT}"),
        ("-5", f"invalid duration '-5'; {HINT}"),
        ("1e3s", f"invalid duration '1e3s'; {HINT}"),
        ("1s1s", f"unit 's' appears twice in duration '1s1s'; {HINT}"),
        ("1m2s3m", f"unit 'm' appears twice in duration '1m2s3m'; {HINT}"),
        (-1, "duration must not be negative, got -1"),
        (-0.5, "duration must not be negative, got -0.5"),
        (True, f"expected a duration, got True; {HINT}"),
        (False, f"expected a duration, got False; {HINT}"),
        (None, f"expected a duration, got NoneType; {HINT}"),
        ([1, 2], f"expected a duration, got list; {HINT}"),
        (float("inf"), f"expected a finite duration, got inf; {HINT}"),
        (float("nan"), f"expected a finite duration, got nan; {HINT}"),
    ],
)
def test_parse_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == message


def test_hint_names_the_forms() -> None:
    assert HINT == "write a duration like 500ms, 30s, 5m or 1h30m"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0ms"),
        (0.25, "250ms"),
        (0.5, "500ms"),
        (0.0005, "0.5ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (30, "30s"),
        (60, "1m"),
        (90, "1m30s"),
        (300, "5m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (3661, "1h1m1s"),
        (3600.5, "1h0.5s"),
        (7200, "2h"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["500ms", "30s", "5m", "1h30m", "1h1m1s", "1.5s", "2h"])
def test_format_round_trips(text: str) -> None:
    assert format_duration(parse_duration(text)) == text
