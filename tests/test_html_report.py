"""report.html: self-contained, every value escaped, the verdict in words as well as colour."""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from test_capacity import INCONSISTENT_CASES, SATURATION_POINT
from test_charts import (
    case_capacity,
    fixture_recorder,
    labels,
    sample_capacity,
    single_level_capacity,
)

from loadkit.report import charts
from loadkit.report.html import render_html
from loadkit.report.html_parts import CAPACITY_CHARTS, CHART_CAPTIONS, LOCUST_TIMES_CHART
from loadkit.report.markdown import render_markdown
from loadkit.report.write import write_report
from loadkit.summary_sections import capacity_dict

FIXTURES = Path(__file__).parent / "fixtures" / "report"
EVIL = "<script>alert(1)</script>"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16  # the renderer only embeds the bytes
VOID = {"meta", "img", "br", "hr", "link", "input"}


def demo_summary() -> dict[str, Any]:
    return json.loads((FIXTURES / "demo" / "summary.json").read_text())


class Page(HTMLParser):
    """Parses the whole page: element tree well-formedness, tags, attributes, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.row: int | None = None
        self.cell_text: dict[int, str] = {}
        """Tag index of each <tr> -> the text of its first <td>."""
        self.in_first_cell = False
        self.feed(text)
        self.close()
        assert self.stack == [], f"unclosed elements: {self.stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.row = len(self.tags) - 1
        elif tag == "td" and self.row is not None and self.row not in self.cell_text:
            self.cell_text[self.row] = ""
            self.in_first_cell = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()
        if tag == "td":
            self.in_first_cell = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.in_first_cell and self.row is not None:
            self.cell_text[self.row] += data

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def test_demo_report_has_every_section() -> None:
    summary = demo_summary()
    charts = {name: PNG for name in ("users_throughput", "response_times", "distribution")}
    text = render_html(summary, charts, None)
    page = Page(text)
    ids = [attrs.get("id") for _, attrs in page.tags if attrs.get("id")]
    assert ids[:6] == [
        "verdict",
        "run",
        "thresholds",
        "charts",
        "chart-users_throughput",
        "chart-response_times",
    ]
    assert ids[-3:] == ["requests", "failures", "files"] and "capacity" not in ids
    words = page.visible
    assert "✓ PASS demo" in words and "The run completed and every threshold held." in words
    assert "733 (0 failed, 0.00%)" in words and "76.1 req/s" in words
    assert "p95 < 200ms 7.0 ms ✓ pass" in words
    assert "/api/cases: p99 < 500ms 16.0 ms ✓ pass" in words
    for row in summary["requests"]:
        assert f"{row['method']} {row['name']}" in words
    assert "Total 733 0 0.00% 76.1 2.5 2.0 4.0 7.0 13.0 18.6" in words
    assert "No failures." in words
    images = page.all("img")
    assert len(images) == 3
    for image, name in zip(
        images, ("users_throughput", "response_times", "distribution"), strict=True
    ):
        assert image["alt"] == CHART_CAPTIONS[name][0]
        src = image["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == PNG


def test_self_contained_no_script_no_external_url() -> None:
    text = render_html(demo_summary(), {"distribution": PNG}, sample_capacity())
    page = Page(text)
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    (csp,) = [m for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in (csp["content"] or "")
    for tag, attrs in page.tags:
        for attr in ("src", "href"):
            value = attrs.get(attr)
            if value is not None:
                assert not re.match(r"^[a-z]+://|^//", value), (tag, value)
    assert "url(" not in text  # no fetched fonts or backgrounds in CSS


def evil_summary() -> dict[str, Any]:
    summary = copy.deepcopy(demo_summary())
    summary["scenario"] = {"name": EVIL, "file": f"x/{EVIL}.yaml"}
    summary["run"]["host"] = f"http://127.0.0.1:1/{EVIL}"
    summary["run"]["locust_version"] = EVIL
    summary["requests"][0]["name"] = EVIL
    summary["requests"][1]["method"] = '"><img src=x onerror=alert(1)>'
    summary["thresholds"][0].update(expression=f"{EVIL}: p95 < 1ms", note=EVIL, passed=False)
    summary["failures"] = [
        {"method": "GET", "name": EVIL, "error": f"HTTPError {EVIL}", "occurrences": 3}
    ]
    summary["exceptions"] = [{"count": 1, "message": EVIL}]
    summary["reasons"] = [f"threshold '{EVIL}' failed"]
    summary["verdict"] = "fail"
    return summary


def test_values_from_the_scenario_are_inert() -> None:
    text = render_html(evil_summary(), {"distribution": PNG}, None, links=[f"{EVIL}.csv"])
    page = Page(text)
    assert not page.all("script"), "a <script> element came from the data"
    assert [a for _, a in page.tags if any(k.startswith("on") for k in a)] == []
    assert len(page.all("img")) == 1  # only the chart
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text.lower()
    assert page.visible.count(EVIL) >= 9  # shown, as text, everywhere it was
    (link,) = [a for a in page.all("a")]
    assert link["href"] == "%3Cscript%3Ealert%281%29%3C/script%3E.csv"


def test_capacity_headline_is_escaped_too() -> None:
    capacity = sample_capacity()

    class Evil(type(capacity)):  # type: ignore[misc]
        def headline(self) -> str:
            return EVIL

    evil = Evil(**{name: getattr(capacity, name) for name in capacity.__dataclass_fields__})
    evil = Evil(**{**vars(evil), "insufficient": EVIL})
    text = render_html(demo_summary(), {}, evil)
    assert not Page(text).all("script") and "&lt;script&gt;" in text


@pytest.mark.parametrize(
    ("verdict", "label", "words"),
    [
        ("pass", "✓ PASS", "every threshold held"),
        ("fail", "✗ FAIL", "did not meet its thresholds"),
        ("aborted", "■ ABORTED", "interrupted before its planned end"),
        ("error", "! ERROR", "see locust.log"),
        ("something new", "! ERROR", "see locust.log"),
    ],
)
def test_verdict_is_in_words_not_colour_alone(verdict: str, label: str, words: str) -> None:
    summary = {**demo_summary(), "verdict": verdict, "reasons": ["first reason"]}
    page = Page(render_html(summary, {}, None))
    (header,) = [a for t, a in page.tags if t == "header"]
    assert (header["class"] or "").split()[0] == "verdict"
    assert f"{label} demo" in page.visible
    assert words in page.visible and "first reason" in page.visible
    (title,) = [t for t in page.text if t.startswith("loadkit: ")]
    assert title == f"loadkit: demo — {label.split()[-1]}"


def test_failed_threshold_shows_actual_note_and_fail() -> None:
    summary = demo_summary()
    summary["thresholds"][0].update(actual=250.0, passed=False, note="")
    summary["thresholds"].append(
        {
            "expression": "p99 < 1s",
            "scope": None,
            "metric": "p99",
            "op": "<",
            "limit": 1000.0,
            "unit": "ms",
            "actual": None,
            "passed": False,
            "note": "no requests",
            "default": True,
        }
    )
    words = Page(render_html(summary, {}, None)).visible
    assert "p95 < 200ms 250 ms ✗ fail" in words
    assert "p99 < 1s (default) n/a (no requests) ✗ fail" in words


def test_capacity_section() -> None:
    capacity = sample_capacity()
    page = Page(render_html(demo_summary(), {"capacity_throughput": PNG}, capacity))
    words = page.visible
    ids = [a.get("id") for _, a in page.tags if a.get("id")]
    # The capacity charts sit in the capacity section, next to the numbers they illustrate.
    assert ids.index("capacity") < ids.index("chart-capacity_throughput") < ids.index("charts")
    assert capacity.headline() in words
    assert "Saturation point 20 users" in words and "Most users within the SLO 30 users" in words
    assert "USL fit σ = 0.05, κ = 0.001, λ = 50 req/s, R² = 0.970" in words
    extrapolation = "its dotted stretch on the chart is a model extrapolation beyond the tested 40"
    assert extrapolation in words
    assert "Predicted peak" not in words and "Knee" not in words
    rows = [line for line in words.split("Load levels")[1:]]
    assert rows and "40 " in rows[0] and "650" in rows[0] and "0.95" in rows[0]
    assert saturation_rows(page) == ["20"]


def saturation_rows(page: Page) -> list[str]:
    """The Users cell of every levels-table row marked as the saturation point."""
    return [
        page.cell_text[i]
        for i, (tag, attrs) in enumerate(page.tags)
        if tag == "tr" and attrs.get("class") == "saturation"
    ]


def markdown_of(capacity: Any) -> str:
    return render_markdown({**demo_summary(), "capacity": capacity_dict(capacity)})


@pytest.mark.parametrize("name", list(INCONSISTENT_CASES))
def test_headline_table_and_charts_show_the_one_saturation_point(name: str) -> None:
    """The three reports that gave several user counts for one saturation (see
    test_capacity.INCONSISTENT_CASES): every renderer now shows the one saturation point."""
    capacity = case_capacity(name)
    n = SATURATION_POINT[name]
    assert capacity.knee_users == n
    page = Page(render_html(demo_summary(), {}, capacity))
    words = page.visible.split("Capacity", 1)[1].split("Charts")[0]
    markdown = markdown_of(capacity)
    figure = charts.capacity_throughput_chart(capacity)
    chart_lines = [t for t in labels(figure) if t.startswith("saturation point")]
    if n is None:
        assert "no saturation up to the highest tested level, 20 users" in capacity.headline()
        assert "Saturation point none up to the highest tested level, 20 users" in words
        assert saturation_rows(page) == [] and "saturation point**" not in markdown
        assert chart_lines == []
    else:
        assert f"saturates at {n} users" in capacity.headline()
        assert f"Saturation point {n} users" in words
        assert saturation_rows(page) == [str(n)]
        (marked,) = [line for line in markdown.splitlines() if "**saturation point**" in line]
        assert marked.startswith(f"| {n} |")
        assert chart_lines == [f"saturation point: {n} users"]
    assert capacity.headline() in words and capacity.headline() in markdown
    # No second figure under another name: no "reached at", knee, or model peak anywhere.
    fit = capacity.usl
    assert fit is not None and fit.peak_users is not None
    for text in (words, markdown, " ".join(labels(figure))):
        for other in ("reached at", "Knee", "knee", "peak", f" {round(fit.peak_users)} users"):
            assert other not in text, (other, text)


def test_single_level_run_says_insufficient_once_and_draws_no_capacity_chart() -> None:
    single = single_level_capacity()
    given = {name: PNG for name in CAPACITY_CHARTS}  # even if a caller drew them anyway
    page = Page(render_html(demo_summary(), given, single))
    words = page.visible
    assert words.count("Insufficient data") == 1 and words.count("single load level") == 1
    assert single.headline() in words
    assert not [a for _, a in page.tags if str(a.get("id", "")).startswith("chart-capacity")]
    assert "Saturation point" not in words and "USL fit" not in words
    assert saturation_rows(page) == []
    markdown = markdown_of(single)
    assert markdown.count("Insufficient data") == 1 and "saturation point" not in markdown
    assert "### Capacity" in markdown and "| 3 | 10.0 |" in markdown


def test_bare_summary_still_renders() -> None:
    """A stand-in summary (no run facts, no requests) renders without KeyErrors."""
    page = Page(render_html({"verdict": "error", "reasons": ["summary.json is missing"]}, {}, None))
    words = page.visible
    assert "! ERROR unnamed scenario" in words and "summary.json is missing" in words
    assert "No requests were made." in words and "No thresholds." in words
    assert "No charts: nothing was recorded." in words


def test_notes_and_links() -> None:
    page = Page(
        render_html(
            demo_summary(),
            {},
            None,
            links=["summary.json", "charts/failures.png"],
            notes=["locust_stats_history.csv is missing."],
        )
    )
    assert "locust_stats_history.csv is missing." in page.visible
    assert [a["href"] for a in page.all("a")] == ["summary.json", "charts/failures.png"]
    assert "charts/failures.png — Failures over time" in page.visible


def test_times_over_time_come_from_the_histograms_and_per_request(tmp_path: Path) -> None:
    """The demo run folder as Locust left it (no histograms.json: an older folder): the
    chart is Locust's 10 s windows and says so. With loadkit's histograms: each second's own
    percentiles, and a chart per request."""
    folder = tmp_path / "run"
    shutil.copytree(FIXTURES / "demo", folder)
    files = write_report(folder)
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    ids = [attrs.get("id") for _, attrs in page.tags]
    assert f"chart-{LOCUST_TIMES_CHART}" in ids and "chart-response_times" not in ids
    assert "chart-response_times_by_request" not in ids
    assert "as Locust computes them, over about the last 10 s" in page.visible
    assert any(n.startswith("histograms.json is missing") for n in files.notes)

    first = int(charts.read_history(folder / "locust_stats_history.csv")["timestamp"].min())
    fixture_recorder(t0=first).write(folder / "histograms.json")
    fixture_recorder(t0=first, delayed=True).write(folder / "histograms-corrected.json")
    files = write_report(folder)
    page = Page((folder / "report.html").read_text(encoding="utf-8"))
    ids = [attrs.get("id") for _, attrs in page.tags]
    assert ids.index("chart-response_times") < ids.index("chart-response_times_by_request")
    assert f"chart-{LOCUST_TIMES_CHART}" not in ids
    assert not (folder / "charts" / f"{LOCUST_TIMES_CHART}.png").exists()  # no longer true
    assert "so a spike shows in the second it happened" in page.visible
    assert CHART_CAPTIONS["response_times_by_request"][1] in page.visible
    assert not any("histograms" in n for n in files.notes)
    assert set(files.charts) >= {"response_times", "response_times_by_request"}
