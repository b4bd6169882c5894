"""The Locust releases loadkit declares, and the guard every generated locustfile carries."""

from __future__ import annotations

import ast
import re
import tomllib
import types
from pathlib import Path

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


IN_LOCUST = ("harness", "webui.py", "live.py", "metrics.py", "locustfile_helpers")
NOT_LOCUSTS = {"_exit"}  # os._exit


def private_names_used(path: Path) -> set[str]:
    """Private attributes read or set on objects of others (`x._name`, `getattr(x, "_name")`)
    and private modules imported, in one in-Locust module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) not in ("self", "cls"):
            found.add(node.attr)
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("getattr", "setattr"):
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found.add(name.value)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(node.module.split("."))
    return {
        name for name in found
        if name.startswith("_") and not name.startswith("__") and name not in own
    } - NOT_LOCUSTS  # fmt: skip


def lean_path_needs() -> set[str]:
    """LEAN_PATH_NEEDS, read from the helpers' source (importing them imports Locust)."""
    source = (REPO / "src" / "loadkit" / "locustfile_helpers" / "lean_path.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "LEAN_PATH_NEEDS":
            needs: dict[str, tuple[str, ...]] = ast.literal_eval(node.value)
            return {name for names in needs.values() for name in names}
    raise AssertionError("lean_path.py has no LEAN_PATH_NEEDS")


def test_every_private_locust_touchpoint_is_named_in_one_place() -> None:
    named = set(re.findall(r"\b_[a-z]\w*", " ".join(locust_compat.PRIVATE_TOUCHPOINTS)))
    named |= lean_path_needs()
    src = REPO / "src" / "loadkit"
    files = [
        path
        for part in IN_LOCUST
        for path in ((src / part).glob("*.py") if (src / part).is_dir() else [src / part])
    ]
    assert len(files) > 10
    scattered = {
        f"{path.relative_to(src)}: {name}"
        for path in files
        for name in private_names_used(path) - named
    }
    assert not scattered, "name them in locust_compat.PRIVATE_TOUCHPOINTS: " + ", ".join(
        sorted(scattered)
    )
    # And nothing is named that no in-Locust module mentions any longer.
    text = "".join(path.read_text(encoding="utf-8") for path in files)
    assert {name for name in named if name not in text} == set()
