"""The target: nginx on 127.0.0.1 with its own config in a temporary folder, one worker,
answering /get and /post with a fixed JSON body and counting requests (stub_status)."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import BenchmarkError
from .processes import TARGET_CPU, pinned, stop_process
from .procfs import children_of

BODY = '{"id": 1, "token": "abc123", "status": "ok"}'

NGINX_CONF = """\
# Written by benchmarks/run.py: the benchmark's target, on 127.0.0.1 only.
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_buffer_size 16k;
    # Load: throughput cases.
    server {{
        listen 127.0.0.1:{port};
        location = /get {{ default_type application/json; return 200 '{body}'; }}
        # nginx reads (and discards) the body of a POST before `return` answers it.
        location = /post {{ default_type application/json; return 200 '{body}'; }}
        location = /nginx_status {{ stub_status; }}
    }}
    # Start-up case: the same answers, each request logged when it ends with its end time and
    # its duration (ms resolution): start of the first request = $msec - $request_time.
    log_format first_request '$msec $request_time $request_method $uri $status';
    server {{
        listen 127.0.0.1:{log_port};
        access_log {dir}/first_request.log first_request;
        location = /get {{ default_type application/json; return 200 '{body}'; }}
        location = /post {{ default_type application/json; return 200 '{body}'; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in text.split(".") if p.isdigit()]
    return tuple(parts) if parts else (0,)


@dataclass
class Nginx:
    workdir: Path
    pin: bool
    port: int = 0
    log_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""
    status_reads: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_url(self) -> str:
        return f"http://127.0.0.1:{self.log_port}"

    @property
    def request_log(self) -> Path:
        return self.workdir / "first_request.log"

    @staticmethod
    def binary() -> str | None:
        return shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)), None
        )

    def start(self) -> Nginx:
        binary = self.binary()
        if binary is None:
            raise BenchmarkError("nginx is not installed (Debian/Ubuntu: apt-get install -y nginx)")
        version = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
        self.version = (version.stderr or version.stdout).strip().split("/")[-1]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.log_port = free_port(), free_port()
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(dir=self.workdir, port=self.port, log_port=self.log_port, body=BODY)
        )
        command = [binary, "-p", str(self.workdir), "-c", str(conf)]
        if _version_tuple(self.version) >= (1, 19, 5):  # -e: no default error log is opened
            command += ["-e", str(self.workdir / "error.log")]
        with open(self.workdir / "stderr.log", "wb") as stderr:
            self.proc = subprocess.Popen(
                pinned(TARGET_CPU, command, self.pin),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchmarkError(
                    "nginx did not start: " + (self.workdir / "stderr.log").read_text()[-500:]
                )
            with contextlib.suppress(OSError):
                self.requests_total()
                return self
            time.sleep(0.05)
        raise BenchmarkError("nginx did not answer within 10 s")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=5)
            self.proc = None

    def worker_pids(self) -> list[int]:
        return [] if self.proc is None else children_of(self.proc.pid)

    def pids(self) -> list[int]:
        return [] if self.proc is None else [self.proc.pid, *self.worker_pids()]

    def requests_total(self) -> int:
        """Requests nginx has handled since it started (stub_status), not counting the
        status requests themselves (each reading counts itself)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/nginx_status")
            text = conn.getresponse().read().decode()
        finally:
            conn.close()
        self.status_reads += 1
        return int(text.splitlines()[2].split()[2]) - self.status_reads
