"""Case 10: what Prometheus scrapes cost the load generator. `loadkit run get.yaml
--metrics-port P` scraped 50 times a second (by a thread of this script, on its own core)
against the same `loadkit run get.yaml` without metrics, head to head on the generator's core."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

from ..measure import run_seconds
from ..workspace import Workspace
from .throughput import Command, Comparison, compare

SCRAPES_PER_S = 50


class Scraper:
    """Scrapes http://127.0.0.1:port/metrics `SCRAPES_PER_S` times a second until stopped
    (nothing listens between runs: those attempts are not counted)."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.done = threading.Event()
        self.scrapes = 0
        self.thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def __enter__(self) -> Scraper:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        interval = 1.0 / SCRAPES_PER_S
        next_at = time.monotonic()
        while not self.done.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    response.read()
                self.scrapes += 1
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            next_at += interval
            self.done.wait(max(0.0, next_at - time.monotonic()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def case_metrics(ws: Workspace) -> Comparison:
    options = ws.options
    seconds, users = run_seconds(options), options.users
    port = _free_port()

    def run(scraped: bool) -> Command:
        def command(attempt: int, url: str) -> list[str]:
            tag = "scraped" if scraped else "plain"
            out = ws.new_folder(f"case10-{tag}-{attempt}")
            extra = ["--metrics-port", str(port)] if scraped else []
            return [*ws.loadkit_run("get.yaml", seconds, users, url, out), *extra]

        return command

    with Scraper(port) as scraper:
        result = compare(
            ws, "10",
            f"loadkit run get.yaml, {SCRAPES_PER_S} scrapes/s", run(scraped=True),
            "loadkit run get.yaml, no metrics", run(scraped=False),
            a_is_loadkit_run=True, b_is_loadkit_run=True,
        )  # fmt: skip
    print(f"  {scraper.scrapes} scrapes answered", flush=True)
    return result
