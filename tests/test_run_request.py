"""A run's options as one request (`loadkit.run_request`): every problem said at once, with
the scenario's load or without, and what the runner is given."""

from __future__ import annotations

from pathlib import Path

from loadkit.run_request import RunRequest
from loadkit.scenario import Scenario, validate_source
from loadkit.scenario.source import parse_yaml
from loadkit.settings import Distribution, RunSettings


def scenario(load: str) -> Scenario:
    text = f"""\
name: s
host: http://127.0.0.1:1
load: {load}
users:
  - name: u
    tasks:
      - request: {{url: /health}}
"""
    return validate_source(parse_yaml(text, "s.yaml"))


CLOSED = "{users: 4, spawn_rate: 2, duration: 10s}"
SHAPE = "{stages: [{users: 2, duration: 1s}, {users: 8, duration: 3h}]}"
OPEN = "{arrival_rate: 5/s, duration: 20s, max_concurrency: 3}"


def test_a_good_request_has_no_problem() -> None:
    assert RunRequest().problems() == []
    assert RunRequest(users=3, duration_s=5, host="http://127.0.0.1:1").problems(
        scenario(CLOSED).load
    ) == []


def test_every_bad_value_and_contradiction_at_once() -> None:
    request = RunRequest(
        host="localhost:8080", users=0, spawn_rate=float("inf"), duration_s=2.5,
        arrival_rate=0.0, max_concurrency=0, processes=2, master=True,
        expect_workers_max_wait_s=0.5,
    )  # fmt: skip
    assert request.problems() == [
        "--host: not an http:// or https:// URL; write it like http://127.0.0.1:8080 "
        "(got localhost:8080)",
        "--users: must be at least 1 (got 0)",
        "--max-concurrency: must be at least 1 (got 0)",
        "--spawn-rate: must be a number above 0 (got inf)",
        "--arrival-rate: must be above 0 (got 0)",
        "--duration: must be a whole number of seconds, at least 1s (got 2.5)",
        "--expect-workers-max-wait: must be a whole number of seconds, at least 1s (got 0.5)",
        "--processes cannot go with --master: start `loadkit worker --processes N` on each "
        "worker machine instead",
    ]
    assert RunRequest(expect_workers=2).problems() == ["--expect-workers needs --master"]


def test_a_value_from_a_variable_is_named_as_it_was_set() -> None:
    request = RunRequest(users=0, from_environment={"users": "LOADKIT_USERS='0'"})
    assert request.problems() == ["LOADKIT_USERS='0': must be at least 1"]


def test_what_cannot_apply_to_the_scenarios_load() -> None:
    assert RunRequest(users=5, spawn_rate=1).problems(scenario(OPEN).load) == [
        "--users and --spawn-rate set a closed model; this scenario's load is arrival rates: "
        "use --arrival-rate, --max-concurrency and --duration"
    ]
    assert RunRequest(max_concurrency=5).problems(scenario(CLOSED).load) == [
        "--max-concurrency sets the open model's pool: give --arrival-rate too (or a scenario "
        "whose load is arrival rates)"
    ]
    # A closed scenario given --arrival-rate runs as an open model: its pool may be set.
    assert RunRequest(arrival_rate=5, max_concurrency=5).problems(scenario(CLOSED).load) == []
    # 1 s of 10,801 s scaled to 1 s is 0.0000926 s, 0 at Locust's millisecond: no time.
    assert RunRequest(duration_s=1).problems(scenario(SHAPE).load) == [
        "--duration 1s leaves a stage of 1s with no time; give a longer duration"
    ]
    assert RunRequest(duration_s=10).problems(scenario(SHAPE).load) == []


def test_the_runner_gets_the_load_and_distribution_it_asks_for() -> None:
    request = RunRequest(
        host="http://127.0.0.1:2", users=7, duration_s=3, master=True, master_port=6000,
        master_bind_host="0.0.0.0", expect_workers_max_wait_s=9, strict_generator=True,
        out=Path("x"),
    )  # fmt: skip
    overrides = request.overrides()
    assert overrides.distribution == Distribution(
        processes=1, expect_workers=1, bind_host="0.0.0.0", port=6000, max_wait_s=9
    )
    assert (overrides.host, overrides.users, overrides.duration_s) == ("http://127.0.0.1:2", 7, 3)
    assert overrides.strict_generator
    settings = RunSettings.resolve(scenario(CLOSED), users=overrides.users, duration_s=3)
    assert (settings.users, settings.spawn_rate, settings.duration_s) == (7, 2, 3)


def test_the_run_caches_key_holds_what_shapes_locusts_command_only() -> None:
    one = RunRequest(users=2, out=Path("a"), reports_dir=Path("r1"), strict_generator=True)
    two = RunRequest(users=2, out=Path("b"), reports_dir=Path("r2"))
    assert one.cache_key() == two.cache_key()
    assert one.cache_key() != RunRequest(users=3).cache_key()
    assert "out" not in one.cache_key() and "from_environment" not in one.cache_key()
