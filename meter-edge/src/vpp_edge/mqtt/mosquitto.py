"""A private Mosquitto broker on a loopback port, for tests, benchmarks and the demo (never the system's 1883).

Configured so that nothing may be lost (PITFALLS): persistence on in its own directory, ``max_queued_messages``
raised far above the default 1,000 (which drops QoS 1 messages for a subscriber that falls behind) and an in-flight
window large enough for the bridge's batches. Mosquitto writes its persistence file on shutdown and every
``autosave_interval`` seconds: a graceful stop (SIGTERM) keeps every queued message; ``kill -9`` of the broker
loses what arrived since the last save.

Every process is started and stopped by its pid.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

BINARY = "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    def __init__(self, workdir: str | Path, port: int | None = None, *, max_inflight: int = 1000,
                 max_queued: int = 1_000_000, autosave_interval: int = 60, binary: str = BINARY) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.max_inflight = max_inflight
        self.max_queued = max_queued
        self.autosave_interval = autosave_interval
        self.binary = binary
        self.process: subprocess.Popen | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_config(self) -> None:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("\n".join([
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            f"user {getpass.getuser()}",         # stay the user that started it (no privilege switch)
            "persistence true",
            f"persistence_location {data}/",
            f"autosave_interval {self.autosave_interval}",
            f"max_queued_messages {self.max_queued}",
            "max_queued_bytes 0",
            f"max_inflight_messages {self.max_inflight}",
            "persistent_client_expiration 14d",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "",
        ]))

    def start(self, timeout: float = 10.0) -> Mosquitto:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("mosquitto is already running")
        self.write_config()
        self.process = subprocess.Popen([self.binary, "-c", str(self.config_path)], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {err} {self._log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout} s")
            time.sleep(0.02)
        return self

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text()[-2000:]
        except OSError:
            return ""

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful: SIGTERM (mosquitto saves its persistence file), then wait."""
        if self.process is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close()

    def kill(self) -> None:
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait()
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the broker accepts TCP data into its socket buffers but answers nothing (a stalled broker)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
