"""Opening what the gateway runs on, from a :class:`Config`: the account service and the ledger client.

* ``embedded``: ``<data_dir>/ledger.db`` with the vpp contract installed under ``VPP_CHAINCODE``.
* ``fabric``: a Fabric Gateway connection per identity to ``VPP_FABRIC_PEER`` (TLS with ``VPP_FABRIC_TLS_CA``,
  plaintext without), channel ``VPP_FABRIC_CHANNEL``; events are read as the operator's service identity.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..ledger_client import EmbeddedLedgerClient, FabricLedgerClient, LedgerClient
from .config import Config

__all__ = ["build_app", "open_accounts", "open_ledger"]

log = logging.getLogger("vpp_gateway.api")


def open_accounts(config: Config) -> Any:
    from ..accounts import AccountService, LogMailer, SmtpMailer

    if config.smtp_host:
        mailer = SmtpMailer(config.smtp_host, config.smtp_port, config.smtp_sender,
                            username=config.smtp_username or None, password=config.smtp_password or None,
                            starttls=config.smtp_starttls)
    else:
        log.warning("VPP_SMTP_HOST is empty: verification mails are written to the log (development only)")
        mailer = LogMailer()
    if config.backend == "fabric" and not config.fabric_ca_dirs:
        log.warning("VPP_BACKEND=fabric without VPP_FABRIC_CA_DIR_ORG1/ORG2: users' identities come from the "
                    "gateway's own CAs, which the channel does not trust; set the CA folders")
    external = {msp: (Path(folder) / "cert.pem", Path(folder) / "key.pem") for msp, folder in config.fabric_ca_dirs}
    return AccountService.open(Path(config.data_dir) / "accounts", mailer=mailer, public_url=config.public_url,
                               external_cas=external)


def open_ledger(config: Config, accounts: Any) -> LedgerClient:
    if config.backend == "embedded":
        from vpp_contract.contract import chaincode

        from ..embedded import EmbeddedLedger

        Path(config.data_dir).mkdir(parents=True, exist_ok=True)
        ledger = EmbeddedLedger.open(Path(config.data_dir) / "ledger.db", block_size=config.block_size,
                                     block_timeout=config.block_timeout_ms / 1000)
        ledger.install(config.chaincode, chaincode)
        return EmbeddedLedgerClient(ledger, config.chaincode, owns_ledger=True)

    from ..fabric import Gateway, Timeouts

    # past this wait for a commit status the client sends the same transaction again (FabricLedgerClient.submit)
    timeouts = Timeouts(commit_status=float(config.fabric_commit_wait_s))

    def connector(address: str, tls_ca_file: str, tls_name: str):
        tls_ca = Path(tls_ca_file).read_bytes() if tls_ca_file else None

        def connect(identity: Any) -> Gateway:
            return Gateway.connect(address, identity.signing_identity(), tls_root_certificates=tls_ca,
                                   ssl_target_name_override=tls_name or None, insecure=tls_ca is None,
                                   timeouts=timeouts)

        return connect

    return FabricLedgerClient(connector(config.fabric_peer, config.fabric_tls_ca, config.fabric_tls_name),
                              config.fabric_channel, config.chaincode, events_identity=accounts.operator_identity(),
                              also_committed_on=[connector(*peer) for peer in config.fabric_other_peers],
                              scan_timeout=float(config.fabric_scan_wait_s))


def build_app(config: Config):
    """The gateway as ``python -m vpp_gateway.api`` and ``asgi.app`` run it: it owns the ledger and the account
    service it opens, and closes them at ASGI lifespan shutdown."""
    from .app import create_app

    config.log(log)
    accounts = open_accounts(config)
    ledger = open_ledger(config, accounts)

    async def close() -> None:
        await ledger.close()
        accounts.close()

    return create_app(config, ledger, accounts, on_shutdown=close)
