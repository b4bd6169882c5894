"""The run history: the store on SQLite and on a real PostgreSQL server (concurrent writers,
migration from the previous schema, an unreachable server), drift against the last passing
runs, and `loadkit run --history` / `loadkit history` / `compare --baseline` on real runs."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import SRC, run_loadkit, write
from test_summary_types import mismatches

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus
from loadkit.history import drift, schema
from loadkit.history.record import RunRecord, git_revision
from loadkit.history.recording import apply_drift, trend_line
from loadkit.history.store import HistoryStore, HistoryUnavailable, masked_url
from loadkit.summary_types import HistoryView, Summary

PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    default=Path("/usr/lib/postgresql/15/bin"),
)
"""Debian's newest installed PostgreSQL (`apt-get install postgresql`: 15 on Debian 12)."""
PG_PASSWORD = "s3cret-pg-pw"
"""In every PostgreSQL URL of these tests (trust authentication ignores it): never printed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unprivileged_user() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    return None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """One throwaway PostgreSQL cluster for the session (Debian's binaries, run as an
    unprivileged user: initdb refuses root), on 127.0.0.1; stopped and deleted at the end.
    Yields the base URL (no database)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL is not installed ({PG_BIN}); .ci/run installs it")
    user = _unprivileged_user()
    if user is None:
        pytest.skip("no unprivileged user (postgres or nobody) to run PostgreSQL as")
    base = Path(tempfile.mkdtemp(prefix="loadkit-pg-"))
    os.chown(base, user.pw_uid, user.pw_gid)
    port = _free_port()
    as_user = ["runuser", "-u", user.pw_name, "--"] if os.geteuid() == 0 else []
    data = base / "data"

    def pg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*as_user, *args], capture_output=True, text=True, timeout=60, check=False
        )

    try:
        made = pg(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "lk",
                  "--no-sync")  # fmt: skip
        if made.returncode != 0:
            pytest.skip(f"initdb could not make a cluster: {made.stderr.strip()[:300]}")
        started = pg(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
            "-o", f"-k {base} -h 127.0.0.1 -p {port} -F", "start",
        )  # fmt: skip
        if started.returncode != 0:
            pytest.skip(f"PostgreSQL did not start: {started.stderr.strip()[:300]}")
        yield f"postgresql://lk:{PG_PASSWORD}@127.0.0.1:{port}"
    finally:
        pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _new_database(server: str) -> str:
    import psycopg

    name = f"h_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.e2e)])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty history: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return _new_database(request.getfixturevalue("postgres_server"))


def make_record(run_id: str, p95_ms: float = 50.0, **changes: Any) -> RunRecord:
    record: dict[str, Any] = {
        "run_id": run_id, "recorded_at": 1_700_000_000.0, "scenario": "checkout",
        "scenario_hash": "ab" * 32, "git_commit": "c0ffee", "git_branch": "main",
        "host": "http://127.0.0.1:8080", "load_key": "users=10", "planned": {"users": 10},
        "delivered": None, "verdict": "pass", "reasons": [], "warnings": [],
        "timing": "service", "requests": 1000, "failures": 0, "p50_ms": 20.0, "p90_ms": 40.0,
        "p95_ms": p95_ms, "p99_ms": 80.0, "error_rate": 0.0, "throughput_rps": 100.0,
        "apdex": 0.99, "capacity_rps": None, "capacity": None, "thresholds": [],
        "per_request": [
            {"method": "GET", "name": "/api/work", "requests": 1000, "failures": 0,
             "error_rate": 0.0, "rps": 100.0, "p50_ms": 20.0, "p90_ms": 40.0,
             "p95_ms": p95_ms, "p99_ms": 80.0, "corrected_p95_ms": None,
             "corrected_p99_ms": None, "apdex": 0.99},
        ],
        "folder": f"/runs/{run_id}",
    }  # fmt: skip
    record.update(changes)
    return record  # type: ignore[return-value]


# --- the store ---------------------------------------------------------------------------------


