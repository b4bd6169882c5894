"""The Locust releases loadkit works with, in one place.

pyproject.toml declares the range (`locust>=2.42,<3`; a test checks the two agree), `.ci/run`
runs the fast tier and an end-to-end set on the oldest as well as on the newest, and every
generated locustfile refuses, in one line, a Locust older than the oldest. Newer releases are
allowed: what loadkit uses beyond Locust's public API is named here, in `PRIVATE_TOUCHPOINTS`
(a test finds every private name the in-Locust code uses and requires it here or in the lean
path's own guard), and checked where it is used (the lean request path in
`locustfile_helpers.lean_path.lean_path_works`, which a generated file carries, against its
`LEAN_PATH_NEEDS`; the harness's request listener in `harness.requests._join_locusts_stats`);
each falls back to Locust's own code when it is not there.
"""

from __future__ import annotations

OLDEST_LOCUST = (2, 42)
"""The oldest Locust (major, minor) the suite runs on."""


def oldest_locust_text() -> str:
    return ".".join(str(part) for part in OLDEST_LOCUST)


def version_guard() -> list[str]:
    """The lines a generated locustfile starts with, after its imports."""
    oldest = oldest_locust_text()
    return [
        "",
        f"# Needs Locust {oldest} or newer (what loadkit tests); an older one lacks what it uses.",
        f'if tuple(int(part) for part in locust.__version__.split(".")[:2]) < {OLDEST_LOCUST!r}:',
        f'    raise SystemExit(f"this locustfile needs Locust {oldest} or newer, not '
        f"{{locust.__version__}}: pip install 'locust>={oldest}'\")",
    ]


PRIVATE_TOUCHPOINTS: dict[str, str] = {
    # The harness (inside Locust, `harness/`).
    "EventHook._handlers": (
        "harness.requests: the request event's listeners, where Locust's own is found and "
        "replaced by the harness's batches; harness.secrets: the masked request event keeps "
        "the listeners added before it"
    ),
    "Runner.__init__.<locals>.on_request": (
        "harness.requests: Locust's own request listener, found by its qualname; when it is "
        "not there, Locust logs each request itself"
    ),
    "locust.stats.time": (
        "harness.requests: the clock Locust's statistics read, answered from the batches; "
        "left as is when it is not the `time` module"
    ),
    "StatsCSVFileWriter._stats_history_data_rows": (
        "harness.requests: the per-second history writer, capped at MAX_NAMED_SERIES names; "
        "left as is when it is not there"
    ),
    # The locustfile helpers, carried by every generated file (`locustfile_helpers/`): the lean
    # path's are checked on a process's first user against LEAN_PATH_NEEDS (lean_path.py),
    # which falls back to `self.client.request`; these need no check of their own.
    "CookieJar._cookies": (
        "lean_path: a user that holds cookies sends through Locust's session (the standard "
        "library's CookieJar)"
    ),
    "FastResponse._cached_content, _elapsed, _history, _request, _sent_request": (
        "lean_path: set on the lean path's own responses as FastHttpSession sets them, and "
        "copied by `adopt` where a response has them"
    ),
    "geventhttpclient._parser.HTTPParseError": (
        "lean_path: the parse error FastHttpSession counts as a failed request (imported)"
    ),
    "User._state": (
        "schedules.sleep_while_waiting: a user waiting for its next arrival is marked "
        "waiting, as Locust's own wait does, so that stopping it stops it at once"
    ),
}
"""Every private attribute, module or name of Locust (and of the libraries it brings) that
loadkit's in-Locust code uses -> where, and what happens without it."""
