"""A running `medcalc serve` for the tests that need a real server (the browser, curl).

Started as a child process on a free port of 127.0.0.1 (``--port 0``: the port it bound is
read from its log), with the shipped policies only; stopped by its process id. Start-up is
bounded in time, and a server that does not start fails the test with its log.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


class LiveServer:
    """`medcalc serve` in a child process; ``url`` is its base address."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "MEDCALC_POLICIES"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "medcalc.cli", "serve", "--port", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )  # `python -m` looks in its folder first: this checkout's medcalc
        self.log: list[str] = []
        self.url = self._wait()
        # keep reading the log, so that a chatty server never blocks on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait(self) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        ready = None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            found = re.search(r"running on (http://[\d.]+:\d+)", line)
            if found:
                ready = found.group(1)
            if ready and "Application startup complete" in "".join(self.log):
                return ready
        self.stop()
        pytest.fail("medcalc serve did not start:\n" + "".join(self.log))

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def serve_extra_or_skip() -> None:
    """Skip when the serve extra (FastAPI, uvicorn) is not installed."""
    pytest.importorskip("fastapi", reason='needs the serve extra: pip install "medcalc[serve]"')
    pytest.importorskip("uvicorn", reason='needs the serve extra: pip install "medcalc[serve]"')
