"""The scenario's secrets masked wherever Locust produces text."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from locust import events
from locust.env import Environment
from locust.event import EventHook
from locust.exception import CatchResponseError

from loadkit.harness.state import state
from loadkit.harness_protocol import (
    SECRET_NAMES_ENV,
)
from loadkit.masking import Secrets

# -------------------------------------------------------------------------------- secrets
# A secret's value is never written unmasked, not even for a moment: a signal or a crash can
# end `loadkit run` before it masks the run folder. So it is masked here, where Locust produces
# text: whatever is printed or logged (sys.stdout/sys.stderr, and every logging handler), the
# statistics name, url and error of each request before any listener sees them (Locust's
# stats, CSVs and HTML report, the fine histograms), exceptions (runner.log_exception) and
# what workers report. Forked --processes workers inherit all of it; a worker on another
# machine masks its own output when it has LOADKIT_SECRET_NAMES and the secrets, and the
# master masks what any worker reports.


def _mask_secrets() -> None:
    """Mask the secrets named by LOADKIT_SECRET_NAMES, whose values this process (started by
    `loadkit run` with its environment) reads from its own environment."""
    names = [name for name in os.environ.get(SECRET_NAMES_ENV, "").split(",") if name]
    state.secrets = Secrets(os.environ.get(name, "") for name in names)
    if not state.secrets:
        return
    sys.stdout = _MaskedStream(sys.stdout)
    sys.stderr = _MaskedStream(sys.stderr)  # Locust's log handlers are made later, on it
    masked = _MaskedRequestEvent()
    masked._handlers = events.request._handlers  # the listeners added so far (ours)
    events.request = masked
    events.init.add_listener(_mask_in_runner)


class _MaskedStream:
    """A text stream that masks secrets in everything written to it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(state.secrets.mask(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _MaskedRequestEvent(EventHook):
    """Locust's `request` event, with secrets masked out of the statistics name, the url and
    the error before any listener sees them."""

    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}  # a name as requested -> as recorded

    def fire(self, *, reverse: bool = False, **kwargs: Any) -> None:
        name = kwargs.get("name")
        if isinstance(name, str):
            masked = self._names.get(name)
            if masked is None:
                masked = state.secrets.mask(name)
                if len(self._names) < 10_000:  # names holding ids would grow it forever
                    self._names[name] = masked
            kwargs["name"] = masked
        url = kwargs.get("url")
        if isinstance(url, str):
            kwargs["url"] = state.secrets.mask(url)
        if kwargs.get("exception") is not None:
            kwargs["exception"] = _masked_error(kwargs["exception"])
        super().fire(reverse=reverse, **kwargs)


class _MaskedError(Exception):
    """Stands for an error whose text held a secret: Locust shows an error by its repr."""

    def __init__(self, text: str, described: str) -> None:
        super().__init__(text)
        self.described = described

    def __repr__(self) -> str:
        return self.described


def _masked_error(error: Any) -> Any:
    if isinstance(error, str):
        return state.secrets.mask(error)
    text, described = str(error), repr(error)
    if not (state.secrets.found_in(text) or state.secrets.found_in(described)):
        return error
    if isinstance(error, CatchResponseError):  # a failed check: Locust shows its message
        return CatchResponseError(state.secrets.mask(text))
    return _MaskedError(state.secrets.mask(text), state.secrets.mask(described))


class _MaskingFilter(logging.Filter):
    """Masks a log record's message and traceback before a handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if state.secrets.found_in(message):
            record.msg, record.args = state.secrets.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = state.secrets.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = state.secrets.mask(record.stack_info)
        return True


def _mask_in_runner(environment: Environment, **_: Any) -> None:
    # Locust has set up its logging and made the runner by now (and, with --processes, forked).
    masking = _MaskingFilter()
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            handler.addFilter(masking)
    runner = environment.runner
    if runner is None:
        return
    log_exception = runner.log_exception  # a local user's, or one a worker reported

    def masked_log_exception(node_id: str, msg: str, formatted_tb: str) -> None:
        log_exception(node_id, state.secrets.mask(msg), state.secrets.mask(formatted_tb))

    runner.log_exception = masked_log_exception  # type: ignore[method-assign]