def test_runs_are_appended_read_back_filtered_and_pinned(history_url: str) -> None:
    store = HistoryStore.open(history_url)
    try:
        for n, (branch, verdict) in enumerate(
            [("main", "pass"), ("main", "fail"), ("feature", "pass"), ("main", "pass")]
        ):
            store.append(
                make_record(f"run{n}", 50.0 + n, git_branch=branch, verdict=verdict,
                            recorded_at=1_700_000_000.0 + n)
            )  # fmt: skip
        assert [r["run_id"] for r in store.runs()] == ["run3", "run2", "run1", "run0"]
        assert [r["run_id"] for r in store.runs(branch="main", verdict="pass")] == [
            "run3", "run0"
        ]  # fmt: skip
        assert store.runs(scenario="other") == []
        assert store.get("run2") is not None and store.get("run") is None  # ambiguous prefix
        assert store.pinned("checkout", "main") is None
        store.pin(make_record("run0"), None)  # every branch
        store.pin(make_record("run2"), "feature")
        pinned_main = store.pinned("checkout", "main")
        pinned_feature = store.pinned("checkout", "feature")
        assert pinned_main is not None and pinned_main["run_id"] == "run0"
        assert pinned_feature is not None and pinned_feature["run_id"] == "run2"
        store.pin(make_record("run3"), None)  # a new pin replaces the old one
        again = store.pinned("checkout", "main")
        assert again is not None and again["run_id"] == "run3"
        assert store.runs()[0]["per_request"][0]["p95_ms"] == 53.0
    finally:
        store.close()


_WRITER = """
import sys
from loadkit.history.store import HistoryStore
sys.path.insert(0, {tests!r})
from test_history import make_record
store = HistoryStore.open(sys.argv[1])
for n in range(int(sys.argv[3])):
    store.append(make_record(f"{{sys.argv[2]}}-{{n}}", recorded_at=float(n)))
store.close()
"""


def test_two_jobs_writing_at_once_lose_nothing(history_url: str) -> None:
    """Two processes open a new history at the same moment (both migrate it) and append 40
    runs each, one transaction per run: all 80 are there."""
    code = _WRITER.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "PYTHONPATH": SRC}
    writers = [
        subprocess.Popen([sys.executable, "-c", code, history_url, job, "40"], env=env,
                         stderr=subprocess.PIPE, text=True)
        for job in ("job-a", "job-b")
    ]  # fmt: skip
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    store = HistoryStore.open(history_url)
    try:
        ids = {r["run_id"] for r in store.runs(limit=1000)}
    finally:
        store.close()
    assert ids == {f"{job}-{n}" for job in ("job-a", "job-b") for n in range(40)}


