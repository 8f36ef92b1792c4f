"""What every resource needs, passed in once by ``create_app`` (tests build it with fakes, never monkeypatch)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ledger_client import LedgerClient
from .config import Config
from .ledger_calls import LedgerCalls
from .metrics import Metrics


@dataclass
class Deps:
    config: Config
    ledger_client: LedgerClient
    accounts: Any                 # vpp_gateway.accounts.AccountService (its interface: accounts_interface.md)
    metrics: Metrics
    ledger: LedgerCalls
    clock: Callable[[], float] = field(default=time.time)

    def now(self) -> int:
        return int(self.clock())


class Resource:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
