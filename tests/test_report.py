"""write_report on real and broken run folders; report.html in headless Chromium; request names
that would break a table (a newline, a |, HTML) shown as text in every table."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from helpers import run_loadkit, write
from PIL import Image
from test_charts import assert_legible, png_size, sample_capacity
from test_html_report import Page
from test_junit import check_structure

from loadkit.demo_target.process import TargetProcess
from loadkit.exit_codes import ExitStatus
from loadkit.report import charts
from loadkit.report import write as report

FIXTURES = Path(__file__).parent / "fixtures" / "report"
EVIL = "<script>alert(1)</script>"
TIME_CHARTS = ["users_throughput", "response_times", "failures", "distribution"]
REPORT_CHARTS = [*TIME_CHARTS[:2], "response_times_by_request", *TIME_CHARTS[2:]]
"""Those and the per-request small multiples (as tall as their rows)."""
OLDER_CHARTS = [TIME_CHARTS[0], "response_times_locust", *TIME_CHARTS[2:]]
"""Of a run folder without histograms.json (the demo fixture): Locust's 10 s windows."""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
APT_HINT = "chromium is not installed; install it with: apt-get install -y chromium"


def fixture_folder(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


@pytest.fixture(scope="module")
def real_run(shared_target: TargetProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `loadkit run` against the bundled target: some requests fail (503), one request
    is named like an XSS attack, the error-rate threshold fails."""
    shared_target.reset()
    base = tmp_path_factory.mktemp("report-run")
    scenario = base / "scenario.yaml"
    scenario.write_text(
        f"""\
name: report-check
host: {shared_target.url}
load: {{users: 6, spawn_rate: 6, duration: 3s}}
defaults:
  think_time: {{constant: 0.02}}
  timeout: 5s
users:
  - name: citizen
    tasks:
      - name: list cases
        weight: 4
        request: {{url: /api/cases, params: {{region: "02"}}}}
        expect: {{status: 200}}
      - name: odd name
        request: {{url: "/api/delay?ms=15", name: "{EVIL}"}}
      - name: broken
        request: {{url: /api/status/503, name: broken}}
        expect: {{status: 200}}
thresholds:
  - p95 < 1s
  - error_rate < 1%
""",
        encoding="utf-8",
    )
    folder = base / "run"
    result = run_loadkit("run", str(scenario), "--out", str(folder))
    assert result.returncode == ExitStatus.THRESHOLDS_FAILED, result
    return folder


@pytest.fixture(scope="module")
def real_report(real_run: Path) -> report.ReportFiles:
    return report.write_report(real_run)


def test_report_of_a_real_run(real_run: Path, real_report: report.ReportFiles) -> None:
    summary = json.loads((real_run / "summary.json").read_text())
    assert real_report.html == real_run / "report.html" and real_report.junit.is_file()
    assert list(real_report.charts) == REPORT_CHARTS and real_report.notes == ()
    for name, path in real_report.charts.items():
        assert path == real_run / "charts" / f"{name}.png"
        if name in TIME_CHARTS:
            assert png_size(path.read_bytes()) == (900, 430)
    # Three requests: two rows of panels.
    assert png_size(real_report.charts["response_times_by_request"].read_bytes()) == (900, 610)

    text = real_report.html.read_text(encoding="utf-8")
    page = Page(text)
    words = page.visible
    assert "✗ FAIL report-check" in words
    assert "error_rate < 1%" in words and "✗ fail" in words
    assert f"GET {EVIL}" in words and not page.all("script")
    assert "expected status 200, got 503" in words
    assert f"{summary['totals']['requests']:,} (" in words
    assert len(page.all("img")) == len(REPORT_CHARTS)
    hrefs = [unquote(a["href"] or "") for a in page.all("a")]
    assert {"summary.json", "junit.xml", "locust_stats_history.csv", "locust.log"} <= set(hrefs)
    assert "charts/failures.png" in hrefs
    for href in hrefs:
        assert (real_run / href).is_file(), href

    root = check_structure(real_report.junit.read_text(encoding="utf-8"))
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["error_rate < 1%"]


def test_charts_of_a_real_run_are_legible_and_true(real_run: Path) -> None:
    notes: list[str] = []
    summary = report.load_summary(real_run, notes)
    final = report.load_final(real_run, notes)
    history = report.load_history(real_run, notes)
    series = charts.time_series(history, charts.per_second_counts(final))
    histogram = charts.response_time_histogram(final)
    figures = report.build_figures(summary, series, histogram, None, None, notes)
    assert list(figures) == TIME_CHARTS and notes == []
    for figure in figures.values():
        assert_legible(figure)
    totals = summary["totals"]
    assert series["users"].max() == 6
    # Every request and every failure (the 503s) is on the charts, in the second it happened.
    assert series["rps"].sum() == sum(histogram.values()) == totals["requests"]
    assert series["failures_per_s"].sum() == totals["failures"] > 0


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip(APT_HINT)
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL
    )


def console_messages(stderr: str) -> list[str]:
    """Chromium logs every page console message (errors, CSP violations) as ':CONSOLE'."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def colour_pixels(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    return int((np.abs(pixels - np.array(rgb)).max(axis=2) <= tolerance).sum())


def test_report_renders_in_headless_chromium(
    real_report: report.ReportFiles, tmp_path: Path
) -> None:
    url = real_report.html.resolve().as_uri()
    screenshot = tmp_path / "report.png"
    shot = chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1200,3000", url)
    assert shot.returncode == 0, shot.stderr[-3000:]
    assert console_messages(shot.stderr) == []
    image = Image.open(screenshot)
    assert image.size == (1200, 3000)
    header = image.crop((0, 0, 1200, 120))
    assert colour_pixels(header, (0xB3, 0x26, 0x1E)) > 20_000  # the red FAIL banner
    # The charts were decoded and drawn: the req/s blue and the failures/s vermillion show.
    assert colour_pixels(image, (0x00, 0x72, 0xB2)) > 500
    assert colour_pixels(image, (0xD5, 0x5E, 0x00)) > 500
    print(f"screenshot: {screenshot}")

    dom = chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0 and console_messages(dom.stderr) == []
    assert 'id="verdict"' in dom.stdout and dom.stdout.count("<img ") == len(REPORT_CHARTS)
    assert "<script" not in dom.stdout.replace("&lt;script", "")


@pytest.mark.e2e
def test_chromium_check_does_see_console_errors(tmp_path: Path) -> None:
    """The console check above can fail: a page with a script error and a blocked fetch."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="img-src data:">'
        '<img src="http://127.0.0.1:9/x.png"><script>undefinedFunction()</script>'
    )
    result = chromium(tmp_path, "--dump-dom", bad.resolve().as_uri())
    messages = console_messages(result.stderr)
    assert any("Uncaught ReferenceError" in m for m in messages)
    assert any("Content Security Policy" in m for m in messages)


# --- broken and unusual run folders -----------------------------------------------------------


def test_aborted_run_with_no_requests_still_reports(tmp_path: Path) -> None:
    folder = fixture_folder(tmp_path, "aborted_no_requests")
    files = report.write_report(folder)
    assert files.charts == {} and not (folder / "charts").exists()
    assert files.notes == ("Less than two seconds were recorded: no charts over time.",)
    words = Page(files.html.read_text()).visible
    assert "■ ABORTED checkout" in words and "no requests were made" in words
    assert (
        "No requests were made." in words
        and "Requests 0 (0 failed) Throughput – Response time – Locust" in words
    )
    assert "Less than two seconds were recorded" in words
    root = check_structure(files.junit.read_text())
    assert root.get("failures") == "2"  # the threshold and "run completed"


def test_empty_folder_reports_an_error(tmp_path: Path) -> None:
    files = report.write_report(tmp_path)
    words = Page(files.html.read_text()).visible
    assert f"! ERROR {tmp_path.name}" in words
    assert "summary.json is missing; the run did not finish normally, see locust.log" in words
    assert "locust_stats_history.csv is missing: no users or percentiles over time." in words
    assert "locust_final.json is missing: no response time distribution" in words
    assert [a["href"] for a in Page(files.html.read_text()).all("a")] == ["junit.xml"]
    check_structure(files.junit.read_text())


def test_corrupt_files_are_named_not_raised(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text('{"verdict": ')
    (tmp_path / "locust_stats_history.csv").write_bytes(b"\x00\xff garbage\n\x01,\x02\n")
    (tmp_path / "locust_final.json").write_text("[1, 2]")
    files = report.write_report(tmp_path)
    assert files.charts == {}
    assert files.notes[0].startswith("summary.json could not be read (")
    assert files.notes[1] == "locust_final.json could not be read (ValueError: not a JSON object)."
    assert files.notes[2].startswith("locust_stats_history.csv could not be read (")
    words = Page(files.html.read_text()).visible
    assert all(note in words for note in files.notes)


def test_half_written_history_still_charts(tmp_path: Path) -> None:
    folder = fixture_folder(tmp_path, "demo")
    history = folder / "locust_stats_history.csv"
    text = history.read_text()
    history.write_text(text[: len(text) - 40])  # killed in the middle of a line
    files = report.write_report(folder)
    assert list(files.charts) == OLDER_CHARTS and files.notes == (report.HISTOGRAMS_MISSING,)


def test_capacity_charts_and_default_slo(tmp_path: Path) -> None:
    folder = fixture_folder(tmp_path, "demo")
    stale = folder / "charts" / "capacity_latency.png"
    files = report.write_report(folder, capacity=sample_capacity())
    assert list(files.charts) == [*OLDER_CHARTS, "capacity_throughput", "capacity_latency"]
    assert stale.is_file()
    page = Page(files.html.read_text())
    assert "Capacity" in page.visible and len(page.all("img")) == 6

    notes: list[str] = []
    summary = report.load_summary(folder, notes)
    figures = report.build_figures(
        summary,
        charts.empty_series(),
        {},
        sample_capacity(),
        report.slo_from_thresholds(summary),
        notes,
    )
    slo_labels = [str(line.get_label()) for line in figures["capacity_latency"].axes[0].lines]
    assert "SLO: p95 < 200 ms" in slo_labels  # from the scenario's `p95 < 200ms`

    again = report.write_report(folder, slo_p95_ms=300)
    assert list(again.charts) == OLDER_CHARTS
    assert not stale.exists()  # an earlier report's chart is not left behind
    assert "capacity" not in [a.get("id") for _, a in Page(again.html.read_text()).tags]


def test_slo_from_thresholds() -> None:
    def threshold(expression: str, metric: str, op: str, limit: float, scope: str | None = None):
        return {
            "expression": expression,
            "metric": metric,
            "op": op,
            "limit": limit,
            "scope": scope,
        }

    assert report.slo_from_thresholds({"thresholds": []}) is None
    summary = {
        "thresholds": [
            threshold("/a: p95 < 1s", "p95", "<", 1000, scope="/a"),
            threshold("p95 > 1ms", "p95", ">", 1),
            threshold("p99 < 2s", "p99", "<", 2000),
            threshold("p95 <= 750ms", "p95", "<=", 750),
        ]
    }
    assert report.slo_from_thresholds(summary) == 750.0


def test_junit_written_by_report_matches_render(tmp_path: Path) -> None:
    folder = fixture_folder(tmp_path, "demo")
    files = report.write_report(folder)
    root = ET.fromstring(files.junit.read_bytes())
    assert root.get("tests") == "6" and root.get("failures") == "0"
    assert not list(folder.glob(".*.tmp"))  # no half-written files left


# --- a folder `loadkit run` did not finish, or that was damaged since ---------------------------


def test_a_bad_summary_field_is_one_line_exit_2(real_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(real_run, folder)
    summary = json.loads((folder / "summary.json").read_text())
    summary["load"]["planned_s"] = "x"
    (folder / "summary.json").write_text(json.dumps(summary))
    result = run_loadkit("report", str(folder))
    assert result.returncode == ExitStatus.INVALID_INPUT, result
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"loadkit: error: {folder / 'summary.json'}: ")
    assert 'load.planned_s: expected a number, got "x"' in result.stderr


def test_a_cut_short_histograms_json_is_said(real_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(real_run, folder)
    histograms = folder / "histograms.json"
    histograms.write_bytes(histograms.read_bytes()[: histograms.stat().st_size // 2])
    result = run_loadkit("report", str(folder))
    # The report is written and the verdict (decided when the file was whole) stands: 0.
    assert result.returncode == ExitStatus.PASS, result
    (warning,) = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warning.startswith(
        f"loadkit: warning: {folder}: histograms.json is damaged or cut short"
    )
    assert "summary.json's times were computed from it when the run ended" in warning
    words = Page((folder / "report.html").read_text()).visible
    assert "histograms.json is damaged or cut short" in words


@pytest.mark.e2e
def test_report_rebuilds_the_summary_a_killed_cli_never_wrote(
    target: TargetProcess, tmp_path: Path
) -> None:
    """SIGKILL of `loadkit run`: its harness stops gracefully and leaves locust_final.json and
    histograms.json, but nobody writes summary.json; `loadkit report` rebuilds it."""
    import signal
    import time

    from test_faults import harness_of, start_cli, steady

    scenario = write(tmp_path, steady(target.url, duration="30s"))
    folder = tmp_path / "run"
    cli = start_cli("run", str(scenario), "--out", str(folder), "-u", "3")
    harness = harness_of(cli)
    deadline = time.monotonic() + 20
    while target.requests_seen()["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)
    cli.send_signal(signal.SIGKILL)
    cli.communicate(timeout=10)
    harness.wait(timeout=30)
    assert not (folder / "summary.json").exists()
    final = json.loads((folder / "locust_final.json").read_text())
    assert (folder / "histograms.json").is_file()

    result = run_loadkit("report", str(folder))
    assert result.returncode == ExitStatus.PASS, result
    assert (
        "summary.json was missing; rebuilt from locust_final.json and histograms.json: "
        "ABORTED (exit code 3)" in result.stderr
    ), result.stderr
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["verdict"] == "aborted" and summary["exit_code"] == ExitStatus.ABORTED
    assert summary["run"]["users"] == 3  # the plan the command line made, not the scenario's 4
    assert summary["times_from"].startswith("loadkit histograms")
    sent = sum(e["num_requests"] for e in final["entries"])
    assert summary["totals"]["requests"] == sent > 0
    assert any("rebuilt by `loadkit report`" in w for w in summary["warnings"])
    check_structure((folder / "junit.xml").read_text())
    assert (folder / "report.html").is_file()


@pytest.mark.e2e
def test_hostile_request_names_cannot_break_tables(target: TargetProcess, tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        f"""\
name: hostile
host: {target.url}
load: {{users: 1, spawn_rate: 1, duration: 2s}}
defaults: {{think_time: {{constant: 0.2}}}}
users:
  - name: u
    tasks:
      - request: {{url: /health, name: "a\\nb | <img src=x onerror=alert(1)>"}}
""",
    )
    out = tmp_path / "run"
    result = run_loadkit("run", str(scenario), "--out", str(out))
    assert result.returncode == ExitStatus.PASS, result
    table = result.stdout[result.stdout.index("Request") :].splitlines()
    assert any("a\\nb" in line for line in table)  # the newline is shown, not obeyed
    md = (out / "summary.md").read_text()
    assert "<img" not in md and "&lt;img" in md
    rows = [line for line in md.splitlines() if "a\\nb" in line]
    assert rows and all(line.count("|") - line.count("\\|") == 12 for line in rows), rows
    summary = json.loads((out / "summary.json").read_text())
    assert summary["requests"][0]["name"] == "a\nb | <img src=x onerror=alert(1)>"
