"""Shared fixtures.

The test process never imports locust or gevent (pytest runs with ``-p no:locust``):
anything gevent-based — the demo target included — runs in a subprocess.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Test the working tree even when loadkit is not (editable-)installed.
_SRC = str(Path(__file__).resolve().parent.parent / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

from loadkit.target import TargetProcess  # noqa: E402

TargetFactory = Callable[..., TargetProcess]


@pytest.fixture
def target_factory() -> Iterator[TargetFactory]:
    """Start targets with custom arguments, e.g. ``target_factory("--max-concurrency", "2")``.

    Takes the same arguments as :class:`TargetProcess`; every target started is stopped at
    teardown.
    """
    started: list[TargetProcess] = []

    def start(*extra_args: str, port: int = 0, record: bool = False) -> TargetProcess:
        proc = TargetProcess(*extra_args, port=port, record=record)
        started.append(proc)
        return proc.start()

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def target() -> Iterator[TargetProcess]:
    """A fresh target (own process, zero counts) for one test."""
    with TargetProcess() as proc:
        yield proc


@pytest.fixture(scope="session")
def shared_target() -> Iterator[TargetProcess]:
    """One target for the whole session; call ``reset()`` before relying on counts."""
    with TargetProcess() as proc:
        yield proc
