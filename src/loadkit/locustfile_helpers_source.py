"""Copies helpers from `locustfile_helpers/` into generated locustfiles, with what they import.

The source is read as text and cut with `ast` (never imported here: it imports Locust, and
the CLI process must not be monkey-patched by gevent).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from importlib import resources

# What the lean request path takes from Locust's FastHttpUser module (one line for all its parts).
_FASTHTTP = (
    "from locust.contrib.fasthttp import "
    "FAILURE_EXCEPTIONS, ErrorResponse, FastResponse, absolute_http_url_regexp"
)
# helper -> (helpers it calls, top-level imports it needs)
HELPERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "failed": ((), ()),
    "response_json": (("failed",), ()),
    "json_at": ((), ()),
    "shown": ((), ()),
    "kind_of": ((), ()),
    "found": (("shown", "kind_of"), ()),
    "expect_status": (("failed",), ()),
    "expect_json": (("failed", "response_json", "json_at", "shown", "found"), ()),
    "expect_json_exists": (("failed", "response_json", "json_at"), ()),
    "expect_body_contains": (("failed", "shown"), ()),
    "expect_body_matches": (("failed", "shown"), ("import re",)),
    "expect_header": (("failed", "shown", "found"), ()),
    "expect_max_ms": (("failed",), ()),
    "capture_json": (("failed", "response_json", "json_at"), ()),
    "capture_regex": (("failed", "shown"), ("import re",)),
    "capture_header": (("failed",), ()),
    "send": (("LeanClient", "lean_path_works"), ()),
    "LEAN_PATH_NEEDS": ((), ()),
    "LEAN_PATH": ((), ()),
    "lean_path_works": (
        ("LEAN_PATH_NEEDS", "LEAN_PATH"),
        ("import logging", "import locust", "from geventhttpclient.url import URL"),
    ),
    "LeanClient": (
        ("Prepared", "LeanResponse", "LeanErrorResponse", "adopt", "lean_path_works"),
        (
            "import json",
            "import time",
            "from gevent import GreenletExit",
            "from geventhttpclient.useragent import RetriesExceeded",
            _FASTHTTP,
        ),
    ),
    "Prepared": (
        (),
        (
            "import errno",
            "from geventhttpclient._parser import HTTPParseError",
            "from geventhttpclient.client import IDEMPOTENT_METHODS",
            "from geventhttpclient.response import HTTPConnectionClosed, HTTPSocketPoolResponse",
            "from geventhttpclient.url import URL",
        ),
    ),
    "LeanResponse": (
        (),
        (_FASTHTTP, "from locust.exception import CatchResponseError, LocustError, ResponseError"),
    ),
    "LeanErrorResponse": (("LeanResponse",), (_FASTHTTP,)),
    "adopt": (("LeanResponse", "LeanErrorResponse"), (_FASTHTTP,)),
    "TRACE_HEADER": ((), ()),
    "new_traceparent": ((), ("import random",)),
    "trace_requests": (("TracedClient", "trace_session"), ()),
    "trace_session": (("new_traceparent", "TRACE_HEADER"), ()),
    "TracedClient": (("LeanClient", "TracedPrepared", "new_traceparent", "TRACE_HEADER"), ()),
    "TracedPrepared": (("Prepared", "TRACE_HEADER"), ()),
    "TRANSACTION": ((), ()),
    "Transaction": (
        ("TRANSACTION",),
        ("import time", "from gevent import GreenletExit", "from locust.exception import StopUser"),
    ),
    "basic_auth": ((), ("import base64",)),
    "form_body": ((), ("from urllib.parse import urlencode",)),
    "USER_NUMBERS": ((), ("import itertools",)),
    "next_user_id": (("USER_NUMBERS",), ()),
    "DATA_SOURCES": ((), ()),
    "DataSource": (
        ("DATA_SOURCES", "ask_master_for_row", "hand_out_rows_from_master"),
        (
            "import logging",
            "import random",
            "from locust.exception import StopUser",
            "from locust.runners import MasterRunner, WorkerRunner",
        ),
    ),
    "ROW_REQUESTS": ((), ()),
    "ROW_TICKETS": ((), ("import itertools",)),
    "ask_master_for_row": (
        ("ROW_REQUESTS", "ROW_TICKETS"),
        ("from gevent.event import AsyncResult",),
    ),
    "hand_out_rows_from_master": (
        ("DATA_SOURCES", "ROW_REQUESTS"),
        ("from locust import events", "from locust.runners import MasterRunner, WorkerRunner"),
    ),
    "load_locustfile": ((), ("import importlib.util", "import os")),
    "TLSSettings": ((), ("from gevent import ssl",)),
    "NO_DELAY": ((), ()),
    "start_delay": ((), ()),
    "sleep_while_waiting": ((), ("import gevent",)),
    "Arrivals": (
        ("NO_DELAY", "start_delay", "sleep_while_waiting"),
        (
            "import collections",
            "import random",
            "import time",
            "from locust import events",
            "from locust.runners import WorkerRunner",
        ),
    ),
    "Pacing": (("NO_DELAY", "start_delay", "sleep_while_waiting"), ("import time",)),
}
HELPER_NAMES = frozenset(HELPERS)
# The json helpers read parsed paths from this table; each generated file writes its own.
JSON_PATHS = "JSON_PATHS"


@dataclass(frozen=True)
class HelpersSource:
    code: str
    extra_imports: list[str]
    names: frozenset[str] = frozenset()


FILES = ("checks.py", "lean_path.py", "users.py", "schedules.py")
"""The helpers' modules in `locustfile_helpers/`, in the order a generated file carries them."""

