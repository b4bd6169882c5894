"""Run settings: the command line over the scenario, and shapes scaled by -u / -t."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadkit.compiler import compile_scenario
from loadkit.delivery import data_warnings, load_delivered
from loadkit.run_request import RunRequest
from loadkit.scenario import Scenario, load_scenario, validate_source
from loadkit.scenario.shapes import Stage
from loadkit.scenario.source import parse_yaml
from loadkit.settings import RunSettings


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


STAGES = (
    "{stages: [{users: 10, spawn_rate: 5, duration: 60s},"
    " {users: 40, spawn_rate: 10, duration: 120s}]}"
)


def test_users_and_duration_scale_a_shape() -> None:
    sc = scenario(STAGES)
    plain = RunSettings.resolve(sc)
    assert plain.stages == (Stage(10, 5.0, 60.0), Stage(40, 10.0, 120.0))
    assert (plain.users, plain.duration_s) == (40, 180)

    gate = RunSettings.resolve(sc, users=8, duration_s=18)  # a 10x shorter pull-request gate
    assert gate.stages == (Stage(2, 10.0, 6.0), Stage(8, 20.0, 12.0))
    assert (gate.users, gate.duration_s) == (8, 18)
    # Each ramp keeps its share of its stage: 10 users at 5/s took 2 s of 60, now 0.2 s of 6.
    first = gate.stages[0]
    assert first.users / first.spawn_rate == pytest.approx(0.2)

    more = RunSettings.resolve(sc, users=400)
    assert [s.users for s in more.stages or ()] == [100, 400]
    assert more.duration_s == 180


def test_a_scaled_shape_keeps_every_stage_running() -> None:
    sc = scenario("{stages: [{users: 1, duration: 10s}, {users: 100, duration: 10s}]}")
    tiny = RunSettings.resolve(sc, users=5)
    assert [s.users for s in tiny.stages or ()] == [1, 5]  # never 0 where there were users


def test_spawn_rate_cannot_change_a_shape() -> None:
    problems = RunRequest(spawn_rate=3).problems(scenario(STAGES).load)
    assert problems == [
        "--spawn-rate cannot change a load shape (stages, step, spike); --users and --duration "
        "scale it, or edit the scenario's load"
    ]


def test_the_compiled_shape_is_the_scaled_one() -> None:
    sc = scenario(STAGES)
    settings = RunSettings.resolve(sc, users=8, duration_s=18)
    source = compile_scenario(sc, "s.yaml", stages=settings.stages)
    assert "(2, 10.0, 6.0)," in source and "(8, 20.0, 12.0)," in source
    assert "scaled from the command line" in source
    assert "(10, 5.0, 60.0)," in compile_scenario(sc, "s.yaml")


def test_constant_load_overrides() -> None:
    sc = scenario("{users: 50, spawn_rate: 10, duration: 5m}")
    settings = RunSettings.resolve(sc, users=3, duration_s=30)
    assert (settings.users, settings.spawn_rate, settings.duration_s) == (3, 10.0, 30)
    assert settings.stages is None


def test_delivery_judges_each_stage_after_its_ramp() -> None:
    sc = scenario(
        "{stages: [{users: 4, spawn_rate: 4, duration: 6s},"
        " {users: 8, spawn_rate: 4, duration: 6s}]}"
    )
    settings = RunSettings.resolve(sc)
    t0 = 1000.0
    # Stage 1 ramps for 1 s and holds 4; stage 2 ramps 1 s and only reaches 6.
    users = [1, 3, 4, 4, 4, 4, 5, 6, 6, 6, 6, 6]
    final = {
        "started_at": t0,
        "stopping_at": t0 + 12,
        "users": [[t0 + i + 1, n] for i, n in enumerate(users)],
        "peak_users": 6,
        "notes": ["test data 'c' exhausted after 6 rows (on_exhausted: stop_user)"],
        "cpu": {"local": [[t0 + i, 10.0] for i in range(12)]},
    }
    delivered = load_delivered(settings, final)
    assert [s.reached_users for s in delivered.stages] == [4, 6]
    assert delivered.shortfall() == [
        "planned 8 users in stage 2 but only 6 ran: "
        "test data 'c' exhausted after 6 rows (on_exhausted: stop_user)"
    ]
    assert delivered.generator_warnings() == []
    assert delivered.delivered_s == 12


def test_a_web_ui_test_ended_early_by_the_person_says_what_it_delivered() -> None:
    settings = RunSettings.resolve(scenario("{users: 10, spawn_rate: 2, duration: 120s}"))
    t0 = 1000.0

    def ended(by: str | None, after_s: float, users: int) -> list[str]:
        final = {
            "started_at": t0, "stopping_at": t0 + after_s, "peak_users": users, "notes": [],
            "users": [[t0 + after_s, users]], "ended_by": by,
        }  # fmt: skip
        return load_delivered(settings, final).shortfall()

    assert ended("stop", 2.1, 4) == [
        "stopped by the user after 2 s of 120 s planned; 4 of 10 users reached"
    ]
    assert ended("new swarm", 30, 10) == [
        "ended by a new swarm after 30 s of 120 s planned; 10 of 10 users reached"
    ]
    assert ended("reset", 30, 10) == [
        "ended by a reset of the statistics after 30 s of 120 s planned; 10 of 10 users reached"
    ]
    assert ended("planned", 120, 10) == []  # its run time ended it
    assert ended("stop", 119.5, 10) == []  # within a second of its run time: as planned
    assert ended(None, 2, 4) == []  # `loadkit run`: its own rules (an interrupt aborts)
    # No run time in the form (the test lasts as long as it ran): only the users count.
    as_ran = RunSettings.resolve(scenario("{users: 10, spawn_rate: 2, duration: 3s}"))
    final = {"started_at": t0, "stopping_at": t0 + 3, "peak_users": 6, "ended_by": "stop"}
    assert load_delivered(as_ran, final).shortfall() == [
        "stopped by the user after 3 s; 6 of 10 users reached"
    ]


def test_generator_cpu_is_flagged_only_when_it_stays_high() -> None:
    settings = RunSettings.resolve(scenario("{users: 1, spawn_rate: 1, duration: 20s}"))
    t0 = 1000.0
    base = {"started_at": t0, "stopping_at": t0 + 20, "users": [], "notes": []}
    spike = {**base, "cpu": {"local": [[t0 + i, 100.0 if i < 2 else 20.0] for i in range(20)]}}
    assert load_delivered(settings, spike).generator_warnings() == []  # start-up only
    busy = {**base, "cpu": {"local": [[t0 + i, 97.0 if i % 2 else 40.0] for i in range(20)]}}
    (warning,) = load_delivered(settings, busy).generator_warnings()
    assert warning.startswith("the load generator used 90% of a CPU core or more for 10 of 20 s")


def test_data_warnings_count_users_by_weight(tmp_path: Path) -> None:
    text = """\
name: s
host: http://127.0.0.1:1
load: {users: 30, spawn_rate: 10, duration: 10s}
data:
  people: {file: people.csv, order: unique}
users:
  - name: resident
    weight: 2
    data: people
    tasks: [{request: {url: /a}}]
  - name: visitor
    tasks: [{request: {url: /b}}]
"""
    folder = tmp_path
    (folder / "people.csv").write_text("name\n" + "".join(f"p{i}\n" for i in range(19)))
    (folder / "s.yaml").write_text(text)
    sc = load_scenario(folder / "s.yaml")
    (warning,) = data_warnings(sc)
    assert "has 19 rows but 20 users of type 'resident' are planned" in warning
    assert data_warnings(sc, users=27) == []  # 18 residents
