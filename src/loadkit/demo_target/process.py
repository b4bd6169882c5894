"""The demo target in a child process, driven from a process that does not run gevent (the
CLI's `loadkit demo`, the test suite, the benchmarks): start it on a free port, read what it
saw, reset its counts, stop it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from loadkit.demo_target.server import LISTENING_PREFIX, TargetTLS


class TargetProcess:
    """The target running in a child process, for tests and ``loadkit demo``.

    Safe to use from a process that does not run gevent: the child does its own patching.
    """

    def __init__(
        self,
        *extra_args: str,
        port: int = 0,
        record: bool = False,
        tls: TargetTLS | None = None,
        client_cert: tuple[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        """``tls`` serves HTTPS (``url`` is then ``https://``); ``client_cert`` is the
        (certificate, key) this driver presents for its own calls to a target that requires
        client certificates; ``wrapper`` prefixes the command (e.g. ``ip netns exec NS``)."""
        self.wrapper = tuple(wrapper)
        self.extra_args: tuple[str, ...] = extra_args
        self.port = port
        self.record = record
        self.tls = tls
        self.client_cert = client_cert
        self.url = ""
        self._proc: Any = None  # subprocess.Popen[str]; typed loosely to import lazily
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def command(self) -> list[str]:
        args = [sys.executable, "-m", "loadkit.demo_target", "--port", str(self.port)]
        if self.record:
            args.append("--record")
        if self.tls is not None:
            args += ["--tls-cert", self.tls.cert, "--tls-key", self.tls.key]
            if self.tls.client_ca is not None:
                args += ["--tls-client-ca", self.tls.client_ca]
        return [*self.wrapper, *args, *self.extra_args]

    @property
    def output(self) -> str:
        """Everything the child wrote to stdout and stderr so far."""
        with self._lines_lock:
            return "".join(self._lines)

    @property
    def returncode(self) -> int | None:
        """The child's exit status, or None while it runs (or before start)."""
        if self._proc is None:
            return None
        code: int | None = self._proc.poll()
        return code

    def start(self, timeout: float = 15.0) -> TargetProcess:
        """Spawn the child and wait until it listens; RuntimeError if it doesn't."""
        import subprocess

        if self._proc is not None:
            raise RuntimeError("target process already started")
        env = dict(os.environ)
        # Make the child import this very copy of loadkit, installed or not.
        src = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self._proc = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        # Drain the pipe for the child's whole life so it can never block on a full pipe.
        self._reader = threading.Thread(
            target=self._read_output, name="loadkit-target-output", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._listening.wait(0.05):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                died = self._proc.poll() is not None
                self.stop()
                reason = "exited" if died else f"did not listen within {timeout:g} s"
                raise RuntimeError(
                    f"loadkit target {reason} (command: {' '.join(self.command)});"
                    f" output:\n{self.output}"
                )
        return self

    def _read_output(self) -> None:
        stream = self._proc.stdout
        assert stream is not None
        for line in stream:
            with self._lines_lock:
                self._lines.append(line)
            if not self._listening.is_set() and line.startswith(LISTENING_PREFIX):
                self.url = line[len(LISTENING_PREFIX) :].strip()
                self._listening.set()

    def _call(self, method: str, path: str) -> dict[str, Any]:
        import urllib.request

        if not self.url:
            raise RuntimeError("target process is not running")
        data = b"" if method == "POST" else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10, context=self._ssl_context()) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    def _ssl_context(self) -> Any:
        if self.tls is None:
            return None
        import ssl  # not at the top: see the module docstring

        # The driver talks to the child it started on 127.0.0.1: it does not check the
        # certificate (which may be signed by a CA it does not know).
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.client_cert is not None:
            context.load_cert_chain(*self.client_cert)
        return context

    def requests_seen(self) -> dict[str, Any]:
        """``{"total", "by_route"[, "log"]}`` as counted by the server."""
        return self._call("GET", "/__loadkit/requests")

    def reset(self) -> None:
        self._call("POST", "/__loadkit/reset")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the child, wait up to ``timeout`` seconds, then SIGKILL it."""
        import subprocess

        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> TargetProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
