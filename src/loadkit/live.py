"""The scenario's thresholds and Apdex judged *while* a test runs: pure functions from the fine
histograms recorded so far to rows a person reads (the web UI's Thresholds tab).

The same judgement as the summary's (`scenario.thresholds.judge` on `measurements`), so a value
seen live is the value the verdict will use once the test ends. The thresholds arrive as their
text (`LiveConfig`, written by the runner as JSON), so this side needs no scenario file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from loadkit import formatting
from loadkit.apdex import DEFAULT_APDEX_T_MS, Apdex, apdex
from loadkit.histogram import RunHistograms
from loadkit.measurements import ApdexTargets, RunMeasurements
from loadkit.scenario.thresholds import Threshold, ThresholdResult, judge, parse_threshold
from loadkit.summary_types import CORRECTED, SERVICE, Timing
from loadkit.telemetry import Telemetry, judge_server
from loadkit.telemetry import read as read_telemetry


@dataclass(frozen=True)
class LiveConfig:
    """What the live judgement needs of a scenario."""

    thresholds: list[str]
    defaulted: bool = False
    apdex_t_ms: float = DEFAULT_APDEX_T_MS
    apdex_per_request: Mapping[str, float] = field(default_factory=dict)
    user_classes: Mapping[str, str] = field(default_factory=dict)
    aborts: Mapping[str, float] = field(default_factory=dict)
    """Thresholds that stop the run when they fail: expression -> grace in seconds."""
    default_timing: Timing = SERVICE
    """What a time threshold naming neither judges (`summary.default_timing`)."""
    telemetry_file: str | None = None
    """Where the CLI's poller writes the `observe:` queries so far (`observe.LivePoller`), for
    `server` thresholds; None without `observe:`."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "default_timing": self.default_timing,
                "aborts": dict(self.aborts),
                "thresholds": self.thresholds,
                "defaulted": self.defaulted,
                "apdex_t_ms": self.apdex_t_ms,
                "apdex_per_request": dict(self.apdex_per_request),
                "user_classes": dict(self.user_classes),
                **({"telemetry_file": self.telemetry_file} if self.telemetry_file else {}),
            }
        )

    @classmethod
    def read(cls, path: str | Path) -> LiveConfig:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(
            thresholds=[str(t) for t in data["thresholds"]],
            defaulted=bool(data.get("defaulted")),
            apdex_t_ms=float(data.get("apdex_t_ms", DEFAULT_APDEX_T_MS)),
            apdex_per_request={str(k): float(v) for k, v in data["apdex_per_request"].items()},
            user_classes={str(k): str(v) for k, v in data["user_classes"].items()},
            aborts={str(k): float(v) for k, v in (data.get("aborts") or {}).items()},
            default_timing=CORRECTED if data.get("default_timing") == CORRECTED else SERVICE,
            telemetry_file=data.get("telemetry_file"),
        )


class ThresholdLine(TypedDict):
    threshold: str
    value: str
    status: str
    """"pass", "fail", or "no data yet"."""


class ApdexLine(TypedDict):
    request: str
    apdex: str
    rating: str
    requests: str


def threshold_results(
    config: LiveConfig,
    whole: RunHistograms,
    recent: Callable[[int], RunHistograms],
    elapsed_s: float,
    *,
    corrected: tuple[RunHistograms, Callable[[int], RunHistograms]] | None = None,
    server: Telemetry | None = None,
) -> list[tuple[Threshold, ThresholdResult]]:
    """Each threshold judged now: a whole-run one on everything so far (`whole`, e.g. one
    cumulative pseudo-second), an `over 30s` one on the last 30 s only (`recent(30)`) — cheap
    enough to do every second however long the run. `corrected`: the same two for the
    corrected times, when some starts are scheduled. `server`: the `observe:` queries so far
    (`server_telemetry`), for `server` thresholds (`telemetry.judge_server`, as the verdict)."""
    targets = ApdexTargets(config.apdex_t_ms, config.apdex_per_request)
    results = []
    for text in config.thresholds:
        threshold = parse_threshold(text)
        if threshold.server is not None:  # the system's metric, from the poller's file
            results.append((threshold, judge_server(threshold, server)))
            continue
        if threshold.window_s is None:
            histograms, duration = whole, elapsed_s
            fixed = None if corrected is None else corrected[0]
        else:
            window = int(threshold.window_s)
            histograms, duration = recent(window), float(window)
            fixed = None if corrected is None else corrected[1](window)
        run = RunMeasurements(
            histograms,
            duration,
            config.user_classes,
            targets,
            corrected=fixed,
            default_timing=config.default_timing,
        )
        results.append((threshold, judge(threshold, run)))
    return results


def server_telemetry(config: LiveConfig) -> Telemetry | None:
    """The `observe:` queries over the run so far, as the CLI's poller last wrote them."""
    return None if config.telemetry_file is None else read_telemetry(Path(config.telemetry_file))


def abort_reason(
    results: list[tuple[Threshold, ThresholdResult]], config: LiveConfig, elapsed_s: float
) -> dict[str, object] | None:
    """The first `abort: true` threshold failing past its grace, as the harness records it
    (`threshold`, `at_s`, `actual` as a person reads it); None while none does."""
    for threshold, result in results:
        after = config.aborts.get(threshold.expression)
        if after is None or elapsed_s < after or result.actual is None or result.passed:
            continue
        return {
            "threshold": threshold.expression,
            "at_s": round(elapsed_s, 1),
            "actual": threshold.format_value(result.actual),
        }
    return None


def threshold_lines(
    results: list[tuple[Threshold, ThresholdResult]], config: LiveConfig
) -> list[ThresholdLine]:
    """Each threshold judged now (`threshold_results`) as a row: its value so far and whether
    it holds."""
    lines: list[ThresholdLine] = []
    for threshold, result in results:
        status = "no data yet" if result.actual is None else "pass" if result.passed else "fail"
        label = threshold.expression + (" (default)" if config.defaulted else "")
        lines.append(
            {
                "threshold": label,
                "value": threshold.format_value(result.actual),
                "status": status,
            }
        )
    return lines


def apdex_lines(histograms: RunHistograms, config: LiveConfig) -> list[ApdexLine]:
    """Apdex per request name so far, with its rating, then all requests together
    (transactions are not requests: the Thresholds tab judges them by their own thresholds)."""
    histograms = histograms.requests_only()
    lines: list[ApdexLine] = []
    by_name = histograms.by_name()
    for name, hist in by_name.items():
        t_ms = config.apdex_per_request.get(name, config.apdex_t_ms)
        score = apdex(hist, t_ms)
        lines.append(_apdex_line(f"{name} (T={formatting.ms_unit(t_ms)})", score, hist.requests))
    if by_name:
        total = histograms.select()
        score = apdex(total, config.apdex_t_ms)
        label = f"All requests (T={formatting.ms_unit(config.apdex_t_ms)})"
        lines.append(_apdex_line(label, score, total.requests))
    return lines


def _apdex_line(label: str, score: Apdex, requests: int) -> ApdexLine:
    return {
        "request": label,
        "apdex": formatting.score(score.score),
        "rating": score.rating or "-",
        "requests": formatting.count(requests),
    }
