"""`observe:`: the system under test's own metrics, asked of a real Prometheus (Debian's
/usr/bin/prometheus) scraping the bundled target's /metrics every second, beside a stepped run:
telemetry.json, summary.json, report.html and `server` thresholds agree with Prometheus's own
answers; and a Prometheus that does not answer is a warning, never a failed run."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from helpers import CliResult, run_loadkit, write
from test_summary_types import mismatches

from loadkit.errors import ScenarioError
from loadkit.exit_codes import ExitStatus
from loadkit.formatting import measured
from loadkit.histogram import HistogramRecorder, RunHistograms
from loadkit.live import LiveConfig, threshold_results
from loadkit.observe import LivePoller
from loadkit.scenario import load_scenario
from loadkit.scenario.observe import Observe
from loadkit.scenario.thresholds import parse_threshold
from loadkit.summary_types import QueryStats, TelemetrySummary
from loadkit.telemetry import SCHEMA, Telemetry, judge_server, summarize
from loadkit.telemetry import read as read_telemetry

PROMETHEUS = "/usr/bin/prometheus"
MAX_CONCURRENCY = 4
CPU = 'sum(rate(process_cpu_seconds_total{job="target"}[3s]))'
IN_SERVICE = 'max(loadkit_target_requests_in_service{job="target"})'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ask(url: str, path: str, **params: str) -> Any:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{url}{path}?{query}", timeout=5) as response:
        return json.loads(response.read())["data"]


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def prometheus_for(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start a real Prometheus scraping `target_url`/metrics every second (module scope)."""
    if shutil.which(PROMETHEUS) is None:
        pytest.skip(f"{PROMETHEUS} is not installed (Debian's prometheus package; .ci/run adds it)")
    started: list[subprocess.Popen[bytes]] = []

    def start(target_url: str) -> Prometheus:
        folder = tmp_path_factory.mktemp("prometheus")
        host_port = target_url.removeprefix("http://")
        (folder / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: target\n    static_configs: [{{targets: ['{host_port}']}}]\n",
            encoding="utf-8",
        )
        port = _free_port()
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(folder / "log").open("wb"),
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # ready, and the target scraped once at least
            try:
                if _ask(url, "/api/v1/query", query='up{job="target"}')["result"]:
                    return Prometheus(url, process)
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"Prometheus did not start: {(folder / 'log').read_text()[-2000:]}")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


SCENARIO = """
name: observed
host: {host}
load:
  step: {{start: 2, step: 2, every: 6s, until: 8, spawn_rate: 100}}
defaults:
  think_time: {{constant: 0}}
observe:
  prometheus: ${{PROMETHEUS_URL:-http://127.0.0.1:1}}
  step: 1s
  queries:
    target_cpu: {{query: '{cpu}', unit: cores}}
    in_service: {{query: '{in_service}', limit: {limit}}}
thresholds:
  - server in_service < {limit} over 3s
  - server in_service <= {limit}
  - error_rate < 1%
users:
  - name: worker
    tasks:
      - request: {{url: /api/work}}
"""


@dataclass
class ObservedRun:
    result: CliResult
    folder: Path
    summary: dict[str, Any]
    telemetry: dict[str, Any]
    prometheus: Prometheus


@pytest.fixture(scope="module")
def observed_run(
    prometheus_for: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ObservedRun]:
    from loadkit.demo_target.process import TargetProcess

    tmp = tmp_path_factory.mktemp("observed")
    with TargetProcess("--max-concurrency", str(MAX_CONCURRENCY), "--service-ms", "50") as target:
        prometheus = prometheus_for(target.url)
        scenario = write(
            tmp,
            SCENARIO.format(host=target.url, cpu=CPU, in_service=IN_SERVICE, limit=MAX_CONCURRENCY),
        )
        out = tmp / "run"
        result = run_loadkit(
            "run", str(scenario), "--out", str(out), env={"PROMETHEUS_URL": prometheus.url}
        )
        summary = json.loads((out / "summary.json").read_text())
        telemetry = json.loads((out / "telemetry.json").read_text())
        yield ObservedRun(result, out, summary, telemetry, prometheus)


