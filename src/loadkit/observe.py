"""Asking the team's Prometheus for the system under test's metrics (`observe:`), from the CLI
process (standard library `urllib`, never inside Locust: the generator spends nothing on it).

- Before any load: each query asked once (`check`): PromQL that Prometheus cannot parse is a
  one-line error naming the query; a Prometheus that does not answer is a warning, and the run
  goes on.
- While the run lasts (`LivePoller`): every `step` (at least each second) the queries asked
  over the run so far, written to the run folder's live file, which the harness reads to judge
  `server` thresholds (the live line, the web UI, `abort: true`) with `telemetry.judge_server`.
  Here, not in the harness: the harness stays within its import contract and off the network,
  and in a distributed run this process is the master's, as the harness's judgement is.
- After the run (`collect`): range queries at `step` over the run's span (so nothing is lost
  when a call failed meanwhile) into telemetry.json.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from loadkit.errors import UsageError
from loadkit.run_folder import RunFolder, read_final_snapshot
from loadkit.scenario.observe import Observe
from loadkit.telemetry import SCHEMA, QueryTelemetry, Series, Telemetry

TIMEOUT_S = 5.0
RETRIES = 3
"""Attempts per call; a second apart (a Prometheus restarting, a dropped connection)."""
_ENV_TEMPLATE_PREFIX, _ENV_TEMPLATE_SUFFIX = "{{ env.", " }}"


class PrometheusError(Exception):
    """Prometheus answered, and refused the query (`bad_data`: PromQL it cannot parse)."""


class Unreachable(Exception):
    """No answer from Prometheus (refused, timed out, not Prometheus's JSON)."""


def _secret(template: str, environ: Mapping[str, str]) -> str:
    """A credential's value: `{{ env.NAME }}` (what `${secret:NAME}` reads as) from `environ`."""
    name = template.removeprefix(_ENV_TEMPLATE_PREFIX).removesuffix(_ENV_TEMPLATE_SUFFIX)
    return environ.get(name, "")


def _headers(observe: Observe, environ: Mapping[str, str]) -> dict[str, str]:
    if observe.bearer_token is not None:
        return {"Authorization": f"Bearer {_secret(observe.bearer_token, environ)}"}
    if observe.basic_auth is not None:
        user = _secret(observe.basic_auth.username, environ)
        password = _secret(observe.basic_auth.password, environ)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def _ask(
    observe: Observe,
    path: str,
    params: Mapping[str, str],
    environ: Mapping[str, str],
    *,
    retries: int = RETRIES,
) -> object:
    """Prometheus's `data` for one API call; PrometheusError when it refuses the query,
    Unreachable when it does not answer after `retries` attempts."""
    url = f"{observe.prometheus}{path}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers=_headers(observe, environ))
    problem = "no attempt"
    for attempt in range(retries):
        if attempt:
            time.sleep(1.0)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read())
            except ValueError:
                problem = f"HTTP {exc.code}"
                continue
            if exc.code in (400, 422) and body.get("status") == "error":
                raise PrometheusError(str(body.get("error", "")).strip()) from None
            problem = f"HTTP {exc.code}: {body.get('error', '')}"
            continue
        except (OSError, ValueError) as exc:  # refused, timed out, not JSON
            problem = str(getattr(exc, "reason", None) or exc)
            continue
        if body.get("status") == "success":
            return body.get("data")
        problem = str(body.get("error", "no data"))
    raise Unreachable(f"{observe.prometheus} did not answer ({problem})")


def check(observe: Observe, environ: Mapping[str, str] | None = None) -> list[str]:
    """Each query asked once, before any load: UsageError naming the query whose PromQL
    Prometheus refuses; a warning (returned) when Prometheus does not answer."""
    environ = os.environ if environ is None else environ
    for name, query in observe.queries.items():
        try:
            _ask(observe, "/api/v1/query", {"query": query.query}, environ, retries=1)
        except PrometheusError as exc:
            raise UsageError(
                f"observe.queries.{name}: Prometheus refuses the query: {exc}"
            ) from None
        except Unreachable as exc:
            return [
                f"observe: {exc}; the run goes on without the system's metrics, and server "
                "thresholds will have no data"
            ]
    return []