_V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);
CREATE TABLE runs (
    id {serial} PRIMARY KEY, run_id VARCHAR(64) NOT NULL UNIQUE, recorded_at FLOAT NOT NULL,
    scenario VARCHAR(200) NOT NULL, scenario_hash VARCHAR(64), git_commit VARCHAR(64),
    git_branch VARCHAR(200), host VARCHAR(500) NOT NULL, load_key VARCHAR(500) NOT NULL,
    verdict VARCHAR(16) NOT NULL, p95_ms FLOAT, error_rate FLOAT, throughput_rps FLOAT,
    apdex FLOAT, folder TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX ix_runs_scenario ON runs (scenario);
"""
"""The first history's schema (version 1), as that loadkit made it: runs only."""


def test_sqlite_busy_is_what_a_write_retries_and_nothing_else(tmp_path: Path) -> None:
    """`HistoryStore._write` tries a transaction again on SQLITE_BUSY only: here a real one
    (another connection holds the file), told apart from a file that cannot be opened."""
    import sqlite3

    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from loadkit.history.store import _sqlite_busy

    path = tmp_path / "history.db"
    HistoryStore.open(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    impatient = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    with pytest.raises(OperationalError) as busy, impatient.begin() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    holder.close()
    assert _sqlite_busy(busy.value)
    missing = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with pytest.raises(OperationalError) as unopenable:
        missing.connect()
    assert not _sqlite_busy(unopenable.value)


def test_a_history_of_the_previous_schema_is_migrated(history_url: str) -> None:
    from sqlalchemy import create_engine, text

    url = history_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    serial = "SERIAL" if url.startswith("postgresql") else "INTEGER"
    old = make_record("old-run", 42.0)
    with engine.begin() as conn:
        for statement in _V1_SCHEMA.format(serial=serial).split(";"):
            if statement.strip():
                conn.execute(text(statement))
        conn.execute(
            text(
                "INSERT INTO runs (run_id, recorded_at, scenario, host, load_key, verdict, "
                "p95_ms, folder, data) VALUES ('old-run', 1, 'checkout', :host, 'users=10', "
                "'pass', 42, '/runs/old-run', :data)"
            ),
            {"host": old["host"], "data": json.dumps(old)},
        )
    engine.dispose()
    store = HistoryStore.open(history_url)
    try:
        store.append(make_record("new-run", 43.0, recorded_at=2.0e9, capacity_rps=120.0))
        store.pin(old, "main")
        assert [r["run_id"] for r in store.runs()] == ["new-run", "old-run"]
        pinned = store.pinned("checkout", "main")
        assert pinned is not None and pinned["p95_ms"] == 42.0
    finally:
        store.close()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert schema.current_version(conn) == schema.SCHEMA_VERSION == 2
        new = text("SELECT capacity_rps FROM runs WHERE run_id = 'new-run'")
        assert conn.execute(new).scalar() == 120.0
        assert conn.execute(text("SELECT count(*) FROM request_metrics")).scalar() == 1
    engine.dispose()


def test_a_newer_schema_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    HistoryStore.open(url).close()
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 99"))
    engine.dispose()
    with pytest.raises(HistoryUnavailable, match="version 99, newer than this loadkit's 2"):
        HistoryStore.open(url)


def test_an_unreachable_server_is_one_line_without_its_password() -> None:
    url = f"postgresql://lk:{PG_PASSWORD}@127.0.0.1:{_free_port()}/runs"
    with pytest.raises(HistoryUnavailable) as caught:
        HistoryStore.open(url)
    message = str(caught.value)
    assert PG_PASSWORD not in message and "\n" not in message
    assert message.startswith("history postgresql://lk:***@127.0.0.1:")
    assert masked_url("not a url") == "***"


def test_git_revision_from_ci_variables_else_git(tmp_path: Path) -> None:
    assert git_revision({"GITHUB_SHA": "abc", "GITHUB_REF_NAME": "main"}) == ("abc", "main")
    assert git_revision({"CI_COMMIT_SHA": "def", "CI_COMMIT_REF_NAME": "rel"}) == ("def", "rel")
    assert git_revision({}, tmp_path) == (None, None)  # not a git checkout
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(tmp_path)], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a", "commit",
         "-q", "--allow-empty", "-m", "x"], check=True,
    )  # fmt: skip
    commit, branch = git_revision({}, tmp_path)
    assert branch == "trunk" and commit is not None and len(commit) == 40


# --- drift -------------------------------------------------------------------------------------


def test_drift_is_a_significant_change_against_the_median_of_passing_runs() -> None:
    history = [make_record(f"r{n}", 50.0 + (n % 3) * 0.5) for n in range(10)]
    found = drift.find_drift(
        make_record("now", 59.0), history, thresholds={"p95": 70.0}
    )
    assert [d["metric"] for d in found] == ["p95"]
    entry = found[0]
    assert entry["median"] == 50.5 and entry["runs"] == 10
    assert entry["headroom_used"] == pytest.approx((59.0 - 50.5) / (70.0 - 50.5))
    assert entry["message"] == (
        "drift: p95 +17 % against the median of the last 10 passing runs "
        "(50.5 ms -> 59.0 ms); 44 % of its threshold's headroom used"
    )
    # Within the runs' own spread, below the floor, or too few runs: no drift.
    noisy = [make_record(f"r{n}", 45.0 + n * 2) for n in range(10)]
    assert drift.find_drift(make_record("now", 59.0), noisy, thresholds={}) == []
    assert drift.find_drift(make_record("now", 52.0), history, thresholds={}) == []
    few = history[: drift.MIN_RUNS - 1]
    assert drift.find_drift(make_record("now", 80.0), few, thresholds={}) == []


