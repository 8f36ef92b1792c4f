"""The chaincode-as-a-service gRPC server: the peer dials in, the chaincode registers and serves."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import grpc
from fabric_protos.peer import chaincode_shim_pb2_grpc

from .handler import Chaincode, StreamHandler

log = logging.getLogger("fabric_ccaas.server")

# The peer's default gRPC limits (100 MiB) and keepalive tolerances.
_OPTIONS = [
    ("grpc.max_send_message_length", 100 * 1024 * 1024),
    ("grpc.max_receive_message_length", 100 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
]


@dataclass(frozen=True)
class ServerConfig:
    """Settings named as fabric-samples' chaincode-as-a-service examples name them."""

    address: str
    chaincode_id: str
    tls_key: bytes | None = None
    tls_cert: bytes | None = None
    client_ca_cert: bytes | None = None  # when set, the peer must present a certificate signed by it
    shutdown_grace_s: float = 5.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServerConfig:
        env = os.environ if env is None else env
        missing = [name for name in ("CHAINCODE_SERVER_ADDRESS", "CHAINCODE_ID") if not env.get(name)]
        if missing:
            raise ValueError("missing environment variable(s): " + ", ".join(missing))

        def read(name: str) -> bytes | None:
            path = env.get(name)
            return Path(path).read_bytes() if path else None

        tls_disabled = env.get("CHAINCODE_TLS_DISABLED", "true").lower() in ("1", "true", "yes")
        key, cert, ca = (None, None, None) if tls_disabled else (
            read("CHAINCODE_TLS_KEY"), read("CHAINCODE_TLS_CERT"), read("CHAINCODE_CLIENT_CA_CERT"))
        if not tls_disabled and (key is None or cert is None):
            raise ValueError("CHAINCODE_TLS_DISABLED=false needs CHAINCODE_TLS_KEY and CHAINCODE_TLS_CERT files")
        return cls(env["CHAINCODE_SERVER_ADDRESS"], env["CHAINCODE_ID"], key, cert, ca,
                   float(env.get("CHAINCODE_SHUTDOWN_GRACE", "5")))


class _ChaincodeService(chaincode_shim_pb2_grpc.ChaincodeServicer):
    def __init__(self, chaincode: Chaincode, chaincode_id: str):
        self._chaincode = chaincode
        self._chaincode_id = chaincode_id
        self.handlers: set[StreamHandler] = set()

    async def Connect(self, request_iterator, context):
        handler = StreamHandler(self._chaincode, context.write)
        self.handlers.add(handler)
        log.info("peer connected from %s", context.peer())
        try:
            await handler.register(self._chaincode_id)
            read = context.read  # cheaper than iterating request_iterator (no async-generator wrapper)
            while (message := await read()) is not grpc.aio.EOF:
                await handler.handle(message)
        finally:
            handler.close()
            self.handlers.discard(handler)
            log.info("peer connection from %s closed", context.peer())


class ChaincodeServer:
    """Serves one chaincode on ``config.address`` until :meth:`stop` (or SIGTERM with :meth:`run`)."""

    def __init__(self, chaincode: Chaincode, config: ServerConfig):
        self.config = config
        self._service = _ChaincodeService(chaincode, config.chaincode_id)
        self._server: grpc.aio.Server | None = None
        self.port: int | None = None

    async def start(self) -> None:
        server = grpc.aio.server(options=_OPTIONS)
        chaincode_shim_pb2_grpc.add_ChaincodeServicer_to_server(self._service, server)
        cfg = self.config
        if cfg.tls_key and cfg.tls_cert:
            credentials = grpc.ssl_server_credentials(
                [(cfg.tls_key, cfg.tls_cert)],
                root_certificates=cfg.client_ca_cert,
                require_client_auth=cfg.client_ca_cert is not None,
            )
            self.port = server.add_secure_port(cfg.address, credentials)
        else:
            self.port = server.add_insecure_port(cfg.address)
        if not self.port:
            raise OSError(f"cannot listen on {cfg.address}")
        await server.start()
        self._server = server
        log.info("chaincode %s listening on %s (tls=%s)", cfg.chaincode_id, cfg.address, bool(cfg.tls_key))

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new transactions, give those in flight up to ``grace`` seconds to finish, then close."""
        if self._server is None:
            return
        grace = self.config.shutdown_grace_s if grace is None else grace
        handlers = list(self._service.handlers)
        for handler in handlers:
            handler.draining = True
        in_flight = [task for handler in handlers for task in handler.in_flight]
        if in_flight:
            await asyncio.wait(in_flight, timeout=grace)
        await self._server.stop(0)
        self._server = None

    async def run(self) -> None:
        """Start, then serve until SIGTERM or SIGINT; in-flight transactions get the grace period."""
        await self.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        log.info("stopping (grace %.1fs)", self.config.shutdown_grace_s)
        await self.stop()
