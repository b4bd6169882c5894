"""Copies helpers from `runtime.py` into generated locustfiles, with what they import.

The source is read as text and cut with `ast` (never imported here: it imports Locust, and
the CLI process must not be monkey-patched by gevent).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from importlib import resources

# helper -> (helpers it calls, top-level imports it needs)
HELPERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "check_status": ((), ()),
    "failed": ((), ()),
    "response_json": (("failed",), ()),
    "json_at": ((), ()),
    "shown": ((), ()),
    "checks_pass": (("failed", "response_json", "json_at", "shown"), ("import re",)),
    "capture": (("failed", "response_json", "json_at", "shown"), ("import re",)),
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
}
HELPER_NAMES = frozenset(HELPERS)


@dataclass(frozen=True)
class HelpersSource:
    code: str
    extra_imports: list[str]


@cache
def _segments() -> dict[str, str]:
    text = (resources.files("loadkit") / "runtime.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    out: dict[str, str] = {}
    for node in tree.body:
        names: list[str] = []
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        segment = ast.get_source_segment(text, node)
        if segment is None:
            continue
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.decorator_list:
            first = node.decorator_list[0]
            segment = "\n".join(text.splitlines()[first.lineno - 1 : node.end_lineno])
        for name in names:
            out[name] = segment
    return out


def helpers_source(wanted: set[str]) -> HelpersSource:
    """The helpers `wanted` and everything they use, in runtime.py's order."""
    needed: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        stack.extend(HELPERS[name][0])
    segments = _segments()
    order = [name for name in segments if name in needed]
    imports = sorted({imp for name in needed for imp in HELPERS[name][1]})
    blocks: list[str] = []
    for name in order:
        segment = segments[name]
        if not blocks or segment != blocks[-1]:
            blocks.append(segment)
    separator = "\n\n\n"
    return HelpersSource(code=separator.join(blocks), extra_imports=imports)