def _summary(verdict: str = "pass") -> Summary:
    return {"verdict": verdict, "reasons": [], "warnings": [], "exit_code": 0}  # type: ignore[typeddict-item]


def test_drift_warns_and_fails_only_with_fail_on_drift() -> None:
    history = [make_record(f"r{n}", 50.0) for n in range(10)]
    found = drift.find_drift(make_record("now", 60.0), history, thresholds={})
    warned = _summary()
    apply_drift(warned, found, fail=False)
    assert warned["verdict"] == "pass" and warned["warnings"] == [found[0]["message"]]
    failed = _summary()
    apply_drift(failed, found, fail=True)
    assert failed["verdict"] == "fail" and failed["exit_code"] == ExitStatus.THRESHOLDS_FAILED
    assert failed["reasons"] == [f"{found[0]['message']} (--fail-on-drift)"]
    assert trend_line(make_record("now", 60.0), history) == (
        "p95 60.0 ms against a median of 50.0 ms over the last 10 passing runs of the same "
        "host and load (+20 %)"
    )


# --- real runs ---------------------------------------------------------------------------------

SCENARIO = """\
name: drifty
host: http://127.0.0.1:9
load: {users: 10, spawn_rate: 100, duration: 5s}
thresholds:
  - "p95 < 300ms"
users:
  - name: u
    tasks:
      - request: {url: /api/work}
        expect: {status: 200}
"""
BASE_SERVICE_MS = 50
SLOWER_SERVICE_MS = 60  # 20 % higher: p95 ~53 ms -> ~63 ms, beyond the runs' few-ms spread
HISTORY_RUNS = 10
"""Real passing runs of one build in the history before the slower build (the issue's ten)."""


@pytest.fixture(scope="module")
def drift_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Ten real runs of one build against the bundled target, recorded in a SQLite history,
    then two of a build whose every request takes 20 % longer (the same host and load): one
    plain, one with --fail-on-drift. 5 s each: ~1,000 requests, and the 3 steady seconds at
    least that `compare`'s resampling needs (4 s runs sometimes had 2)."""
    base = tmp_path_factory.mktemp("drift")
    scenario = write(base, SCENARIO)
    url = f"sqlite:///{base / 'history.db'}"
    port = _free_port()
    out: dict[str, Any] = {"scenario": scenario, "url": url, "base": []}

    def run(label: str, *extra: str) -> tuple[Path, Any]:
        folder = base / label
        result = run_loadkit("run", str(scenario), "--host", f"http://127.0.0.1:{port}",
                             "--out", str(folder), "--history", url, *extra)  # fmt: skip
        return folder, result

    with TargetProcess("--max-concurrency", "1000", "--service-ms", str(BASE_SERVICE_MS),
                       port=port):  # fmt: skip
        for n in range(HISTORY_RUNS):
            folder, result = run(f"base{n}")
            assert result.returncode == ExitStatus.PASS, result
            out["base"].append(folder)
    with TargetProcess("--max-concurrency", "1000", "--service-ms", str(SLOWER_SERVICE_MS),
                       port=port):  # fmt: skip
        out["slower"] = run("slower")
        out["failed"] = run("slower-fail", "--fail-on-drift")
    return out