@pytest.mark.e2e
def test_telemetry_is_prometheus_own_answer(observed_run: ObservedRun) -> None:
    run, telemetry = observed_run, observed_run.telemetry
    assert "Traceback" not in run.result.stderr, run.result.stderr
    for name, promql in (("target_cpu", CPU), ("in_service", IN_SERVICE)):
        answer = _ask(
            run.prometheus.url,
            "/api/v1/query_range",
            query=promql,
            start=f"{telemetry['start']:.3f}",
            end=f"{telemetry['end']:.3f}",
            step="1",
        )["result"]
        ours = telemetry["queries"][name]["series"]
        assert len(ours) == len(answer) == 1
        expected = [[float(t), float(v)] for t, v in answer[0]["values"]]
        assert ours[0]["points"] == expected
        values = [v for _, v in expected]
        stats = run.summary["telemetry"]["queries"][name]
        assert stats["min"] == min(values)
        assert stats["max"] == max(values)
        assert stats["mean"] == pytest.approx(sum(values) / len(values))
    # summary.json's telemetry has exactly its typed keys (`summary_types.TelemetrySummary`;
    # `error`, NotRequired, only for a query that failed).
    assert set(run.summary["telemetry"]) == set(get_type_hints(TelemetrySummary))
    for name, row in run.summary["telemetry"]["queries"].items():
        assert mismatches(row, QueryStats, name, set()) == []
        assert "error" not in row
    # The target really worked: its CPU was measured above zero, in service up to its slots.
    assert run.summary["telemetry"]["queries"]["target_cpu"]["max"] > 0
    assert run.summary["telemetry"]["queries"]["in_service"]["max"] == MAX_CONCURRENCY


def _prometheus_values(run: ObservedRun, promql: str) -> list[float]:
    """Prometheus's own answer to `promql` over the run's span, at the run's step."""
    answer = _ask(
        run.prometheus.url,
        "/api/v1/query_range",
        query=promql,
        start=f"{run.telemetry['start']:.3f}",
        end=f"{run.telemetry['end']:.3f}",
        step="1",
    )["result"]
    return [float(v) for _, v in answer[0]["values"]]


@pytest.mark.e2e
def test_report_shows_the_system_beside_the_load(observed_run: ObservedRun) -> None:
    html = (observed_run.folder / "report.html").read_text()
    section = html[html.index('<section id="system">') :]
    section = section[: section.index("</section>")]
    for name, promql, unit in (("target_cpu", CPU, "cores"), ("in_service", IN_SERVICE, "")):
        values = _prometheus_values(observed_run, promql)
        row = section[section.index(f"<code>{name}</code>") :].split("</tr>")[0]
        mean = sum(values) / len(values)
        expected = [measured(mean, unit), measured(min(values), unit), measured(max(values), unit)]
        assert [f"<td>{cell}</td>" in row for cell in expected] == [True] * 3, (row, expected)
    # The saturation point's row of the per-level table: every slot in service.
    knee_row = section[section.index('<tr class="saturation">') :].split("</tr>")[0]
    assert f"{MAX_CONCURRENCY} of {MAX_CONCURRENCY} (100 %)" in knee_row
    assert "First resource to saturate: in_service" in section
    assert "CPU-ms" in section  # the cost of a request, from the CPU query
    assert 'id="chart-system"><img src="data:image/png;base64,' in section


@pytest.mark.e2e
def test_saturation_point_has_every_slot_in_service(observed_run: ObservedRun) -> None:
    capacity = observed_run.summary["capacity"]
    assert capacity["knee_users"] is not None, capacity["headline"]
    stats = observed_run.summary["telemetry"]["queries"]["in_service"]
    assert round(stats["at_saturation"]) == MAX_CONCURRENCY


@pytest.mark.e2e
def test_server_thresholds_judged_like_any(observed_run: ObservedRun) -> None:
    rows = {row["expression"]: row for row in observed_run.summary["thresholds"]}
    saturated = rows[f"server in_service < {MAX_CONCURRENCY} over 3s"]
    assert saturated["passed"] is False  # every slot busy for 3 s and more: fails, as it should
    assert saturated["actual"] == pytest.approx(MAX_CONCURRENCY)
    bounded = rows[f"server in_service <= {MAX_CONCURRENCY}"]
    assert bounded["passed"] is True
    assert observed_run.summary["verdict"] == "fail"
    assert observed_run.result.returncode == ExitStatus.THRESHOLDS_FAILED
    junit = (observed_run.folder / "junit.xml").read_text()
    assert f"server in_service &lt; {MAX_CONCURRENCY} over 3s" in junit


