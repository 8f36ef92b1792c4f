"""uvicorn's access log without credentials: ``?access_token=`` (the event stream's EventSource form, which cannot
send headers) is written as ``access_token=[redacted]``. Found by tests/security: at the default INFO level the
access log kept every such token, valid for its 15 minutes."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

_TOKEN_IN_QUERY = re.compile(r"((?:^|[?&])access_token=)[^&\s]*")


class RedactAccessToken(logging.Filter):
    """uvicorn logs ``(client_addr, method, full_path, http_version, status_code)``; the path loses its token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], _TOKEN_IN_QUERY.sub(r"\1[redacted]", record.args[2]), *record.args[3:])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the filter on its access handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_access_token"] = {"()": RedactAccessToken}
    config["handlers"]["access"].setdefault("filters", []).append("redact_access_token")
    return config
