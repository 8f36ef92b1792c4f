"""Mailers: SmtpMailer against a small SMTP receiver on 127.0.0.1 (plain, and STARTTLS with AUTH PLAIN), the
verification mail end to end over SMTP, and LogMailer."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass, field

import pytest
from accounts_support import PUBLIC_URL, link_token, new_password, refused
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from vpp_gateway.accounts import AccountService, LogMailer, Mailer, SmtpMailer


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def text(self) -> str:
        """The body as a mail client shows it (transfer encoding undone, line ends normalised)."""
        return self.message.get_content().replace("\r\n", "\n")


@dataclass
class SmtpReceiver:
    """Just enough of RFC 5321 (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) to receive smtplib's mail."""

    tls: ssl.SSLContext | None = None
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # user, password, over TLS

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        encrypted = False
        mail_from, recipients = "", []

        async def reply(*lines: str) -> None:
            writer.write("".join(f"{line}\r\n" for line in lines).encode())
            await writer.drain()

        await reply("220 receiver ESMTP")
        while line := await reader.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                offers = ["STARTTLS"] if self.tls and not encrypted else ["AUTH PLAIN"]
                await reply("250-receiver", *(f"250-{o}" for o in offers), "250 8BITMIME")
            elif verb == "STARTTLS" and self.tls:
                await reply("220 go ahead")
                await writer.start_tls(self.tls)
                encrypted = True
            elif verb == "AUTH":
                _, user, password = base64.b64decode(command.split()[2]).decode().split("\x00")
                self.logins.append((user, password, encrypted))
                await reply("235 ok")
            elif verb == "MAIL":
                mail_from, recipients = command.split(":", 1)[1].strip(" <>"), []
                await reply("250 ok")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip(" <>"))
                await reply("250 ok")
            elif verb == "DATA":
                await reply("354 end with <CRLF>.<CRLF>")
                body = []
                while (data := await reader.readline()) != b".\r\n":
                    body.append(data[1:] if data.startswith(b"..") else data)  # undo dot-stuffing
                self.messages.append(Received(mail_from, recipients, b"".join(body)))
                await reply("250 queued")
            elif verb == "QUIT":
                await reply("221 bye")
                break
            else:
                await reply("502 not implemented")
        writer.close()


async def start(receiver: SmtpReceiver) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
async def plain_smtp():
    receiver = SmtpReceiver()
    server, port = await start(receiver)
    yield receiver, port
    server.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and a client context that trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=cert.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


async def test_smtp_mailer_delivers(plain_smtp):
    receiver, port = plain_smtp
    mailer = SmtpMailer("127.0.0.1", port, "VPP Ledger <noreply@vpp.test>")
    assert isinstance(mailer, Mailer)
    await mailer.send("olga@example.org", "Hello", "line one\n.line starting with a dot\n")
    (got,) = receiver.messages
    assert got.mail_from == "noreply@vpp.test" and got.recipients == ["olga@example.org"]
    message = got.message
    assert (message["From"], message["To"], message["Subject"]) == \
        ("VPP Ledger <noreply@vpp.test>", "olga@example.org", "Hello")
    assert got.text == "line one\n.line starting with a dot\n"
    assert receiver.logins == []


async def test_smtp_mailer_starttls_then_login(certificate):
    server_tls, client_tls = certificate
    receiver = SmtpReceiver(tls=server_tls)
    server, port = await start(receiver)
    password = new_password()
    try:
        mailer = SmtpMailer("127.0.0.1", port, "noreply@vpp.test", "vpp", password, starttls=True,
                            ssl_context=client_tls)
        assert password not in repr(mailer)
        await mailer.send("pia@example.org", "Secure", "over TLS")
        assert receiver.logins == [("vpp", password, True)]  # the password crossed only the encrypted channel
        assert receiver.messages[0].text == "over TLS\n"

        untrusting = SmtpMailer("127.0.0.1", port, "noreply@vpp.test", starttls=True)  # system trust store
        with pytest.raises(ssl.SSLCertVerificationError):
            await untrusting.send("pia@example.org", "Secure", "never sent")
        assert len(receiver.messages) == 1
    finally:
        server.close()


async def test_verification_mail_over_smtp(plain_smtp, tmp_path, clock):
    receiver, port = plain_smtp
    service = AccountService.open(tmp_path / "a", mailer=SmtpMailer("127.0.0.1", port, "noreply@vpp.test"),
                                  clock=clock, public_url=PUBLIC_URL)
    try:
        password = new_password()
        info = await service.register("quentin@example.org", password)
        (mail,) = receiver.messages
        assert mail.recipients == ["quentin@example.org"]
        assert (await service.verify_email(link_token(mail.text))).account_id == info.account_id
        await service.login("quentin@example.org", password)
    finally:
        service.close()


async def test_a_mail_server_that_is_down_keeps_the_account(tmp_path, clock, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    service = AccountService.open(tmp_path / "a", mailer=SmtpMailer("127.0.0.1", closed_port, "noreply@vpp.test",
                                                                    timeout_s=2), clock=clock)
    try:
        password = new_password()
        info = await service.register("rita@example.org", password)
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and info.account_id in errors[0].getMessage()
        assert "ConnectionRefusedError" in errors[0].getMessage() and "token=" not in caplog.text
        with refused("EMAIL_NOT_VERIFIED"):  # the account exists; a resend can deliver the link later
            await service.login("rita@example.org", password)
    finally:
        service.close()


async def test_log_mailer_logs_and_keeps_the_last_messages(caplog):
    caplog.set_level(logging.INFO)
    mailer = LogMailer(keep=2)
    for n in range(3):
        await mailer.send(f"p{n}@example.org", f"subject {n}", f"body {n}")
    assert [(m.to, m.subject, m.body) for m in mailer.outbox] == \
        [("p1@example.org", "subject 1", "body 1"), ("p2@example.org", "subject 2", "body 2")]
    assert [r.getMessage() for r in caplog.records if r.name == "vpp_gateway.accounts.mail"][-1] == \
        "mail to p2@example.org: subject 2\nbody 2"
    with pytest.raises(ValueError):
        SmtpMailer("127.0.0.1", 25, "x@vpp.test", username="only-a-user")
