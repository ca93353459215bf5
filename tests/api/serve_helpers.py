"""Real ``bordermatch serve`` processes on loopback ports, for the tests that need more than
one process or a SIGKILL (the in-process TestClient cannot show either)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One ``bordermatch serve`` process; ``kill`` is SIGKILL (``kill -9``)."""

    root: Path
    env: dict[str, str]
    port: int
    name: str = "server"  # its logs: ROOT/NAME-RUN.log
    proc: subprocess.Popen | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.launch()
        self.wait_healthy()

    def launch(self) -> None:
        """Start the process without waiting for it (start several, then wait for each)."""
        self.runs += 1
        log = open(self.root / f"{self.name}-{self.runs}.log", "wb")  # noqa: SIM115 (lives with proc)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from bordermatch.cli import main; main()", "serve",
             "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_healthy(self) -> None:
        import httpx

        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer /healthz: {self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self) -> str:
        logs = sorted(self.root.glob(f"{self.name}-*.log"))
        text = "\n".join(p.read_text(errors="replace") for p in logs)
        return text[-3000:]
