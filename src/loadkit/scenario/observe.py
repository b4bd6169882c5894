"""`observe:`: the system under test's own metrics, asked of the team's Prometheus beside the
load (`loadkit.observe` asks; this module only says what may be written).

```yaml
observe:
  prometheus: ${PROMETHEUS_URL:-http://127.0.0.1:9090}
  step: 1s
  bearer_token: ${secret:PROMETHEUS_TOKEN}      # or basic_auth: {username, password}
  queries:
    api_cpu: {query: 'sum(rate(process_cpu_seconds_total{job="api"}[15s]))', unit: cores}
    db_pool: {query: 'max(db_pool_in_use{job="api"})', limit: 20}
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from loadkit.errors import did_you_mean
from loadkit.scenario.durations import parse_duration
from loadkit.scenario.thresholds import Threshold

CORES = "cores"
"""The unit that, with the generator's known core count, has a limit of its own."""
_SECRET_TEMPLATE = re.compile(r"\{\{ env\.[A-Za-z_][A-Za-z0-9_]* \}\}")
"""What `${secret:NAME}` reads as (`source`): a credential is never written in the file."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _step(value: object) -> float:
    seconds = parse_duration(value)
    if not 0.1 <= seconds <= 3600:
        raise ValueError(f"step {value!r}: give a resolution from 100ms to 1h, e.g. 1s")
    return seconds


def _secret_only(value: str | None) -> str | None:
    if value is not None and not _SECRET_TEMPLATE.fullmatch(value):
        raise ValueError(
            "a credential is read only from a secret: write ${secret:NAME} and set the "
            "environment variable NAME (never the value in the file)"
        )
    return value


Secret = Annotated[str, BeforeValidator(_secret_only)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)


class PrometheusBasicAuth(_Model):
    username: Secret
    password: Secret


class ObserveQuery(_Model):
    query: str = Field(min_length=1, description="PromQL, asked at `step` over the run.")
    unit: str = Field(default="", max_length=20, description="e.g. cores, bytes, connections.")
    limit: float | None = Field(
        default=None, description="How much of it there is (e.g. a pool of 20): its saturation."
    )


class Observe(_Model):
    prometheus: str = Field(description="Prometheus's base URL, e.g. http://127.0.0.1:9090.")
    step: Annotated[float, BeforeValidator(_step, json_schema_input_type=float | str)] = Field(
        default=1.0, description="Query resolution, e.g. 1s."
    )
    queries: dict[str, ObserveQuery] = Field(min_length=1)
    bearer_token: Secret | None = None
    basic_auth: PrometheusBasicAuth | None = None

    @field_validator("prometheus")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected a URL like http://127.0.0.1:9090, got {value!r}")
        return value.rstrip("/")

    @field_validator("queries")
    @classmethod
    def _names(cls, value: dict[str, ObserveQuery]) -> dict[str, ObserveQuery]:
        for name in value:
            if not _NAME.fullmatch(name):
                raise ValueError(f"query name {name!r} must be letters, digits and _")
        return value


def server_threshold_problems(
    observe: Observe | None, thresholds: Sequence[Threshold]
) -> list[tuple[int, str]]:
    """(index, message) of each `server NAME` threshold whose NAME is no query of `observe`."""
    names = sorted(observe.queries) if observe is not None else []
    problems = []
    for i, threshold in enumerate(thresholds):
        if threshold.server is None or threshold.server in names:
            continue
        if observe is None:
            message = (
                f"'{threshold.expression}' judges the observe: query '{threshold.server}', and "
                "the scenario has no observe: section; add one (observe: {prometheus: URL, "
                "queries: {NAME: {query: PROMQL}}})"
            )
        else:
            message = (
                f"no observe: query is named '{threshold.server}'"
                f"{did_you_mean(threshold.server, names)} (query names: {', '.join(names)})"
            )
        problems.append((i, message))
    return problems
