"""Log a failing device loudly once, then quietly until it recovers (as Home Assistant's modbus hub does)."""

from __future__ import annotations

import logging


class FailureLog:
    def __init__(self, logger: logging.Logger, device: str) -> None:
        self.logger = logger
        self.device = device
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.failures == 1:
            self.logger.warning("%s: %s (repeats are logged at DEBUG until it recovers)", self.device, exc)
        else:
            self.logger.debug("%s: still failing (%d in a row): %s", self.device, self.failures, exc)

    def succeeded(self) -> None:
        if self.failures:
            self.logger.info("%s: recovered after %d failed reads", self.device, self.failures)
            self.failures = 0
