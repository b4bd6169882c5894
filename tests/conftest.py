"""Shared fixtures.

The test process never imports locust or gevent (pytest runs with ``-p no:locust``):
anything gevent-based — the demo target included — runs in a subprocess.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import NO_HISTORY_ENV, CliResult, TargetFactory, run_loadkit

from loadkit.demo_target.process import TargetProcess

# The run history is on by default (history.db in the reports directory): the suite's runs,
# started through `run_loadkit` or directly, record nothing unless a test names a history.
os.environ[NO_HISTORY_ENV] = "1"


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


@pytest.fixture
def loadkit_cli() -> Callable[..., CliResult]:
    return run_loadkit


# A test that gets a real server (or a real run made against one) from a fixture is an
# end-to-end test, whether or not its module says so: `pytest -m "not e2e"` is the fast tier.
REAL_SERVER_FIXTURES = frozenset(
    {"target", "target_factory", "shared_target", "recorder", "runs", "real_run", "https_target",
     "mtls_target"}
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


# -- two tests at a time, an `exclusive` one alone -------------------------------------------
# pytest-xdist runs two workers (pyproject's addopts). Every test holds a shared lock while it
# runs (setup to teardown); an `exclusive` test holds it alone, so that a capacity, a CPU
# figure or an on-time arrival is measured on a machine no other test loads. A turnstile taken
# before the lock keeps a waiting exclusive test from being starved by the other worker's next
# shared ones.


LOCKS_ENV = "LOADKIT_TEST_LOCKS"
"""The folder of the run's two lock files: made by the controller before its workers start
(they inherit it), removed when the run ends."""


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None and LOCKS_ENV not in os.environ:
        os.environ[LOCKS_ENV] = tempfile.mkdtemp(prefix="loadkit-tests-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None and LOCKS_ENV in os.environ:
        shutil.rmtree(os.environ.pop(LOCKS_ENV), ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    folder = os.environ.get(LOCKS_ENV)
    if os.environ.get("PYTEST_XDIST_WORKER") is None or folder is None:  # one test at a time
        yield
        return
    exclusive = item.get_closest_marker("exclusive") is not None
    with (
        open(Path(folder) / "turnstile", "a") as turnstile,
        open(Path(folder) / "lock", "a") as lock,
    ):
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
