"""The REST gateway's settings: one ``Config`` read from environment variables with documented defaults.

=====================  =============================  =======================================================
variable               default                        meaning
=====================  =============================  =======================================================
VPP_HOST               127.0.0.1                      address uvicorn binds
VPP_PORT               8080                           port uvicorn binds
VPP_DATA_DIR           ./data                         the embedded ledger (``ledger.db``) and ``accounts/``
VPP_BACKEND            embedded                       ``embedded`` (in-process ledger) or ``fabric``
VPP_FABRIC_PEER        localhost:7051                 Fabric Gateway endpoint (peer) for ``fabric``
VPP_FABRIC_TLS_CA      (empty = plaintext)            PEM file of the peer's TLS CA
VPP_FABRIC_TLS_NAME    (empty)                        TLS server name override (when the address is not in the cert)
VPP_FABRIC_CHANNEL     vppchannel                     channel name
VPP_FABRIC_COMMIT_WAIT 10                             fabric: seconds to wait for a commit status before the same
                                                      transaction is sent again (a Raft leader lost it)
VPP_FABRIC_SCAN_WAIT   60                             fabric: deadline in seconds of queries that read every lot
                                                      (GET /supply); other queries have the Gateway's 5 s
VPP_FABRIC_OTHER_PEERS (empty)                        the other organisations' peers, comma-separated
                                                      ``address|tls_ca_file|tls_name``: a submit returns once each
                                                      of them has committed it too, so a dependent transaction
                                                      is not refused by a peer that lags
VPP_FABRIC_CA_DIR_ORG1 (empty)                        folder with ``cert.pem`` and ``key.pem`` of a CA the channel
VPP_FABRIC_CA_DIR_ORG2 (empty)                        trusts for Org1MSP / Org2MSP: users' identities are issued
                                                      from it (required for ``fabric``; the gateway's own CAs
                                                      are trusted by the embedded ledger only)
VPP_CHAINCODE          vpp                            chaincode name
VPP_BLOCK_SIZE         50                             embedded: a block is cut at this many transactions ...
VPP_BLOCK_TIMEOUT_MS   25                             ... or this long after its first one (latency vs block count)
VPP_SMTP_HOST          (empty = log mails)            SMTP server; empty uses LogMailer
VPP_SMTP_PORT          587
VPP_SMTP_SENDER        vpp-ledger@localhost
VPP_SMTP_USERNAME      (empty)
VPP_SMTP_PASSWORD      (empty)                        secret: never logged
VPP_SMTP_STARTTLS      true
VPP_PUBLIC_URL         http://127.0.0.1:8080          base of links in mails
VPP_MAX_BODY_BYTES     1048576                        larger request bodies: 413 BODY_TOO_LARGE
VPP_MAX_BATCH          500                            readings per batch; more: 413 BATCH_TOO_LARGE
VPP_MAX_PAGE           200                            largest ``limit`` of a list; more: 422
VPP_RATE_PER_MIN       600                            requests per minute per principal / client address
                                                      (token bucket, burst = one minute's worth); 0 = off
VPP_WEB_DIR            (empty)                        static web app served at ``/`` when the folder exists
VPP_SSE_HEARTBEAT_S    15                             seconds between heartbeat comments on /events/stream
VPP_LOG_LEVEL          INFO
=====================  =============================  =======================================================
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["Config", "ConfigError"]

_SECRET_FIELDS = frozenset({"smtp_password"})


class ConfigError(ValueError):
    """An environment variable has a value the gateway cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, low: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < low:
        raise ConfigError(f"{name} must be at least {low}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    backend: str = "embedded"
    fabric_peer: str = "localhost:7051"
    fabric_tls_ca: str = ""
    fabric_tls_name: str = ""
    fabric_channel: str = "vppchannel"
    fabric_other_peers: tuple[tuple[str, str, str], ...] = ()
    fabric_commit_wait_s: int = 10
    fabric_scan_wait_s: int = 60
    fabric_ca_dirs: tuple[tuple[str, str], ...] = ()  # (MSP id, folder with cert.pem and key.pem)
    chaincode: str = "vpp"
    block_size: int = 50
    block_timeout_ms: int = 25
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_sender: str = "vpp-ledger@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    public_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = 1024 * 1024
    max_batch: int = 500
    max_page: int = 200
    rate_per_min: int = 600
    web_dir: str = ""
    sse_heartbeat_s: int = 15
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.backend not in ("embedded", "fabric"):
            raise ConfigError(f"VPP_BACKEND must be embedded or fabric, got {self.backend!r}")
        if not 0 < self.port < 65536 and self.port != 0:
            raise ConfigError(f"VPP_PORT must be a TCP port, got {self.port}")
        for name in ("max_body_bytes", "max_batch", "max_page", "sse_heartbeat_s"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        text = lambda name, default: env.get(name, "").strip() or default  # noqa: E731
        return cls(
            host=text("VPP_HOST", cls.host),
            port=_int(env, "VPP_PORT", cls.port),
            data_dir=Path(text("VPP_DATA_DIR", str(cls.data_dir))),
            backend=text("VPP_BACKEND", cls.backend),
            fabric_peer=text("VPP_FABRIC_PEER", cls.fabric_peer),
            fabric_tls_ca=text("VPP_FABRIC_TLS_CA", ""),
            fabric_tls_name=text("VPP_FABRIC_TLS_NAME", ""),
            fabric_channel=text("VPP_FABRIC_CHANNEL", cls.fabric_channel),
            fabric_other_peers=_peers(env.get("VPP_FABRIC_OTHER_PEERS", "")),
            fabric_commit_wait_s=_int(env, "VPP_FABRIC_COMMIT_WAIT", cls.fabric_commit_wait_s, 1),
            fabric_scan_wait_s=_int(env, "VPP_FABRIC_SCAN_WAIT", cls.fabric_scan_wait_s, 1),
            fabric_ca_dirs=tuple((msp, folder) for msp, name in (("Org1MSP", "VPP_FABRIC_CA_DIR_ORG1"),
                                                                 ("Org2MSP", "VPP_FABRIC_CA_DIR_ORG2"))
                                 if (folder := text(name, ""))),
            chaincode=text("VPP_CHAINCODE", cls.chaincode),
            block_size=_int(env, "VPP_BLOCK_SIZE", cls.block_size, 1),
            block_timeout_ms=_int(env, "VPP_BLOCK_TIMEOUT_MS", cls.block_timeout_ms, 1),
            smtp_host=text("VPP_SMTP_HOST", ""),
            smtp_port=_int(env, "VPP_SMTP_PORT", cls.smtp_port, 1),
            smtp_sender=text("VPP_SMTP_SENDER", cls.smtp_sender),
            smtp_username=text("VPP_SMTP_USERNAME", ""),
            smtp_password=env.get("VPP_SMTP_PASSWORD", ""),
            smtp_starttls=_bool(env, "VPP_SMTP_STARTTLS", cls.smtp_starttls),
            public_url=text("VPP_PUBLIC_URL", cls.public_url).rstrip("/"),
            max_body_bytes=_int(env, "VPP_MAX_BODY_BYTES", cls.max_body_bytes, 1),
            max_batch=_int(env, "VPP_MAX_BATCH", cls.max_batch, 1),
            max_page=_int(env, "VPP_MAX_PAGE", cls.max_page, 1),
            rate_per_min=_int(env, "VPP_RATE_PER_MIN", cls.rate_per_min, 0),
            web_dir=text("VPP_WEB_DIR", ""),
            sse_heartbeat_s=_int(env, "VPP_SSE_HEARTBEAT_S", cls.sse_heartbeat_s, 1),
            log_level=text("VPP_LOG_LEVEL", cls.log_level).upper(),
        )

    def public_view(self) -> dict[str, object]:
        """Every setting, secrets masked: what the gateway logs at start-up."""
        view: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            view[f.name] = ("***" if value else "") if f.name in _SECRET_FIELDS else str(value)
        return view

    def log(self, logger: logging.Logger) -> None:
        logger.info("gateway configuration: %s", " ".join(f"{k}={v}" for k, v in self.public_view().items()))


def _peers(raw: str) -> tuple[tuple[str, str, str], ...]:
    """``address|tls_ca_file|tls_name`` entries, comma-separated; the last two parts may be empty."""
    peers = []
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        parts = entry.split("|")
        if len(parts) > 3 or not parts[0]:
            raise ConfigError(f"VPP_FABRIC_OTHER_PEERS: {entry!r} is not address|tls_ca_file|tls_name")
        parts += [""] * (3 - len(parts))
        peers.append((parts[0], parts[1], parts[2]))
    return tuple(peers)
