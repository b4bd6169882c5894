"""Values a scenario reads from the environment that are not set where it is read.

Checking a file (`loadkit validate`, `compile`, `k8s`) must not need them: a lint stage or a
pull request from a fork has no secrets, and a host is often set only in the run stage. The
reader notes each use (`source`), the file is checked without the value, and each command
decides what a missing value means: a warning for `validate` (an error with --strict), a
run-time read for `compile`, the pod's business for `k8s`, an error for `run` and `ui`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loadkit.errors import Location, Problem

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class UnsetValue:
    """One use of an environment variable that is not set (or empty, for a secret)."""

    name: str
    secret: bool  # `${secret:NAME}` or named in `secrets:`: read at run time, never written
    location: Location
    key_path: str  # as a problem names it, e.g. "users[0].tasks[1].headers.X-Token"
    path: KeyPath
    unchecked: bool = False
    """The field could not be checked without the value (a host, a number): the reader put a
    stand-in there for the rest of the checks."""
    template: bool = False  # written as `{{ env.NAME }}`, read at run time, not `${NAME}`


def _first_uses(unset: Iterable[UnsetValue]) -> dict[str, list[UnsetValue]]:
    by_name: dict[str, list[UnsetValue]] = {}
    for value in unset:
        by_name.setdefault(value.name, []).append(value)
    return by_name


def missing_message(name: str, secret: bool, *, template: bool = False, uses: str = "") -> str:
    """What a run says of a value it needs (the reader says the same); `uses`: " (4 uses)"."""
    if secret:
        return f"secret environment variable {name} is not set{uses}; export it before the run"
    if template:
        return (
            f"environment variable {name} is not set (used as {{{{ env.{name} }}}}){uses}; "
            "export it before the run"
        )
    return (
        f"environment variable {name} is not set{uses}; "
        f"export it or give a default: ${{{name}:-value}}"
    )


def _uses(uses: list[UnsetValue]) -> str:
    # A value met again through an alias or a merge is one use, where it was written.
    count = len({u.location for u in uses})
    return f" ({count} uses)" if count > 1 else ""


def problems(unset: Iterable[UnsetValue], *, skip: Iterable[KeyPath] = ()) -> list[Problem]:
    """One error per variable a run needs (at its first use), except uses at `skip` (a host
    given on the command line needs no variable)."""
    skipped = set(skip)
    out = []
    for name, uses in _first_uses(u for u in unset if u.path not in skipped).items():
        first = uses[0]
        message = missing_message(name, first.secret, template=first.template, uses=_uses(uses))
        out.append(Problem(first.location, first.key_path, message))
    return out


def warnings(unset: Iterable[UnsetValue]) -> list[Problem]:
    """One warning per variable for `validate`: what was not checked, and that a run needs it."""
    out = []
    for name, uses in _first_uses(unset).items():
        first = uses[0]
        kind = "secret environment variable" if first.secret else "environment variable"
        unchecked = sorted({u.key_path for u in uses if u.unchecked})
        checked = (
            f"{', '.join(unchecked)} not checked" if unchecked else "checked without it"
        )
        plain = not (first.secret or first.template)  # a `${NAME}` may have a default
        default = f", or give a default: ${{{name}:-value}}" if plain else ""
        out.append(
            Problem(
                first.location,
                first.key_path,
                f"{kind} {name} is not set{_uses(uses)}: {checked}; "
                f"a run needs it: export it before the run{default}",
            )
        )
    return out


def names(unset: Iterable[UnsetValue], *, secret: bool) -> list[str]:
    """The variables' names (secrets or not), sorted."""
    return sorted({u.name for u in unset if u.secret == secret})
