"""Errors that reach the user as one line: where, what is wrong, how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


class LoadkitError(Exception):
    """An error with a message fit to show as-is (no traceback)."""


class UsageError(LoadkitError):
    """Bad input found after the command line was parsed: an override that cannot apply, a
    run folder that cannot be made (exit code INVALID_INPUT, nothing sent)."""


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, pinned to a place in its file."""

    location: Location
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.key_path}: " if self.key_path else ""
        return f"{self.location}: {where}{self.message}"


class ScenarioError(LoadkitError):
    """A scenario that cannot be run. Carries every problem found, each one line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def did_you_mean(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`; did you mean 'x'?` for the closest choice, or "" when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f"; did you mean '{close[0]}'?" if close else ""


def did_you_mean_among(word: str, choices: Iterable[str], label: str = "allowed") -> str:
    """`did_you_mean`, then every choice: `; did you mean 'x'? (label: a, b, c)`; "" when
    there is no choice."""
    known = list(choices)
    if not known:
        return ""
    return f"{did_you_mean(word, known)} ({label}: {', '.join(known)})"
