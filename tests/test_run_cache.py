"""The run cache (`loadkit.run_cache`): a hit only when everything the scenario's reading
depended on is unchanged; never a secret's value in it; off with LOADKIT_NO_CACHE=1.

Unit tests on real scenarios, files and environment variables (no Locust); the e2e test at
the end runs `loadkit run` twice."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from loadkit import run_cache
from loadkit.cli import _load
from loadkit.demo_target.process import TargetProcess
from loadkit.run_cache import FOLDER_TOKEN, Launch, RunCache, cache_dir
from loadkit.run_plan import LoadOverrides, plan_run
from loadkit.runner import locust_launch

SECRET = "s3cret-value-never-stored"
SCENARIO = """\
name: cached
host: ${TARGET_HOST:-http://127.0.0.1:9}
secrets: [API_KEY]
files: {allow_outside: []}
data:
  people: {file: people.csv}
load: {users: 2, spawn_rate: 2, duration: 3s}
thresholds: ["p95 < 500ms"]
users:
  - name: reader
    data: people
    tasks:
      - name: get
        request:
          url: /get?name={{ name }}
          headers: {X-Key: "${API_KEY}", X-Region: "{{ env.REGION }}"}
"""


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "people.csv").write_text("name\nada\ngrace\n")
    path = folder / "s.yaml"
    path.write_text(SCENARIO)
    monkeypatch.setenv("API_KEY", SECRET)
    monkeypatch.setenv("REGION", "eu")
    monkeypatch.delenv("TARGET_HOST", raising=False)
    monkeypatch.chdir(tmp_path)
    return path


@pytest.fixture
def cache(tmp_path: Path) -> RunCache:
    return RunCache(tmp_path / "cache")


def miss_and_store(
    cache: RunCache, path: Path, out: Path, options: dict[str, Any] | None = None
) -> Launch:
    """What `loadkit run` does on a miss: key, read with recording, plan, store."""
    options = options or {}
    found = cache.key_for(str(path), options)
    assert found is not None
    with run_cache.recording() as recorded:
        scenario, text = _load(str(path), recorded.environ)
    planned = plan_run(scenario, text, str(path), LoadOverrides(), out=out, reports_dir=out)
    launch = locust_launch(planned)
    assert cache.store(
        found[0],
        recorded,
        launch.tokenized(planned.folder.path),
        secret_values=scenario.secret_values,
    )
    return launch


def test_a_second_lookup_hits_and_gives_the_same_launch(
    cache: RunCache, scenario: Path, tmp_path: Path
) -> None:
    assert cache.lookup(str(scenario), {}) is None
    launch = miss_and_store(cache, scenario, tmp_path / "run1")
    hit = cache.lookup(str(scenario), {})
    assert hit is not None
    assert hit.text == scenario.read_text()
    assert hit.launch.in_folder(tmp_path / "run1") == launch
    assert "--run-time" in launch.argv and str(tmp_path / "run1" / "locustfile.py") in launch.argv
    # Another folder: every path in it moves, nothing else does.
    moved = hit.launch.in_folder(tmp_path / "run2")
    assert str(tmp_path / "run2" / "locustfile.py") in moved.argv
    assert not any(str(tmp_path / "run1") in a for a in moved.argv)


def test_a_folder_named_like_an_option_changes_only_paths(tmp_path: Path) -> None:
    launch = Launch("n", "", "", ["--run-time", "r/locust", "r"], {"A": "r"}, ["/x/r"])
    tokenized = launch.tokenized(Path("r"))
    assert tokenized.argv == ["--run-time", f"{FOLDER_TOKEN}/locust", FOLDER_TOKEN]
    assert tokenized.python_path == ["/x/r"]
    assert tokenized.in_folder(Path("r")) == launch


@pytest.mark.parametrize(
    "change",
    [
        "scenario text",
        "data file content",
        "used variable",
        "variable set that was unset",
        "template variable",
        "secret value",
        "options",
        "loadkit version",
        "data file replaced by a symlink elsewhere",
    ],
)
def test_every_change_the_reading_depended_on_misses(
    change: str,
    cache: RunCache,
    scenario: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    miss_and_store(cache, scenario, tmp_path / "run1")
    options: dict[str, Any] = {}
    data = scenario.parent / "people.csv"
    if change == "scenario text":
        scenario.write_text(SCENARIO.replace("users: 2", "users: 3"))
    elif change == "data file content":
        data.write_text("name\nada\nlinus\n")
    elif change == "used variable":
        monkeypatch.setenv("TARGET_HOST", "http://127.0.0.1:8")
        miss_and_store(cache, scenario, tmp_path / "run2")  # now set ...
        monkeypatch.setenv("TARGET_HOST", "http://127.0.0.1:7")  # ... and changed
    elif change == "variable set that was unset":
        monkeypatch.setenv("TARGET_HOST", "http://127.0.0.1:8")
    elif change == "template variable":
        monkeypatch.setenv("REGION", "us")
    elif change == "secret value":
        monkeypatch.setenv("API_KEY", SECRET + "-rotated")
    elif change == "options":
        options = {"users": 5}
    elif change == "loadkit version":
        monkeypatch.setattr(run_cache, "__version__", "999.0")
    elif change == "data file replaced by a symlink elsewhere":
        other = tmp_path / "other.csv"
        other.write_text(data.read_text())  # the same bytes, outside the scenario's folder
        data.unlink()
        data.symlink_to(other)
    assert cache.lookup(str(scenario), options) is None


def test_what_reading_did_not_depend_on_keeps_the_hit(
    cache: RunCache, scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    miss_and_store(cache, scenario, tmp_path / "run1")
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "x")
    data = scenario.parent / "people.csv"
    data.write_text(data.read_text())  # rewritten: new times, the same bytes
    os.utime(data, ns=(1, 1))
    (scenario.parent / "notes.txt").write_text("not read by the scenario")
    assert cache.lookup(str(scenario), {}) is not None


def test_a_removed_include_misses(
    cache: RunCache, scenario: Path, tmp_path: Path
) -> None:
    (scenario.parent / "extra.py").write_text("from locust import HttpUser\n")
    scenario.write_text(SCENARIO + "include:\n  - {locustfile: extra.py, users: [Extra]}\n")
    miss_and_store(cache, scenario, tmp_path / "run1")
    assert cache.lookup(str(scenario), {}) is not None
    (scenario.parent / "extra.py").unlink()
    assert cache.lookup(str(scenario), {}) is None


def test_no_secret_value_is_ever_stored(
    cache: RunCache, scenario: Path, tmp_path: Path
) -> None:
    launch = miss_and_store(cache, scenario, tmp_path / "run1")
    assert "os.environ" in launch.locustfile and SECRET not in launch.locustfile
    stored = b"".join(p.read_bytes() for p in cache.folder.rglob("*") if p.is_file())
    assert SECRET.encode() not in stored
    entry = json.loads(next((cache.folder / "runs").glob("*.json")).read_text())
    assert "API_KEY" in entry["env_names"] and len(entry["env_digest"]) == 64
    assert oct((cache.folder / "runs").stat().st_mode)[-3:] == "700"
    # A launch that would hold a secret (however it got there) is not written.
    found = cache.key_for(str(scenario), {"other": 1})
    assert found is not None
    with run_cache.recording() as recorded:
        pass
    leaking = Launch("n", f"KEY = {SECRET!r}", "", [], {}, [])
    assert not cache.store(found[0], recorded, leaking, secret_values=[SECRET])
    assert cache.lookup(str(scenario), {"other": 1}) is None


def test_the_cache_is_off_with_loadkit_no_cache_and_lives_under_xdg_cache_home() -> None:
    assert cache_dir({"LOADKIT_NO_CACHE": "1", "XDG_CACHE_HOME": "/c"}) is None
    assert cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/loadkit")
    assert cache_dir({"LOADKIT_NO_CACHE": "0", "LOADKIT_CACHE_DIR": "/d"}) == Path("/d")
    assert cache_dir({}) == Path(os.path.expanduser("~/.cache/loadkit"))


@pytest.mark.e2e
def test_a_second_loadkit_run_hits_the_cache_and_runs_the_same(
    tmp_path: Path, target: TargetProcess
) -> None:
    from helpers import run_loadkit

    folder = tmp_path / "scenario"
    folder.mkdir()
    (folder / "people.csv").write_text("name\nada\ngrace\n")
    scenario = folder / "s.yaml"
    scenario.write_text(
        SCENARIO.replace("host: ${TARGET_HOST:-http://127.0.0.1:9}", f"host: {target.url}")
        .replace("url: /get?name={{ name }}", "url: /api/stats")
    )
    cache = tmp_path / "cache"
    env = {"LOADKIT_CACHE_DIR": str(cache), "API_KEY": SECRET, "REGION": "eu"}
    first = run_loadkit("run", str(scenario), "--out", str(tmp_path / "run1"), "-t", "2s", env=env)
    assert first.returncode == 0, first
    (entry,) = (cache / "runs").glob("*.json")
    stored_at = entry.stat().st_mtime_ns
    second = run_loadkit("run", str(scenario), "--out", str(tmp_path / "run2"), "-t", "2s", env=env)
    assert second.returncode == 0, second
    # A hit: the entry was used, not written again, and no other was made.
    assert list((cache / "runs").glob("*.json")) == [entry]
    assert entry.stat().st_mtime_ns == stored_at
    run1, run2 = tmp_path / "run1", tmp_path / "run2"
    assert (run2 / "locustfile.py").read_text() == (run1 / "locustfile.py").read_text()
    assert (run2 / "scenario.yaml").read_text() == scenario.read_text()
    summaries = [json.loads((r / "summary.json").read_text()) for r in (run1, run2)]
    assert [s["verdict"] for s in summaries] == ["pass", "pass"]
    assert summaries[1]["totals"]["requests"] > 0
    assert "Traceback" not in second.stdout + second.stderr
    assert second.stdout.splitlines()[0] == first.stdout.splitlines()[0].replace("run1", "run2")
    # Without the cache: the same run, the entry untouched.
    third = run_loadkit(
        "run", str(scenario), "--out", str(tmp_path / "run3"), "-t", "2s",
        env={**env, "LOADKIT_NO_CACHE": "1"},
    )  # fmt: skip
    assert third.returncode == 0, third
    assert entry.stat().st_mtime_ns == stored_at
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
    assert "run cache" not in second.stderr
    # An entry that does not match what the run plans (a bug, or a tampered file) is named
    # and dropped once it has been used.
    stale = json.loads(entry.read_text())
    stale["launch"]["locustfile"] += "# stale\n"
    entry.write_text(json.dumps(stale))
    fourth = run_loadkit("run", str(scenario), "--out", str(tmp_path / "run4"), "-t", "2s", env=env)
    assert fourth.returncode == 0, fourth
    assert "the run cache held another locustfile" in fourth.stderr
    assert not entry.exists()


def test_a_file_changed_after_it_was_read_misses(
    cache: RunCache, scenario: Path, tmp_path: Path
) -> None:
    """The entry holds the data file as it was read, not as it is when the entry is written."""
    found = cache.key_for(str(scenario), {})
    assert found is not None
    with run_cache.recording() as recorded:
        loaded, text = _load(str(scenario), recorded.environ)
    (scenario.parent / "people.csv").write_text("name\nlinus\nkaren\n")  # between read and store
    planned = plan_run(loaded, text, str(scenario), LoadOverrides(), out=tmp_path / "r",
                       reports_dir=tmp_path)  # fmt: skip
    launch = locust_launch(planned)
    assert cache.store(found[0], recorded, launch.tokenized(planned.folder.path))
    assert cache.lookup(str(scenario), {}) is None


@pytest.mark.parametrize(
    "load",
    [
        "{users: 2, spawn_rate: 2, duration: 3s}",
        "{stages: [{users: 2, duration: 2s}, {users: 4, duration: 2s}]}",
        "{arrival_rate: 5/s, duration: 3s, max_concurrency: 4}",
    ],
)
def test_the_check_of_a_hit_compiles_what_the_folder_holds(
    load: str, scenario: Path, tmp_path: Path
) -> None:
    """A hit compares the entry with the locustfile compiled again: for every kind of load
    that must be the very file a run without the cache writes."""
    scenario.write_text(SCENARIO.replace("{users: 2, spawn_rate: 2, duration: 3s}", load))
    loaded, text = _load(str(scenario))
    planned = plan_run(loaded, text, str(scenario), LoadOverrides(), out=tmp_path / "r",
                       reports_dir=tmp_path)  # fmt: skip
    assert locust_launch(planned, write=False) == locust_launch(planned)
