"""The system under test's metrics (summary.json's `telemetry`, from `observe:`) as lines a
person reads: the terminal and summary.md give one per query; report.html adds its charts
(`telemetry_charts`) and the per-level table (`level_rows`)."""

from __future__ import annotations

from dataclasses import dataclass

from loadkit import formatting
from loadkit.summary_types import CapacityDict, QueryStats, Summary, TelemetrySummary
from loadkit.telemetry import CORES, SATURATED_SHARE, Telemetry, level_value, window_mean


def query_line(name: str, row: QueryStats) -> str:
    """`api_cpu: mean 3.1 cores (min 0.2, max 3.9; 3.8 at the saturation point)`."""
    if "error" in row and row["mean"] is None:
        return f"{name}: no data ({row['error']})"
    unit = row["unit"]
    text = (
        f"{name}: mean {formatting.measured(row['mean'], unit)} (min "
        f"{formatting.measured(row['min'], unit)}, max {formatting.measured(row['max'], unit)}"
    )
    if row["limit"] is not None:
        text += f", limit {formatting.measured(row['limit'], unit)}"
    if row["at_saturation"] is not None:
        text += f"; {formatting.measured(row['at_saturation'], unit)} at the saturation point"
    return text + ")"


def summary_lines(summary: Summary) -> list[str]:
    """One line per query, under a heading line; none when the scenario observes nothing."""
    telemetry = summary.get("telemetry")
    if not telemetry:
        return []
    return [
        f"System under test (Prometheus {telemetry['prometheus']}, every "
        f"{telemetry['step_s']:g} s):",
        *(f"  {query_line(name, row)}" for name, row in telemetry["queries"].items()),
    ]


@dataclass(frozen=True)
class LevelRow:
    """One load level of a stepped or arrival-stage run, with each query's value there."""

    load: str
    """"8 users" or "86 arrivals/s"."""
    throughput_rps: float
    values: dict[str, float | None]
    """Query name -> its median over the level's steady window (`telemetry.level_value`)."""
    knee: bool


def level_rows(capacity: CapacityDict | None, telemetry: Telemetry) -> list[LevelRow]:
    if not capacity or not capacity.get("levels"):
        return []
    arrivals = capacity.get("load_axis") == "arrivals/s"
    knee = capacity.get("knee_rate") if arrivals else capacity.get("knee_users")
    rows = []
    for level in capacity["levels"]:
        load_value = level.get("arrival_rate") if arrivals else level["users"]
        load = f"{formatting.rps(load_value)} arrivals/s" if arrivals else f"{level['users']} users"
        values = {
            name: level_value(query, level["start"], level["end"])
            for name, query in telemetry["queries"].items()
        }
        rows.append(
            LevelRow(load, level["throughput_rps"], values, knee is not None and load_value == knee)
        )
    return rows


def share(value: float | None, limit: float | None) -> float | None:
    return None if value is None or not limit else value / limit


def level_sentence(row: LevelRow, name: str, telemetry: TelemetrySummary) -> str:
    """ "at 86 arrivals/s api_cpu was 3.9 of 4 cores (97 %)"."""
    stats = telemetry["queries"][name]
    unit, limit, value = stats["unit"], stats["limit"], row.values.get(name)
    text = f"at {row.load} {name} was {formatting.measured(value, unit)}"
    used = share(value, limit)
    if used is not None and limit is not None:
        text = (
            f"at {row.load} {name} was {formatting.measured(value, '')} of "
            f"{formatting.measured(limit, unit)} ({used * 100:.0f} %)"
        )
    return text


def first_saturated(rows: list[LevelRow], telemetry: TelemetrySummary) -> tuple[str, str] | None:
    """The first resource to reach SATURATED_SHARE of its limit (a query with `limit:`; for a
    CPU query, its core count given as the limit), in load order: (name, the level's sentence)."""
    for row in rows:
        for name, stats in telemetry["queries"].items():
            used = share(row.values.get(name), stats["limit"])
            if used is not None and used >= SATURATED_SHARE:
                return name, level_sentence(row, name, telemetry)
    return None


def cpu_query(telemetry: TelemetrySummary) -> str | None:
    """The first query measured in cores (a CPU query), if any."""
    return next((n for n, s in telemetry["queries"].items() if s["unit"] == CORES), None)


def cpu_cost(cores: float | None, throughput_rps: float) -> tuple[float, float] | None:
    """(CPU-seconds per request, requests per second one core sustains) at a level."""
    if cores is None or cores <= 0 or throughput_rps <= 0:
        return None
    return cores / throughput_rps, throughput_rps / cores


def run_cpu_cost(telemetry: Telemetry, start: float, end: float, requests: int) -> float | None:
    """CPU-seconds per request over the whole run: mean cores × seconds / requests."""
    for query in telemetry["queries"].values():
        if query["unit"] == CORES:
            cores = window_mean(query, start, end)
            if cores is None or requests <= 0:
                return None
            return cores * (end - start) / requests
    return None
