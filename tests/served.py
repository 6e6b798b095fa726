"""A real server for the load and fault tests: `supplybid serve` on 127.0.0.1, as deployed.

The port comes from SUPPLYBID_TEST_PORTS (a range, default 8600-8699), the first one free.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

SUPPLYBID = str(Path(sys.executable).parent / "supplybid")
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Served:
    """A running server: where it listens and its process id (to read its memory)."""

    base_url: str
    pid: int

    def rss_bytes(self) -> int:
        """The server process's resident memory now."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")


def free_port(variable: str = "SUPPLYBID_TEST_PORTS", default: str = "8600-8699") -> int:
    """The first free port on the loopback of the range the variable names (`first-last`)."""
    first, _, last = os.environ.get(variable, default).partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {variable}")


def _says_listening(log: IO[bytes], kept: str | None, base_url: str) -> bool:
    # pread: the server writes through the same open file, so moving its offset (seek)
    # would make it write over the start of its log.
    text = Path(kept).read_bytes() if kept else os.pread(log.fileno(), 1 << 20, 0)
    said = text.decode(errors="replace")
    return f"running on {base_url} " in said and "error while attempting to bind" not in said


SERVED_AUDIT_KEY = "a-test-servers-audit-key-0123456789abcdef"
"""The audit key of the servers and workers the tests start (they refuse to start without)."""


@contextmanager
def serve(database_url: str, **settings: str | int) -> Iterator[Served]:
    """Serve the API on the database (tables made already), with SUPPLYBID_* settings
    (`workers=N`: `supplybid serve --workers N`)."""
    workers = int(settings.pop("workers", 1))
    port = free_port()
    env = {**os.environ, "SUPPLYBID_DATABASE_URL": database_url, "SUPPLYBID_JOB_QUEUE": "embedded"}
    env.setdefault("SUPPLYBID_AUDIT_KEY", SERVED_AUDIT_KEY)  # the server refuses to start without
    env.update({f"SUPPLYBID_{name.upper()}": str(value) for name, value in settings.items()})
    # A file, not a pipe (a full pipe would stall the server); kept where
    # SUPPLYBID_TEST_SERVER_LOG names one.
    kept = os.environ.get("SUPPLYBID_TEST_SERVER_LOG")
    log = open(kept, "ab") if kept else tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [SUPPLYBID, "serve", "--host", "127.0.0.1", "--port", str(port)]
        + (["--workers", str(workers)] if workers > 1 else []),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the server stopped: {log.read().decode()[-2000:]}")
            try:
                # Ours only once it says it listens there: another process may hold the port
                # (the range is shared), and its /healthz would answer as well.
                if _says_listening(log, kept, base_url) and (
                    httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
                ):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.2)
        yield Served(base_url=base_url, pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
