"""Processes the tests start: a server started with a readiness poll and always stopped, and what is left behind.

Every process started here runs in a session (process group) of its own, with a marker in its environment that
whatever it starts inherits (a kernel, TensorBoard's data server...), so that the test can tell that nothing of it
is left and kill, by process id, whatever is. `processes_left` scans /proc (Linux) for the same purpose where a test
starts processes otherwise (notebook 11's workers, run_series.py's kernels).
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

MARKER_VARIABLE = "MNIST_TEST_PROCESS"  # NAME=token in the environment of a started process and of its children
NOT_YET = (OSError, http.client.HTTPException)  # a server that does not answer yet: refused, reset, timed out...


def free_port() -> int:
    """A port that nothing listens on at 127.0.0.1, for a server the test starts (JupyterLab, TensorBoard)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_left(
    *, marker: str | None = None, parent: int | None = None, group: int | None = None, command: str | None = None
) -> list[int]:
    """The live processes (zombies aside, this one aside) that match every criterion given: `marker` in their
    environment, `parent` as their parent process, `group` as their process group, `command` in their command line."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, pgrp
            if fields[0] in "ZX" or (parent is not None and int(fields[1]) != parent):
                continue
            if group is not None and int(fields[2]) != group:
                continue
            if command is not None and command.encode() not in (entry / "cmdline").read_bytes():
                continue
            if marker is not None and marker.encode() not in (entry / "environ").read_bytes():
                continue
        except (OSError, IndexError, ValueError):  # gone meanwhile, or not ours to read
            continue
        found.append(pid)
    return found


def until(condition: Callable[[], Any], what: str, timeout: float = 30, detail: Callable[[], str] | None = None) -> Any:
    """Poll `condition` until it returns something true, and return that; fail the test with `what` (and `detail()`,
    a log, say) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s" + (f"\n{detail()}" if detail else ""))
        time.sleep(0.1)
    return result


class Started:
    """A process started by `start`: its Popen, its log (stdout and stderr) and its environment marker."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path, marker: str, name: str) -> None:
        self.process, self.log, self.marker, self.name = process, log, marker, name

    def log_text(self, limit: int = 6000, skip: tuple[str, ...] = ()) -> str:
        """The end of the log, without the lines that start with `skip`."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(line for line in text.splitlines() if not line.startswith(skip))[-limit:]

    def left(self) -> list[int]:
        """Its processes still alive: itself, and whatever it started (they carry its marker)."""
        return processes_left(marker=self.marker)

    def stop(self, shutdown: Callable[[], Any] | None = None, grace: float = 30) -> list[int]:
        """Ask it to go (`shutdown()`, an API call say, or else SIGTERM), wait `grace` seconds for it and all it
        started, then SIGKILL what is left of them, by process id. Returns the ids it had to kill (none when all
        went of their own accord). Safe to call twice."""
        if self.process.poll() is None:
            try:
                shutdown() if shutdown else self.process.terminate()
            except Exception:  # a server that no longer answers: the signals below see to it
                pass
        deadline = time.monotonic() + grace
        while (self.process.poll() is None or self.left()) and time.monotonic() < deadline:
            time.sleep(0.1)
        killed: dict[int, None] = {}
        if self.process.poll() is None:
            killed[self.process.pid] = None
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # its group: start() made it the leader of its own
            except ProcessLookupError:
                pass
        for pid in self.left():  # those that left its group (a kernel starts a session of its own)
            killed[pid] = None
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while self.left() and time.monotonic() < deadline:  # killed: gone once their parent or init reaps them
            time.sleep(0.1)
        return list(killed)


def start(
    command: Sequence[str | os.PathLike[str]],
    log: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    name: str | None = None,
) -> Started:
    """Start `command` in a session of its own, stdin closed, stdout and stderr into `log`, with a marker."""
    marker = f"{MARKER_VARIABLE}={secrets.token_hex(12)}"
    variable, _, token = marker.partition("=")
    environment = {**(os.environ if env is None else env), variable: token}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Started(process, log, marker, name or Path(str(command[0])).name)


def start_server(
    command: Sequence[str | os.PathLike[str]],
    ready: Callable[[], Any],
    log: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    name: str | None = None,
) -> Started:
    """`start` a server, then call `ready()` until it returns something true without raising OSError (refused,
    reset, timed out) or an HTTP error. Raises RuntimeError, with the log, if the server exits or is not ready
    within `timeout` seconds; whatever happens while waiting (Ctrl-C included), a server not ready is stopped."""
    server = start(command, log, cwd=cwd, env=env, name=name)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_text()}")
            try:
                if ready():
                    return server
            except NOT_YET:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name} was not ready within {timeout} s:\n{server.log_text()}")
            time.sleep(0.25)
    except BaseException:
        server.stop()
        raise
