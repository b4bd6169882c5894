"""Start the Locust process first, tell it what to run later.

Importing Locust (and gevent) takes about half a second, and so does loading the scenario here
(pydantic, YAML, compiling). `loadkit run` therefore starts the harness process before it even
reads the scenario: the child imports Locust while the parent validates and compiles, then
receives its command line on standard input. Start-up costs the longer of the two, not both.
If the scenario turns out to be invalid, the child is stopped before it runs anything.

Only the standard library here: this module is imported before everything else in `loadkit run`.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from loadkit.harness_protocol import PROGRESS_FD_ENV, WAIT_FOR_COMMAND_ENV


class LocustProcess:
    """The harness child, started early; `begin` hands it its Locust arguments."""

    def __init__(
        self, process: subprocess.Popen[bytes], progress_fd: int, early_output: IO[bytes]
    ) -> None:
        self.process = process
        self.progress_fd = progress_fd
        """Read end of the pipe the child writes one JSON progress line a second to."""
        self.early_output = early_output
        """What the child printed before it was told where its log goes (normally nothing)."""
        self.begun = False

    @classmethod
    def start(cls) -> LocustProcess:
        read_fd, write_fd = os.pipe()
        early = tempfile.TemporaryFile()  # noqa: SIM115  (closed by discard())
        env = {**os.environ, PROGRESS_FD_ENV: str(write_fd), WAIT_FOR_COMMAND_ENV: "1"}
        process = subprocess.Popen(
            [sys.executable, "-m", "loadkit.harness"],
            stdin=subprocess.PIPE,
            stdout=early,
            stderr=subprocess.STDOUT,
            env=env,
            pass_fds=(write_fd,),
            # Own process group: a terminal's Ctrl-C reaches only us, and we stop Locust once.
            start_new_session=True,
        )
        os.close(write_fd)
        return cls(process, read_fd, early)

    def begin(
        self, argv: Sequence[str], *, log: Path, env: dict[str, str], python_path: Sequence[str]
    ) -> None:
        """Run Locust with `argv`; its output goes to `log`."""
        command = {"argv": list(argv), "log": str(log), "env": env}
        self._send(json.dumps({**command, "python_path": list(python_path)}))
        self.begun = True

    def discard(self) -> None:
        """Tell a child that was never begun to exit, and clean up."""
        if not self.begun:
            # It has only been importing Locust: nothing to finish, nothing to lose.
            self.process.kill()
            self.process.wait()
            if self.process.stdin is not None:
                self.process.stdin.close()
            with contextlib.suppress(OSError):
                os.close(self.progress_fd)
        self.early_output.close()

    def early_text(self) -> str:
        self.early_output.seek(0)
        return self.early_output.read().decode("utf-8", errors="replace")

    def _send(self, line: str) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(line.encode("utf-8") + b"\n")
            stdin.close()
        except BrokenPipeError:
            pass  # the child died early; its output says why
