"""``python -m vpp_gateway.api``: serve the gateway with uvicorn (uvloop) on VPP_HOST:VPP_PORT."""

from __future__ import annotations

import logging
import signal
import sys

import uvicorn

from .access_log import uvicorn_log_config
from .backend import build_app
from .config import Config


def main() -> None:
    config = Config.from_env()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(config)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal under the handlers it found:
    # exit 0 there, so a supervisor sees a clean stop instead of "killed by signal 15"
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: sys.exit(0))
    uvicorn.run(app, host=config.host, port=config.port, loop="uvloop", lifespan="on",
                log_level=config.log_level.lower(), proxy_headers=False, log_config=uvicorn_log_config())


if __name__ == "__main__":
    main()
