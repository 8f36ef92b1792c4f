"""The ASGI application for servers: ``uvicorn vpp_gateway.api.asgi:app`` (settings from the environment, see
:mod:`vpp_gateway.api.config`). Importing this module opens the ledger and the account service."""

from __future__ import annotations

from .backend import build_app
from .config import Config

app = build_app(Config.from_env())
