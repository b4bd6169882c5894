"""The process exit codes of `loadkit`: the contract a CI stage gates on, and the verdict of a
run that decides one.

Decided in one place (`cli.run_cli`); every other module raises or returns values. Two
processes that are not the CLI leave with one of these codes themselves, as no `run_cli` runs
there: `bridge` (inside a plain `locust -f`, a scenario it cannot read) and the harness
(inside Locust, `harness.lifecycle`'s deadline when Locust does not stop).
"""

from enum import IntEnum, StrEnum


class ExitStatus(IntEnum):
    PASS = 0
    """The run completed and every threshold held."""
    THRESHOLDS_FAILED = 1
    """The run completed and at least one threshold failed (or no request was made)."""
    INVALID_INPUT = 2
    """The scenario or the command line is invalid; no load was sent."""
    ABORTED = 3
    """The run was interrupted (SIGINT/SIGTERM); partial results were still written."""
    INTERNAL_ERROR = 4
    """Locust or loadkit failed unexpectedly; see the run folder's locust.log."""


class Verdict(StrEnum):
    """A run's verdict (summary.json's ``verdict``, decided by `summary.build_summary`). A
    StrEnum: each member is the string summary.json holds, and equals it."""

    PASS = "pass"
    """The run completed and did everything it claims: every threshold held, the planned
    load was delivered, no exception in the test code."""
    FAIL = "fail"
    """The run completed but did not hold (a threshold, the load, all requests failed, ...)."""
    ABORTED = "aborted"
    """Interrupted before its planned end."""
    ERROR = "error"
    """Locust or loadkit failed: no statistics, Locust killed, or only partial numbers."""

    @property
    def exit_status(self) -> ExitStatus:
        return _VERDICT_EXIT[self]


_VERDICT_EXIT = {
    Verdict.PASS: ExitStatus.PASS,
    Verdict.FAIL: ExitStatus.THRESHOLDS_FAILED,
    Verdict.ABORTED: ExitStatus.ABORTED,
    Verdict.ERROR: ExitStatus.INTERNAL_ERROR,
}
