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


REPO = Path(__file__).resolve().parent.parent


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"CliResult({self.returncode}, stdout={self.stdout!r}, stderr={self.stderr!r})"


def run_loadkit(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 90
) -> CliResult:
    """Run the real `loadkit` CLI in a subprocess, exactly as a user or a CI stage does."""
    import os
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOADKIT_")}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, full_env.get("PYTHONPATH", "")) if p)
    # The run cache of the test session, not the person's own (~/.cache/loadkit).
    full_env["LOADKIT_CACHE_DIR"] = _session_cache_dir()
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "loadkit", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _session_cache_dir() -> str:
    import tempfile

    global _CACHE_DIR
    if _CACHE_DIR is None:
        _CACHE_DIR = tempfile.mkdtemp(prefix="loadkit-test-cache-")
    return _CACHE_DIR


_CACHE_DIR: str | None = None


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