@pytest.mark.e2e
def test_a_build_20_percent_slower_passes_with_a_drift_warning(
    drift_runs: dict[str, Any],
) -> None:
    folder, result = drift_runs["slower"]
    assert result.returncode == ExitStatus.PASS, result
    summary = json.loads((folder / "summary.json").read_text())
    view = summary["history"]
    assert mismatches(view, HistoryView, "history", set()) == []
    [entry] = [d for d in view["drift"] if d["metric"] == "p95"]
    assert entry["runs"] == HISTORY_RUNS
    assert 0.10 < entry["worse_by"] < 0.30, entry  # ~10 ms more on ~53 ms
    message = entry["message"]
    assert message.startswith("drift: p95 +") and "against the median of the last 10 passing" \
        in message and "of its threshold's headroom used" in message  # fmt: skip
    assert message in summary["warnings"] and summary["verdict"] == "pass"
    assert f"warning: {message}" in result.stdout or message in result.stdout
    assert message in (folder / "summary.md").read_text()
    assert "Trend: p95 " in (folder / "summary.md").read_text()
    junit = (folder / "junit.xml").read_text()
    assert "<system-out>" in junit and "drift: p95 +" in junit
    html = (folder / "report.html").read_text()
    assert '<section id="history"><h2>History</h2>' in html and 'id="chart-history"' in html
    assert len(view["runs"]) == HISTORY_RUNS and all(p["same_load"] for p in view["runs"])
    assert f"History: run {view['run_id']} recorded in {drift_runs['url']}" in result.stdout


@pytest.mark.e2e
def test_fail_on_drift_fails_the_run(drift_runs: dict[str, Any]) -> None:
    folder, result = drift_runs["failed"]
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["verdict"] == "fail" and summary["exit_code"] == 1
    assert any(r.startswith("drift: p95 +") and r.endswith("(--fail-on-drift)")
               for r in summary["reasons"])  # fmt: skip
    assert "Verdict: FAIL (exit code 1)" in result.stdout


@pytest.mark.e2e
def test_history_commands_and_compare_with_a_baseline_from_the_history(
    drift_runs: dict[str, Any], tmp_path: Path
) -> None:
    url = drift_runs["url"]
    listed = run_loadkit("history", "list", "--scenario", "drifty", "--history", url)
    assert listed.returncode == 0, listed
    rows = [line for line in listed.stdout.splitlines() if " drifty " in line]
    assert len(rows) == HISTORY_RUNS + 2 and " FAIL " in rows[0]  # newest first
    png = tmp_path / "p95.png"
    trend = run_loadkit("history", "trend", str(drift_runs["scenario"]), "--metric", "p95",
                        "--last", "30", "--history", url, "--png", str(png))  # fmt: skip
    assert trend.returncode == 0, trend
    assert png.read_bytes().startswith(b"\x89PNG") and f"Chart: {png}" in trend.stdout
    first = json.loads((drift_runs["base"][0] / "summary.json").read_text())["history"]
    pinned = run_loadkit("history", "pin", first["run_id"][:8], "--as", "baseline",
                         "--history", url)  # fmt: skip
    assert pinned.returncode == 0, pinned
    assert f"Pinned run {first['run_id']} of 'drifty' as the baseline" in pinned.stdout
    slower = drift_runs["slower"][0]
    by_folder = {}
    for kind in ("pinned", "last-pass"):
        compared = run_loadkit("compare", "--baseline", kind, str(slower), "--history", url,
                               "--max-regression", "p95:10%")  # fmt: skip
        assert compared.returncode == ExitStatus.THRESHOLDS_FAILED, compared
        assert "Verdict: REGRESSED (p95)" in compared.stdout
        assert f"Baseline ({kind}): run " in compared.stderr
        by_folder[kind] = compared.stdout
        if kind == "pinned":
            assert f"run {first['run_id']}, {drift_runs['base'][0]}" in compared.stderr
    # A CI job's baseline folder is on the machine that ran it: the record keeps what compare
    # needs, and the comparison is the same, figure for figure.
    folder = drift_runs["base"][0]
    away = folder.with_name(folder.name + "-elsewhere")
    folder.rename(away)
    try:
        compared = run_loadkit("compare", "--baseline", "pinned", str(slower), "--history", url,
                               "--max-regression", "p95:10%", "--json",
                               str(tmp_path / "c.json"))  # fmt: skip
    finally:
        away.rename(folder)
    assert compared.returncode == ExitStatus.THRESHOLDS_FAILED, compared
    assert "(not here: compared with the figures its history record keeps)" in compared.stderr
    assert compared.stdout == by_folder["pinned"]
    written = json.loads((tmp_path / "c.json").read_text())
    assert (written["baseline"], written["baseline_run"]) == (str(folder), first["run_id"])
    # A record of an older loadkit keeps no such figures: without its folder, one line, exit 2.
    store = HistoryStore.open(url)
    try:
        [record] = [r for r in store.runs(scenario="drifty", limit=50)
                    if r["run_id"] == first["run_id"]]  # fmt: skip
    finally:
        store.close()
    old = f"sqlite:///{tmp_path / 'old.db'}"
    older = HistoryStore.open(old)
    try:
        del record["comparable"]
        older.append({**record, "folder": str(tmp_path / "gone")})
        older.pin(record, None)
    finally:
        older.close()
    refused = run_loadkit("compare", "--baseline", "pinned", str(slower), "--history", old)
    assert refused.returncode == ExitStatus.INVALID_INPUT, refused
    assert refused.stderr.strip() == (
        f"loadkit: error: the pinned run {first['run_id']}'s folder {tmp_path / 'gone'} is not "
        "here, and its record keeps no figures to compare with (a run of fewer than 3 steady "
        "seconds, or recorded by an older loadkit); compare two folders instead"
    )