def collect(
    observe: Observe,
    start: float,
    end: float,
    environ: Mapping[str, str] | None = None,
    *,
    retries: int = RETRIES,
) -> Telemetry:
    """Each query's series at `step` over [start, end] (unix seconds), labels kept; a query
    that failed keeps its error instead."""
    environ = os.environ if environ is None else environ
    queries: dict[str, QueryTelemetry] = {}
    for name, query in observe.queries.items():
        entry: QueryTelemetry = {
            "query": query.query,
            "unit": query.unit,
            "limit": query.limit,
            "series": [],
        }
        params = {
            "query": query.query,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{observe.step:g}",
        }
        try:
            data = _ask(observe, "/api/v1/query_range", params, environ, retries=retries)
            entry["series"] = _series(data)
        except (PrometheusError, Unreachable) as exc:
            entry["error"] = str(exc)
        queries[name] = entry
    return {
        "schema": SCHEMA,
        "prometheus": observe.prometheus,
        "step_s": observe.step,
        "start": start,
        "end": end,
        "queries": queries,
    }


def _series(data: object) -> list[Series]:
    result = data.get("result", []) if isinstance(data, dict) else []
    series: list[Series] = []
    for item in result:
        values = item.get("values") or ([item["value"]] if "value" in item else [])
        samples = [(float(t), float(v)) for t, v in values]
        series.append(
            {
                "labels": {str(k): str(v) for k, v in item.get("metric", {}).items()},
                "points": [(t, v) for t, v in samples if math.isfinite(v)],
            }
        )
    return series


def write(path: Path, telemetry: Telemetry) -> None:
    """Atomically (the harness may read the live file at any moment)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(telemetry, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)


class LivePoller:
    """While the run lasts: the queries over the run so far, rewritten into `path` every
    `step` (at least each second), for the harness's live judgement. One attempt per call:
    a failed round is skipped, the next one asks for the whole span again."""

    def __init__(
        self,
        observe: Observe,
        path: Path,
        environ: Mapping[str, str] | None = None,
        *,
        started: Callable[[], float | None] | None = None,
    ):
        """`started`: when the test started (unix seconds), None until it has: the span
        asked begins there, so the seconds before the load do not count (default: now)."""
        self._observe = observe
        self._path = path
        self._environ = dict(os.environ if environ is None else environ)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loadkit-observe", daemon=True)
        created = time.time()
        self._started = started or (lambda: created)

    def __enter__(self) -> LivePoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT_S + 1)

    def _loop(self) -> None:
        interval = max(1.0, self._observe.step)
        while not self._stop.wait(interval):
            start = self._started()
            if start is None:
                continue
            telemetry = collect(self._observe, start, time.time(), self._environ, retries=1)
            if all("error" in q for q in telemetry["queries"].values()):
                continue
            try:
                write(self._path, telemetry)
            except OSError:  # a full disk: the judgement keeps the last values
                continue


def while_running(
    observe: Observe | None, folder: RunFolder, started: Callable[[], float | None]
) -> contextlib.AbstractContextManager[object]:
    """While Locust runs: the queries asked every step into the folder's live file, for the
    harness's live judgement of server thresholds (nothing without `observe:`)."""
    if observe is None:
        return contextlib.nullcontext()
    return LivePoller(observe, folder.path / folder.TELEMETRY_LIVE, started=started)


def after_run(
    observe: Observe | None, folder: RunFolder, fallback: tuple[float | None, float | None]
) -> None:
    """The queries over the run's span (locust_final.json's, else `fallback`: when the test
    started and Locust ended) into telemetry.json; the live file removed."""
    if observe is None:
        return
    final = read_final_snapshot(folder.final_stats)
    start = (final["started_at"] if final else None) or fallback[0]
    end = (final["stopped_at"] if final else None) or fallback[1]
    if start is None or end is None:
        return
    telemetry = collect(observe, float(start), float(end))
    with contextlib.suppress(OSError):  # a full disk: the summary says the data is missing
        write(folder.path / folder.TELEMETRY_JSON, telemetry)
        (folder.path / folder.TELEMETRY_LIVE).unlink(missing_ok=True)