Place = tuple[int, int]
"""A line of the helpers: (its module's place in FILES, line number)."""


@cache
def _segments() -> dict[str, tuple[Place, Place, str]]:
    """Each top-level definition's (first line, last line, source), with its decorators and
    the comment right above it."""
    out: dict[str, tuple[Place, Place, str]] = {}
    for number, name in enumerate(FILES):
        helpers = resources.files("loadkit") / "locustfile_helpers" / name
        _add_segments(out, number, helpers.read_text(encoding="utf-8"))
    return out


def _add_segments(out: dict[str, tuple[Place, Place, str]], number: int, text: str) -> None:
    lines = text.splitlines()
    tree = ast.parse(text)
    for node in tree.body:
        names: list[str] = []
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not names or node.end_lineno is None:
            continue
        decorators = node.decorator_list if isinstance(node, ast.FunctionDef | ast.ClassDef) else []
        first = (decorators[0] if decorators else node).lineno - 1
        while first > 0 and lines[first - 1].startswith("#"):
            first -= 1
        segment = "\n".join(lines[first : node.end_lineno])
        for name in names:
            out[name] = ((number, first), (number, node.end_lineno), segment)


def helpers_source(wanted: set[str], *, without: frozenset[str] = frozenset()) -> HelpersSource:
    """The helpers `wanted` and everything they use, in the helpers' order (FILES, then their
    lines), except those `without` names (written elsewhere in the same file)."""
    needed = _with_dependencies(wanted) - without
    segments = _segments()
    imports = sorted({imp for name in needed for imp in HELPERS[name][1]})
    code, last_line = "", (-1, -1)
    for first, last, segment in sorted({segments[name] for name in needed}):
        # Definitions on adjacent lines (ROW_REQUESTS, ROW_TICKETS) stay together.
        separator = "" if not code else "\n" if first == last_line else "\n\n\n"
        code += separator + segment
        last_line = last
    return HelpersSource(code=code, extra_imports=imports, names=frozenset(needed))


def _with_dependencies(wanted: set[str]) -> set[str]:
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(HELPERS[name][0])
    return needed
