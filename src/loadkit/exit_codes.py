"""The process exit codes of `loadkit`: the contract a CI stage gates on.

Decided in one place (`cli.main`); every other module raises or returns values.
"""

from enum import IntEnum


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
