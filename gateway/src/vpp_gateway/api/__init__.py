"""The VPP Ledger REST gateway (Falcon ASGI): ``create_app(config, ledger, accounts)``, ``Config``.

Run it with ``python -m vpp_gateway.api`` or ``uvicorn vpp_gateway.api.asgi:app``.
"""

from .app import API_PREFIX, ROUTES, create_app
from .config import Config, ConfigError
from .errors import ERROR_STATUS, ApiError

__all__ = ["API_PREFIX", "ERROR_STATUS", "ROUTES", "ApiError", "Config", "ConfigError", "create_app"]
