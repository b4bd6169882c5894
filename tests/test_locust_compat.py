"""The Locust releases loadkit declares, and the guard every generated locustfile carries."""

from __future__ import annotations

import re
import tomllib
import types

import pytest
from helpers import REPO

from loadkit import locust_compat


def test_pyproject_declares_the_oldest_locust_the_suite_runs_on() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (locust,) = [d for d in project["dependencies"] if re.match(r"locust\b", d)]
    assert locust == f"locust>={locust_compat.oldest_locust_text()},<3"


def run_guard(version: str) -> None:
    code = "\n".join(locust_compat.version_guard())
    exec(code, {"locust": types.SimpleNamespace(__version__=version)})


@pytest.mark.parametrize("version", ["2.42.0", "2.47.0", "2.50.1.dev3", "2.100.0"])
def test_the_guard_lets_supported_releases_run(version: str) -> None:
    run_guard(version)


def test_the_guard_refuses_an_older_locust_in_one_line() -> None:
    with pytest.raises(SystemExit) as stop:
        run_guard("2.41.9")
    assert str(stop.value) == (
        "this locustfile needs Locust 2.42 or newer, not 2.41.9: pip install 'locust>=2.42'"
    )
