"""Headless Chromium and local web servers for the real-browser tests.

Needs Debian's chromium (`apt-get install chromium`; .ci/run installs it) and the playwright package;
Playwright's own browser download is not used. Servers bind 127.0.0.1 on a free port.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_server(
    command: list[str], cwd: Path, env: dict[str, str], ready_url: str, log: Path, timeout_s: float = 90
) -> Iterator[Path]:
    """Run a server in its own process group until `ready_url` answers 200, yield its log, then stop it."""
    with log.open("w+") as output:
        server = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                assert server.poll() is None, f"{command} exited with {server.returncode}:\n{log.read_text()}"
                try:
                    with urllib.request.urlopen(ready_url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, f"{command} did not start:\n{log.read_text()}"
                time.sleep(0.5)
            yield log
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