@pytest.mark.e2e
def test_run_goes_on_when_prometheus_does_not_answer(target: Any, tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        SCENARIO.format(
            host=target.url, cpu=CPU, in_service=IN_SERVICE, limit=MAX_CONCURRENCY
        ).replace(
            "step: {start: 2, step: 2, every: 6s, until: 8, spawn_rate: 100}",
            "{users: 2, spawn_rate: 10, duration: 2s}",
        ),
    )
    port = _free_port()  # nothing listens there
    result = run_loadkit(
        "run",
        str(scenario),
        "--out",
        str(tmp_path / "run"),
        env={"PROMETHEUS_URL": f"http://127.0.0.1:{port}"},
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "warning" in result.stderr and "did not answer" in result.stderr, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["totals"]["requests"] > 0  # the load ran, and was judged
    rows = {row["expression"]: row for row in summary["thresholds"]}
    assert rows["error_rate < 1%"]["passed"] is True
    assert rows[f"server in_service <= {MAX_CONCURRENCY}"]["actual"] is None
    assert summary["verdict"] == "fail"  # a server threshold without data is no pass


@pytest.mark.e2e
def test_invalid_promql_is_refused_before_any_load(
    observed_run: ObservedRun, target: Any, tmp_path: Path
) -> None:
    """The PromQL is asked of the real Prometheus before Locust begins (`run`, `capacity`,
    `ui`): an error naming the query, exit 2, and the target never saw a request."""
    text = SCENARIO.format(host=target.url, cpu="sum(rate(", in_service=IN_SERVICE, limit=4)
    scenario = write(tmp_path, text)
    result = run_loadkit(
        "run", str(scenario), "--out", str(tmp_path / "run"),
        env={"PROMETHEUS_URL": observed_run.prometheus.url},
    )  # fmt: skip
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    error = result.stderr.strip()
    assert error.startswith("loadkit: error: observe.queries.target_cpu: Prometheus refuses")
    assert "\n" not in error and "Traceback" not in error
    # A capacity search asks before its first step, as a run does.
    searched = run_loadkit(
        "capacity", str(scenario), "--slo", "p95 < 100ms", "--out", str(tmp_path / "search"),
        env={"PROMETHEUS_URL": observed_run.prometheus.url},
    )  # fmt: skip
    assert searched.returncode == ExitStatus.INVALID_INPUT, searched
    assert searched.stderr.strip() == error
    assert not (tmp_path / "search").exists()
    # So does the web UI, before it opens.
    ui = run_loadkit(
        "ui", str(scenario), "--web-port", str(_free_port()), "--reports-dir",
        str(tmp_path / "ui"), env={"PROMETHEUS_URL": observed_run.prometheus.url}, timeout=60,
    )  # fmt: skip
    assert ui.returncode == ExitStatus.INVALID_INPUT, ui
    assert ui.stderr.strip() == error
    assert target.requests_seen()["total"] == 0


ABORTING = """
name: saturating
host: {host}
load: {{users: 8, spawn_rate: 100, duration: 40s, stop_timeout: 1s}}
defaults:
  think_time: {{constant: 0}}
observe:
  prometheus: {prometheus}
  step: 1s
  queries:
    in_service: {{query: '{in_service}', limit: {limit}}}
thresholds:
  - {{threshold: "server in_service < {limit} over 2s", abort: true, after: 3s}}
users:
  - name: worker
    tasks:
      - request: {{url: /api/work}}
"""


@pytest.mark.e2e
def test_a_server_threshold_with_abort_stops_the_run_while_it_lasts(
    prometheus_for: Any, tmp_path: Path
) -> None:
    """8 users on 4 slots: every slot is in service from the first seconds, Prometheus says so,
    and the harness stops a 40 s run soon after the 3 s grace; the folder is complete and the
    verdict names the server threshold, its time and its value."""
    from loadkit.demo_target.process import TargetProcess

    with TargetProcess("--max-concurrency", str(MAX_CONCURRENCY), "--service-ms", "50") as target:
        prometheus = prometheus_for(target.url)
        scenario = write(
            tmp_path,
            ABORTING.format(host=target.url, prometheus=prometheus.url, in_service=IN_SERVICE,
                            limit=MAX_CONCURRENCY),
        )  # fmt: skip
        out = tmp_path / "run"
        started = time.monotonic()
        result = run_loadkit("run", str(scenario), "--out", str(out), timeout=90)
        took = time.monotonic() - started
        seen = target.requests_seen()["total"]
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    expression = f"server in_service < {MAX_CONCURRENCY} over 2s"
    aborted_by = summary["run"]["aborted_by"]
    assert aborted_by["threshold"] == expression and 3 <= aborted_by["at_s"] < 15, aborted_by
    assert summary["reasons"][0].startswith(f"threshold '{expression}' stopped the run")
    assert summary["run"]["elapsed_s"] < 20 and took < 40, (summary["run"], took)
    assert summary["totals"]["requests"] == seen > 0
    [row] = summary["thresholds"]
    assert row["passed"] is False and row["actual"] == pytest.approx(MAX_CONCURRENCY)
    for name in ("report.html", "junit.xml", "telemetry.json", "histograms.json"):
        assert (out / name).is_file(), name
    assert "stopped the run" in (out / "junit.xml").read_text()


@pytest.mark.e2e
def test_live_poller_writes_the_queries_so_far(observed_run: ObservedRun, tmp_path: Path) -> None:
    """What the harness judges `server` thresholds on while the run lasts (`abort: true`)."""
    observe = Observe.model_validate(
        {"prometheus": observed_run.prometheus.url, "queries": {"up": {"query": "up"}}}
    )
    path = tmp_path / "live.json"
    with LivePoller(observe, path):
        time.sleep(2.5)
    live = read_telemetry(path)
    assert live is not None and live["queries"]["up"]["series"][0]["points"][-1][1] == 1.0
    config = LiveConfig(thresholds=["server up < 1", "server up >= 1"])
    nothing = RunHistograms.from_json(HistogramRecorder().to_json())  # no request measured
    results = threshold_results(config, nothing, lambda seconds: nothing, 2.5, server=live)
    assert [(r.actual, r.passed) for _, r in results] == [(1.0, False), (1.0, True)]


# -- pure: the language, the judgement -------------------------------------------------------

BASE = """
name: s
host: http://127.0.0.1:9
load: {users: 1, spawn_rate: 1, duration: 1s}
observe:
  prometheus: http://127.0.0.1:9090
  queries:
    api_cpu: {query: 'sum(rate(process_cpu_seconds_total[15s]))', unit: cores}
thresholds:
  - server api_cpu < 3.5
users:
  - name: u
    tasks:
      - request: {url: /}
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "server api_cpu < 3.5",
            "server api_cpus < 3.5",
            "s.yaml:10:5: thresholds[0]: no observe: query is named 'api_cpus'; did you mean "
            "'api_cpu'? (query names: api_cpu)",
        ),
        (
            "server api_cpu < 3.5",
            "server api_cpu < lots",
            "s.yaml:10:5: thresholds[0]: invalid value 'lots' in 'server api_cpu < lots'; a "
            "server metric takes a number",
        ),
        (
            "  prometheus: http://127.0.0.1:9090",
            "  prometheus: http://127.0.0.1:9090\n  bearer_token: hunter2hunter2",
            "s.yaml:7:17: observe.bearer_token: a credential is read only from a secret: write "
            "${secret:NAME} and set the environment variable NAME (never the value in the file)",
        ),
        (
            "  prometheus: http://127.0.0.1:9090",
            "  prometheus: 127.0.0.1:9090",
            "s.yaml:6:15: observe.prometheus: expected a URL like http://127.0.0.1:9090, got "
            "'127.0.0.1:9090'",
        ),
    ],
)
def test_observe_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new), "s.yaml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, environ={})
    assert str(caught.value).replace(str(tmp_path) + "/", "") == expected


def test_server_threshold_without_observe(tmp_path: Path) -> None:
    text = BASE.replace(BASE[BASE.index("observe:") : BASE.index("thresholds:")], "")
    with pytest.raises(ScenarioError, match="the scenario has no observe: section"):
        load_scenario(write(tmp_path, text, "s.yaml"), environ={})


def test_credentials_come_from_secrets(tmp_path: Path) -> None:
    text = BASE.replace(
        "  prometheus: http://127.0.0.1:9090",
        "  prometheus: ${PROM_URL:-http://127.0.0.1:9090}\n  bearer_token: ${secret:PROM_TOKEN}",
    )
    scenario = load_scenario(write(tmp_path, text, "s.yaml"), environ={"PROM_TOKEN": "t" * 20})
    assert scenario.observe is not None
    assert scenario.observe.bearer_token == "{{ env.PROM_TOKEN }}"  # never the value itself
    assert scenario.observe.prometheus == "http://127.0.0.1:9090"
    assert "t" * 20 in scenario.secret_values  # masked in every file of the run


def _telemetry(*series: list[tuple[float, float]]) -> Telemetry:
    return {
        "schema": SCHEMA, "prometheus": "http://p", "step_s": 1.0, "start": 0.0, "end": 10.0,
        "queries": {"q": {"query": "q", "unit": "", "limit": 4.0, "series": [
            {"labels": {"i": str(i)}, "points": points} for i, points in enumerate(series)
        ]}},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "actual", "passed"),
    [
        ("server q < 3", 2.5, True),  # the mean of 1,2,3,4
        ("server q < 3 over 2s", 3.5, False),  # the worst whole 2-s window: 3,4
        ("server q > 1 over 2s", 1.5, True),  # for '>': the lowest window
        ("server q <= 2.5", 2.5, True),
    ],
)
def test_judge_server(text: str, actual: float, passed: bool) -> None:
    telemetry = _telemetry([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)])
    result = judge_server(parse_threshold(text), telemetry)
    assert (result.actual, result.passed) == (actual, passed)


def test_judge_server_takes_the_worst_series_and_says_when_there_is_no_data() -> None:
    telemetry = _telemetry([(0.0, 1.0)], [(0.0, 5.0)])
    assert judge_server(parse_threshold("server q < 3"), telemetry).actual == 5.0
    empty = _telemetry()
    empty["queries"]["q"]["error"] = "http://p did not answer (refused)"
    result = judge_server(parse_threshold("server q < 3"), empty)
    assert (result.actual, result.passed, result.note) == (
        None, False, "no data: http://p did not answer (refused)",
    )  # fmt: skip


def test_summary_statistics_and_the_saturation_point() -> None:
    telemetry = _telemetry([(0.0, 1.0), (1.0, 4.0), (2.0, 3.0), (3.0, 4.0), (4.0, 4.0)])
    stats = summarize(telemetry, (2.0, 5.0))["queries"]["q"]
    assert (stats["min"], stats["mean"], stats["max"]) == (1.0, 3.2, 4.0)
    assert stats["at_saturation"] == 4.0  # the median of 3, 4, 4: one low scrape moves nothing


def test_formatting_a_measured_value() -> None:
    assert measured(3.94, "cores") == "3.94 cores"
    assert measured(512 * 2**20, "bytes") == "512 MiB"
    assert measured(18, "") == "18"
    assert measured(None, "cores") == "-"


UI_SCENARIO = """
name: observed-ui
host: {host}
load: {{users: 8, spawn_rate: 100, duration: 5s}}
observe:
  prometheus: ${{PROMETHEUS_URL:-http://127.0.0.1:1}}
  queries:
    in_service: {{query: '{in_service}', limit: {limit}}}
thresholds:
  - server in_service <= {limit}
  - server in_service < {limit} over 2s
users:
  - name: worker
    tasks:
      - request: {{url: /api/work}}
"""


@pytest.mark.e2e
def test_a_web_ui_test_is_observed_live_and_judged_on_its_own_seconds(
    prometheus_for: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`loadkit ui`: the poller asks Prometheus while each test runs (the Thresholds tab shows
    a server threshold's value so far, not "no data yet"), and each test's folder gets the
    queries over that test's own span, judged like `loadkit run`'s."""
    from test_webui import ui_session

    from loadkit.demo_target.process import TargetProcess

    with TargetProcess("--max-concurrency", str(MAX_CONCURRENCY), "--service-ms", "50") as target:
        prometheus = prometheus_for(target.url)
        monkeypatch.setenv("PROMETHEUS_URL", prometheus.url)
        scenario = write(
            tmp_path, UI_SCENARIO.format(host=target.url, in_service=IN_SERVICE, limit=4)
        )
        with ui_session(scenario, tmp_path / "reports") as ui:
            ui.swarm(8, 100, target.url, "6s")
            live: list[dict[str, Any]] = []
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline and not live:
                time.sleep(0.5)
                tables = {t["key"]: t["data"] for t in ui.get("/stats/requests")["extended_stats"]}
                live = [
                    row for row in tables["loadkit-thresholds"]
                    if row["threshold"].startswith("server in_service <= 4")
                    and row["status"] != "no data yet"
                ]  # fmt: skip
            assert live, "the Thresholds tab never showed the server threshold's value"
            folder = ui.folder()
            ui.finish()
    summary = json.loads((folder / "summary.json").read_text())
    telemetry = read_telemetry(folder / "telemetry.json")
    assert telemetry is not None
    in_service = summary["telemetry"]["queries"]["in_service"]
    assert in_service["max"] == MAX_CONCURRENCY  # 8 users on 4 slots: every slot in service
    # The span asked is the test's own: from its start, never the idle UI before it.
    final = json.loads((folder / "locust_final.json").read_text())
    assert telemetry["start"] == pytest.approx(final["started_at"], abs=1)
    results = {t["expression"]: t for t in summary["thresholds"]}
    assert results["server in_service <= 4"]["passed"] is True
    assert results["server in_service < 4 over 2s"]["passed"] is False
    assert summary["verdict"] == "fail"