@pytest.mark.e2e
def test_an_unreachable_history_is_a_warning_and_the_verdict_stands(
    shared_target: TargetProcess, tmp_path: Path
) -> None:
    scenario = write(tmp_path, SCENARIO)
    url = f"postgresql://lk:{PG_PASSWORD}@127.0.0.1:{_free_port()}/runs"
    folder = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--host", shared_target.url, "-t", "1s",
                         "--out", str(folder), env={"LOADKIT_HISTORY": url})  # fmt: skip
    assert result.returncode == ExitStatus.PASS, result
    warning = next(line for line in result.stdout.splitlines() if "history postgresql" in line)
    assert "postgresql://lk:***@127.0.0.1:" in warning and "this run is not recorded" in warning
    assert "Verdict: PASS (exit code 0)" in result.stdout
    for text in (result.stdout, result.stderr, *(p.read_text() for p in folder.glob("*.json"))):
        assert PG_PASSWORD not in text


@pytest.mark.e2e
def test_a_capacity_search_is_one_record_with_its_answer(
    drift_runs: dict[str, Any], tmp_path: Path
) -> None:
    """`loadkit capacity` records the search once: its sustained step's figures (a real run
    folder here) and capacity.json's answer, under a load of its own."""
    from loadkit.history.recording import record_capacity
    from loadkit.settings import HistoryChoice

    step = drift_runs["base"][1]
    document = {
        "outcome": "found", "note": None, "confirmed": True, "unit": "arrivals/s",
        "sustained_rate": 40.0, "breaking_rate": 80.0, "max_concurrency": 50,
        "sustained": {"folder": str(step), "rate": 40.0, "requests_per_s": 212.5},
        "policy": {"start_rate": 10.0, "max_rate": 1000.0},
        "searches": [[{"folder": str(step), "rate": 40.0}]],
    }  # fmt: skip
    url = f"sqlite:///{tmp_path / 'history.db'}"
    line = record_capacity(document, tmp_path, HistoryChoice(url), passed=True)
    store = HistoryStore.open(url)
    try:
        [record] = store.runs()
    finally:
        store.close()
    assert line == f"History: run {record['run_id']} recorded in {url}"
    assert record["capacity_rps"] == 212.5 and record["verdict"] == "pass"
    assert record["capacity"] is not None and record["capacity"]["sustained_rate"] == 40.0
    assert record["load_key"].startswith("capacity search") and record["scenario"] == "drifty"
    assert record["folder"] == str(tmp_path.resolve())
    step_summary = json.loads((step / "summary.json").read_text())
    assert record["p95_ms"] == step_summary["totals"]["p95_ms"]
