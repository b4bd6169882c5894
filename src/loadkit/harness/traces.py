"""Trace links (`trace: true`): per request name, the slowest traced requests with their W3C
trace ids, for the report, so that a person can open them in the APM.

Only a run whose locustfile traces some user class pays for it: `install` then puts
`_on_traced_request` in place of the harness's request listener (the same listener, then the
request kept if it is among its name's slowest); any other run keeps `requests._on_request`
alone. Workers send what they kept with each report and forget it; the master keeps the
slowest of all (`merge`), and the final snapshot lists them (`snapshot`)."""

from __future__ import annotations

import heapq
from typing import Any

from locust.env import Environment

from loadkit.harness.requests import _on_request
from loadkit.harness.state import state
from loadkit.harness_protocol import SLOWEST_KEPT, TRACE_CONTEXT_KEY, SlowRequest

_REPORT_KEY = "loadkit_slowest"

# One kept request: (response time ms, traceparent, start time, failed); a tuple so that the
# heap compares response times first (then traceparents, which are unique).
_Kept = tuple[float, str, float, bool]


class SlowestRequests:
    """Per (request type, name) the `SLOWEST_KEPT` slowest requests noted: a min-heap each,
    so a request faster than all kept costs one comparison."""

    def __init__(self) -> None:
        self.by_request: dict[tuple[str, str], list[_Kept]] = {}

    def note(self, request_type: str, name: str, kept: _Kept) -> None:
        heap = self.by_request.get((request_type, name))
        if heap is None:
            heap = self.by_request[(request_type, name)] = []
        if len(heap) < SLOWEST_KEPT:
            heapq.heappush(heap, kept)
        elif kept[0] > heap[0][0]:
            heapq.heapreplace(heap, kept)

    def rows(self) -> list[SlowRequest]:
        """What is kept, slowest first per request."""
        return [
            _row(request_type, name, kept)
            for (request_type, name), heap in self.by_request.items()
            for kept in sorted(heap, reverse=True)
        ]

    def drain(self) -> list[SlowRequest]:
        """What is kept, and forget it."""
        rows = self.rows()
        self.by_request = {}
        return rows

    def merge(self, rows: list[SlowRequest]) -> None:
        for row in rows:
            traceparent = f"00-{row['trace_id']}-{row['span_id']}-01"
            kept = (row["response_time_ms"], traceparent, row["started_at"], row["failed"])
            self.note(row["method"], row["name"], kept)


def _row(request_type: str, name: str, kept: _Kept) -> SlowRequest:
    response_time, traceparent, started_at, failed = kept
    _, trace_id, span_id, _ = traceparent.split("-")
    return {
        "method": request_type,
        "name": name,
        "response_time_ms": response_time,
        "trace_id": trace_id,
        "span_id": span_id,
        "started_at": started_at,
        "failed": failed,
    }


_slowest = SlowestRequests()
_tracing: list[bool] = []  # [True] once `install` found a traced user class


def _on_traced_request(
    request_type: str,
    name: str,
    response_time: float | None,
    response_length: int,
    response: Any = None,
    context: Any = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    url: str | None = None,
    **_: Any,
) -> None:
    _on_request(
        request_type, name, response_time, response_length, response, context, exception,
        start_time, url,
    )  # fmt: skip
    traceparent = context.get(TRACE_CONTEXT_KEY) if context else None
    if traceparent is not None and response_time is not None:
        _slowest.note(
            request_type,
            name,
            (response_time, traceparent, start_time or 0.0, exception is not None),
        )


def install(environment: Environment) -> None:
    """Trace links when some user class sends its requests through the generated code's
    traced client (its `lean_client_kind` says which context key carries the traceparent)."""
    traced = any(
        getattr(getattr(user_class, "lean_client_kind", None), "context_key", None)
        == TRACE_CONTEXT_KEY
        for user_class in environment.user_classes
    )
    if not traced:
        return
    _tracing[:] = [True]
    request = environment.events.request
    request.remove_listener(_on_request)
    request.add_listener(_on_traced_request)
    environment.events.report_to_master.add_listener(_on_report_to_master)
    environment.events.worker_report.add_listener(_on_worker_report)


def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data[_REPORT_KEY] = _slowest.drain()


def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    rows: list[SlowRequest] = data.get(_REPORT_KEY) or []
    if state.secrets:  # as `workers._mask_report` masks the rest of a remote worker's report
        for row in rows:
            row["name"] = state.secrets.mask(row["name"])
    _slowest.merge(rows)


def snapshot() -> list[SlowRequest] | None:
    """The final snapshot's `slowest`: None when no user class traces its requests."""
    if not _tracing:
        return None
    return _slowest.rows()


def reset() -> None:
    """A new test started in the web UI: its own slowest requests."""
    _slowest.drain()
