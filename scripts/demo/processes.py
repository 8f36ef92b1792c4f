"""Child processes of the demo: started in their own session (Ctrl-C reaches the demo only, which then stops them in
order), logging to ``<data>/logs/<name>.log``, waited for with a timeout, stopped by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def bindable(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:``port`` right now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class StartError(RuntimeError):
    """A component did not become healthy; the message carries the last lines of its log."""


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:]) or "(empty log)"


class Child:
    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self._terminated = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> Child:
        self._terminated = False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env, cwd=self.cwd, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until(self, healthy: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive():
                code = self.process.returncode if self.process else None
                raise StartError(f"{self.name} exited with status {code} before {what}; last lines of "
                                 f"{self.log_path}:\n{log_tail(self.log_path)}")
            try:
                if healthy():
                    return
            except Exception:  # a probe that fails is "not yet"
                pass
            if time.monotonic() > deadline:
                raise StartError(f"{self.name}: no {what} within {timeout_s:.0f} s; last lines of "
                                 f"{self.log_path}:\n{log_tail(self.log_path)}")
            time.sleep(0.2)

    def log_contains(self, text: str) -> bool:
        try:
            return text in self.log_path.read_text(errors="replace").rsplit("===== ", 1)[-1]
        except OSError:
            return False

    def terminate(self) -> None:
        """SIGTERM by pid, once (a second one could cut a graceful stop short)."""
        if self.alive() and not self._terminated:
            self._terminated = True
            os.kill(self.process.pid, signal.SIGTERM)

    def stop(self, timeout_s: float = 20.0) -> str:
        """SIGTERM by pid, wait; SIGKILL if it does not exit in time. Returns what happened."""
        if self.process is None:
            return "not running"
        if not self.alive():
            return f"{'stopped' if self._terminated else 'had exited'} ({self.process.returncode})"
        self.terminate()
        try:
            code = self.process.wait(timeout_s)
            return f"stopped ({code})"
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return f"killed after {timeout_s:.0f} s"
