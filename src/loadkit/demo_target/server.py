"""The bundled demo/test target: a small public-service-shaped HTTP JSON API.

``loadkit demo`` points load tests at it, and the test suite uses it as the real server
that load tests hit, so its behaviour is deliberately deterministic and observable:
``/__loadkit/requests`` reports what the server saw (and, with ``--record``, exactly what
clients sent) without being counted itself, and ``/metrics`` gives Prometheus the target's own
metrics (process CPU and memory, requests in service, ``--max-concurrency``, requests served),
also without being counted, so a test can observe the system under test as a team observes theirs.

Run it with ``python -m loadkit.demo_target [--port N] [--max-concurrency C] [--service-ms S]``
(HTTPS with ``--tls-cert FILE --tls-key FILE``, requiring client certificates with
``--tls-client-ca FILE``) or drive it from Python with
:class:`loadkit.demo_target.process.TargetProcess`.

This module must stay importable from a process that is *not* running gevent (the CLI
parent, the pytest process): gevent is imported only inside :func:`serve` and
:func:`main`, and nothing imported at module level pulls in ``ssl`` (patching after
``ssl`` is imported makes gevent warn).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, Any, Final
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = [
    "HOST",
    "LISTENING_PREFIX",
    "TargetApp",
    "TargetTLS",
    "main",
    "serve",
]

#: The only address the target ever binds: it is a test fixture, not a service.
HOST: Final = "127.0.0.1"
#: Start of the single line printed on stdout once the socket accepts connections.
LISTENING_PREFIX: Final = "loadkit target listening on "

_INTROSPECTION_PREFIX: Final = "/__loadkit/"
#: Where Prometheus scrapes the target (not counted as a served request).
METRICS_PATH: Final = "/metrics"
_CASE_PATH: Final = re.compile(r"/api/cases/([^/]+)")
_STATUS_PATH: Final = re.compile(r"/api/status/([^/]+)")
_MAX_DELAY_MS: Final = 60_000

_CASES: Final[tuple[dict[str, Any], ...]] = tuple(
    {
        "id": i,
        "region": f"{(i - 1) % 3 + 1:02d}",
        "status": ("open", "pending", "closed", "open")[i % 4],
        "opened": f"2024-{i:02d}-{i + 10:02d}",
    }
    for i in range(1, 11)
)
_CASES_BY_ID: Final = {case["id"]: case for case in _CASES}

_JsonResponse = tuple[int, Any, list[tuple[str, str]]]


@dataclass(frozen=True)
class TargetTLS:
    """HTTPS for the target: its certificate (PEM, the chain may follow it) and private key,
    and optionally the CA whose client certificates it requires (mutual TLS)."""

    cert: str
    key: str
    client_ca: str | None = None


class TargetMetrics:
    """The target's Prometheus metrics, in a registry of its own: the process's CPU seconds
    and resident memory (prometheus-client's process collector), requests in service now
    (handled, not waiting for an /api/work slot), the --max-concurrency those are bounded by,
    and requests served (answered, by route: /metrics and /__loadkit/ are never counted).

    prometheus-client is imported here, when the server makes its metrics: after gevent's
    patching (it imports ``ssl``; see the module docstring)."""

    def __init__(self, max_concurrency: int | None) -> None:
        import prometheus_client as prom

        self._prom = prom
        self.registry = prom.CollectorRegistry()
        prom.ProcessCollector(registry=self.registry)
        self.in_service = prom.Gauge(
            "loadkit_target_requests_in_service",
            "Requests being served now (not those waiting for an /api/work slot)",
            registry=self.registry,
        )
        self.max_concurrency = prom.Gauge(
            "loadkit_target_max_concurrency",
            "At most this many /api/work requests are served at once (--max-concurrency; "
            "0: unbounded)",
            registry=self.registry,
        )
        self.max_concurrency.set(max_concurrency or 0)
        self.served = prom.Counter(
            "loadkit_target_requests_served",
            "Requests answered (not /metrics, not /__loadkit/)",
            registry=self.registry,
        )

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around a request's service (for /api/work: while it holds its slot)."""
        self.in_service.inc()
        try:
            yield
        finally:
            self.in_service.dec()

    def exposition(self) -> tuple[bytes, str]:
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST


class _BadRequest(Exception):
    """Raised by a handler to answer 400 with the message as the error."""


class _Request:
    __slots__ = ("body", "client", "headers", "method", "path", "query")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        client: str = "",
    ) -> None:
        self.client = client
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _BadRequest(f"invalid JSON body: {exc}") from None

    def param(self, name: str) -> str | None:
        values = parse_qs(self.query).get(name)
        return values[0] if values else None


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


