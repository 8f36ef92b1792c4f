"""Errors of the edge, each with a machine-readable code."""


class EdgeError(Exception):
    code = "EDGE_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"


class TransportError(EdgeError):
    """The bus or link failed (connection refused, timeout, serial error): retry later."""

    code = "TRANSPORT"


class DeviceError(EdgeError):
    """The device answered with an error (Modbus exception response, NAK): the request or map is wrong."""

    code = "DEVICE"


class ParseError(EdgeError):
    """A telegram, readout or frame failed its checks (CRC, BCC, length, syntax)."""

    code = "PARSE"


class ConfigError(EdgeError):
    """A register map or site configuration failed validation at load."""

    code = "CONFIG"