def _environ_headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[key.replace("_", "-").lower()] = str(value)
    return headers


def _read_body(environ: WSGIEnvironment) -> bytes:
    stream: IO[bytes] = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        return stream.read(int(length)) if int(length) else b""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return stream.read()
    return b""


class TargetApp:
    """The WSGI application. Server-agnostic: the blocking primitives are injected.

    ``sleep`` must cooperate with the server's concurrency model (``gevent.sleep`` under
    gevent), and ``work_slots`` — when given — is the semaphore that bounds concurrent
    ``/api/work`` requests; :func:`serve` wires both to gevent.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        work_slots: AbstractContextManager[Any] | None = None,
        service_ms: float = 0.0,
        record: bool = False,
        stall: tuple[float, float] | None = None,
        metrics: TargetMetrics | None = None,
    ) -> None:
        """``metrics``: the target's Prometheus metrics (``serve`` makes them), or None.
        ``stall``: (stall_ms, every_s): /api/work stops answering for stall_ms at the start
        of every every_s seconds (a garbage-collection pause, a failover): a request that
        comes meanwhile waits for the stall's end, then for its service time."""
        self._sleep = sleep
        self._work_slots = work_slots
        self._service_s = max(service_ms, 0.0) / 1000.0
        self._stall = None if stall is None else (stall[0] / 1000.0, stall[1])
        self._origin = time.monotonic()
        self._record = record
        self._metrics = metrics
        # Greenlets never switch inside these critical sections, but a lock keeps the
        # bookkeeping correct if the app is ever mounted on a threaded WSGI server.
        self._lock = threading.Lock()
        self._total = 0
        self._by_route: dict[str, int] = {}
        self._log: list[dict[str, Any]] = []
        self._tokens: dict[str, str] = {}
        self._reports: list[Any] = []
        self._routes: dict[str, dict[str, Callable[[_Request], _JsonResponse]]] = {
            "/health": {"GET": lambda r: (200, {"status": "ok"}, [])},
            "/api/login": {"POST": self._login},
            "/api/me": {"GET": self._me},
            "/api/cases": {"GET": self._cases},
            "/api/reports": {"POST": self._create_report},
            "/api/stats": {"GET": self._stats},
            "/api/delay": {"GET": self._delay},
            "/api/work": {"GET": self._work, "POST": self._work},
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = str(environ.get("PATH_INFO", "")) or "/"
        query = str(environ.get("QUERY_STRING", ""))
        headers = _environ_headers(environ)
        body = _read_body(environ)
        client = str(environ.get("REMOTE_ADDR", ""))
        request = _Request(method, path, query, headers, body, client)

        if path == METRICS_PATH and self._metrics is not None and method == "GET":
            text, content_type = self._metrics.exposition()
            start_response(
                "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(text)))]
            )
            return [text]
        if path.startswith(_INTROSPECTION_PREFIX):
            code, payload, extra = self._introspect(request)
        else:
            self._count(request)
            # /api/work with slots is in service only while it holds one (see `_work`).
            slotted = path == "/api/work" and self._work_slots is not None
            try:
                with self._in_service() if not slotted else contextlib.nullcontext():
                    code, payload, extra = self._dispatch(request)
            except _BadRequest as exc:
                code, payload, extra = 400, {"error": str(exc)}, []
            if self._metrics is not None:
                self._metrics.served.inc()

        if code in (204, 304):
            # These statuses must not carry a body; gevent rejects one outright.
            start_response(_status_line(code), extra)
            return [b""]
        data = json.dumps(payload, separators=(",", ":")).encode()
        start_response(
            _status_line(code),
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(data))),
                *extra,
            ],
        )
        return [data]

    # -- bookkeeping -------------------------------------------------------------------

    def _in_service(self) -> AbstractContextManager[None]:
        return self._metrics.serving() if self._metrics is not None else contextlib.nullcontext()

    def _count(self, request: _Request) -> None:
        route = f"{request.method} {request.path}"
        with self._lock:
            self._total += 1
            self._by_route[route] = self._by_route.get(route, 0) + 1
            if self._record:
                self._log.append(
                    {
                        "method": request.method,
                        "path": request.path,
                        "query": request.query,
                        "headers": dict(request.headers),
                        "body": request.body.decode("utf-8", errors="replace"),
                        "time": time.time(),
                        "client": request.client,
                    }
                )

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /__loadkit/requests`` returns."""
        with self._lock:
            seen: dict[str, Any] = {"total": self._total, "by_route": dict(self._by_route)}
            if self._record:
                seen["log"] = [dict(entry) for entry in self._log]
        return seen

    def reset(self) -> None:
        """Forget counts and the request log (issued tokens and reports stay)."""
        with self._lock:
            self._total = 0
            self._by_route.clear()
            self._log.clear()

    def _introspect(self, request: _Request) -> _JsonResponse:
        if request.path == "/__loadkit/requests":
            if request.method != "GET":
                return _method_not_allowed("GET")
            return 200, self.snapshot(), []
        if request.path == "/__loadkit/reset":
            if request.method != "POST":
                return _method_not_allowed("POST")
            self.reset()
            return 200, {"status": "reset"}, []
        return _not_found(request)

    # -- routing -----------------------------------------------------------------------

    def _dispatch(self, request: _Request) -> _JsonResponse:
        path = request.path
        handlers: dict[str, Callable[[_Request], _JsonResponse]] | None
        handlers = self._routes.get(path)
        if handlers is None:
            if case_match := _CASE_PATH.fullmatch(path):
                case_id = case_match.group(1)
                handlers = {"GET": lambda r: self._case(case_id)}
            elif status_match := _STATUS_PATH.fullmatch(path):
                status_code = status_match.group(1)
                handlers = {"GET": lambda r: self._status(status_code)}
            else:
                return _not_found(request)
        handler = handlers.get(request.method)
        if handler is None:
            return _method_not_allowed(*handlers)
        return handler(request)

    # -- handlers ----------------------------------------------------------------------

    def _login(self, request: _Request) -> _JsonResponse:
        data = request.json()
        if not isinstance(data, dict):
            raise _BadRequest("expected a JSON object with username and password")
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not username:
            raise _BadRequest("username (non-empty string) is required")
        if not isinstance(password, str):
            raise _BadRequest("password (string) is required")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = username
        return 200, {"token": token, "user": username}, []

    def _me(self, request: _Request) -> _JsonResponse:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            user = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            return (
                401,
                {"error": "missing or invalid bearer token"},
                [("WWW-Authenticate", "Bearer")],
            )
        return 200, {"user": user}, []

    def _cases(self, request: _Request) -> _JsonResponse:
        region = request.param("region")
        cases = [case for case in _CASES if region is None or case["region"] == region]
        return 200, cases, []

    def _case(self, raw_id: str) -> _JsonResponse:
        case = _CASES_BY_ID.get(int(raw_id)) if raw_id.isdigit() else None
        if case is None:
            return 404, {"error": f"no case {raw_id!r}"}, []
        return 200, case, []

    def _create_report(self, request: _Request) -> _JsonResponse:
        report = request.json()
        with self._lock:
            self._reports.append(report)
            report_id = len(self._reports)
        return 201, {"id": report_id, "status": "received"}, []

    def _stats(self, request: _Request) -> _JsonResponse:
        with self._lock:
            reports = len(self._reports)
        return 200, {"cases": len(_CASES), "reports": reports}, []

    def _delay(self, request: _Request) -> _JsonResponse:
        raw = request.param("ms") or "0"
        if not raw.isdigit() or int(raw) > _MAX_DELAY_MS:
            raise _BadRequest(f"ms must be an integer between 0 and {_MAX_DELAY_MS}")
        ms = int(raw)
        if ms:
            self._sleep(ms / 1000.0)
        return 200, {"slept_ms": ms}, []

    def _status(self, raw_code: str) -> _JsonResponse:
        # 1xx are interim responses (101 would even switch gevent into upgrade mode).
        if not raw_code.isdigit() or not 200 <= int(raw_code) <= 599:
            raise _BadRequest("status code must be an integer between 200 and 599")
        code = int(raw_code)
        return code, {"status": code}, []

    def _work(self, request: _Request) -> _JsonResponse:
        if self._stall is not None:
            stall_s, every_s = self._stall
            phase = (time.monotonic() - self._origin) % every_s
            if phase < stall_s:
                self._sleep(stall_s - phase)
        if self._work_slots is None:
            if self._service_s:
                self._sleep(self._service_s)
            return 200, {"status": "done"}, []
        # Waiting for a slot is queueing, not service: in service never exceeds the slots.
        with self._work_slots, self._in_service():
            if self._service_s:
                self._sleep(self._service_s)
        return 200, {"status": "done"}, []


def _not_found(request: _Request) -> _JsonResponse:
    return 404, {"error": f"not found: {request.path}"}, []


def _method_not_allowed(*allowed: str) -> _JsonResponse:
    allow = ", ".join(sorted(allowed))
    return 405, {"error": f"method not allowed; allowed: {allow}"}, [("Allow", allow)]


# -- server ------------------------------------------------------------------------------


def serve(
    port: int = 0,
    *,
    max_concurrency: int | None = None,
    service_ms: float = 0.0,
    record: bool = False,
    access_log: bool = False,
    patch: bool = True,
    on_listening: Callable[[str], None] | None = None,
    tls: TargetTLS | None = None,
    bind: str = HOST,
    stall: tuple[float, float] | None = None,
) -> None:
    """Serve the target on ``bind:port`` (127.0.0.1 unless a test puts it on a benchmark
    network it made: see `check_bind_address`) until SIGTERM or SIGINT, then return.

    Must be called from the main thread (signal handlers). With ``patch=True`` (the
    default) this monkey-patches the process with gevent first — harmless if it already
    is patched (e.g. Locust imported), but call it before the process starts threads.
    ``on_listening`` receives the base URL once the socket accepts connections. With
    ``tls``, the target speaks HTTPS only (the URL starts with ``https://``).
    """
    if patch:
        from gevent import monkey

        if not monkey.is_module_patched("socket"):
            monkey.patch_all()

    import gevent
    from gevent.lock import BoundedSemaphore
    from gevent.pywsgi import WSGIHandler, WSGIServer

    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError("max_concurrency must be at least 1")
    app = TargetApp(
        sleep=gevent.sleep,
        work_slots=BoundedSemaphore(max_concurrency) if max_concurrency else None,
        service_ms=service_ms,
        record=record,
        stall=stall,
        metrics=TargetMetrics(max_concurrency),
    )

    def handler(sock: socket.socket, address: Any, server: Any) -> Any:
        # pywsgi sends headers and body in separate writes; with Nagle on, the second
        # write waits for the client's delayed ACK, adding ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return WSGIHandler(sock, address, server)

    check_bind_address(bind)
    server = WSGIServer(
        (bind, port),
        app,
        log=sys.stderr if access_log else None,
        handler_class=handler,
        # Without SERVER_NAME, pywsgi resolves it with socket.getfqdn() on the first
        # request — a reverse-DNS lookup that can stall for seconds in a sandbox.
        environ={"SERVER_NAME": bind},
        **({} if tls is None else {"ssl_context": _server_ssl_context(tls)}),
    )
    server.start()
    url = f"{'http' if tls is None else 'https'}://{bind}:{server.server_port}"

    def shutdown() -> None:
        server.stop(timeout=1)

    handlers = [
        gevent.signal_handler(signal.SIGTERM, shutdown),
        gevent.signal_handler(signal.SIGINT, shutdown),
    ]
    try:
        if on_listening is not None:
            on_listening(url)
        server.serve_forever()
    finally:
        for installed in handlers:
            installed.cancel()
        server.stop(timeout=1)


def _server_ssl_context(tls: TargetTLS) -> Any:
    from gevent import ssl  # only after patching (see the module docstring)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    if tls.client_ca is not None:
        # The handshake fails for a client without a certificate this CA signed.
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(tls.client_ca)
    return context


def check_bind_address(address: str) -> None:
    """The target is a test fixture, never a service: it listens on loopback, or on an address
    of 198.18.0.0/15 (reserved for benchmark networks), which the tests assign only inside
    network namespaces they create. Raises ValueError for anything else."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(f"--bind takes an IP address, got {address!r}") from None
    if not (ip.is_loopback or ip in ipaddress.ip_network("198.18.0.0/15")):
        raise ValueError(
            f"--bind {address}: the target listens only on loopback or 198.18.0.0/15"
        )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadkit.demo_target",
        description="Serve loadkit's demo/test HTTP JSON API on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: pick a free one)")
    parser.add_argument(
        "--bind",
        default=HOST,
        metavar="ADDRESS",
        help="address to listen on: 127.0.0.1 (default), other loopback, or 198.18.0.0/15 "
        "(a benchmark network inside a network namespace)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        metavar="C",
        help="at most C /api/work requests are served at once; the rest queue",
    )
    parser.add_argument(
        "--service-ms",
        type=float,
        default=0.0,
        metavar="S",
        help="each /api/work request holds its slot for S milliseconds",
    )
    parser.add_argument(
        "--stall",
        nargs=2,
        type=float,
        default=None,
        metavar=("MS", "EVERY_S"),
        help="/api/work answers nothing for MS milliseconds at the start of every EVERY_S "
        "seconds (requests wait for the end of the stall)",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="keep every request (headers, body) for GET /__loadkit/requests",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="write an access log line per request"
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate")
    parser.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    parser.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        help="require client certificates signed by the CA(s) in this PEM file (mutual TLS)",
    )
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("give --tls-cert and --tls-key together")
    if args.tls_client_ca is not None and args.tls_cert is None:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key (it is for HTTPS)")
    if args.max_concurrency is not None and args.max_concurrency < 1:
        parser.error("--max-concurrency must be at least 1")
    if args.service_ms < 0:
        parser.error("--service-ms must not be negative")
    try:
        check_bind_address(args.bind)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m loadkit.demo_target``."""
    # Patch before argparse or anything else can create locks/threads that would
    # otherwise stay unpatched.
    from gevent import monkey

    monkey.patch_all()
    args = _parse_args(argv)

    def announce(url: str) -> None:
        print(f"{LISTENING_PREFIX}{url}", flush=True)

    serve(
        args.port,
        max_concurrency=args.max_concurrency,
        service_ms=args.service_ms,
        record=args.record,
        access_log=args.access_log,
        patch=False,
        on_listening=announce,
        bind=args.bind,
        stall=None if args.stall is None else (args.stall[0], args.stall[1]),
        tls=(
            None
            if args.tls_cert is None
            else TargetTLS(args.tls_cert, args.tls_key, args.tls_client_ca)
        ),
    )
    return 0
