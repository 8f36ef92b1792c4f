"""Outgoing mail: :class:`LogMailer` for development (the message goes to the log and ``.outbox``) and
:class:`SmtpMailer` (smtplib in a worker thread, optional STARTTLS and login)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

__all__ = ["LogMailer", "Mail", "Mailer", "SmtpMailer"]

log = logging.getLogger("vpp_gateway.accounts.mail")


@runtime_checkable
class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class LogMailer:
    """Development mailer. It logs the whole message on purpose (a developer follows the link from the log), so
    only use it where the log is as private as a mailbox. Keeps the last ``keep`` messages in ``outbox``."""

    def __init__(self, keep: int = 100) -> None:
        self.outbox: list[Mail] = []
        self._keep = keep

    async def send(self, to: str, subject: str, body: str) -> None:
        log.info("mail to %s: %s\n%s", to, subject, body)
        self.outbox.append(Mail(to, subject, body))
        del self.outbox[:-self._keep]


class SmtpMailer:
    """Sends through an SMTP server. ``starttls=True`` upgrades the connection before logging in (certificate
    checked with ``ssl_context``, the system's trust store by default); the password is never logged."""

    def __init__(self, host: str, port: int, sender: str, username: str | None = None, password: str | None = None,
                 starttls: bool = False, *, timeout_s: float = 10.0, ssl_context: ssl.SSLContext | None = None) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.host, self.port, self.sender = host, port, sender
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout_s = timeout_s
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SmtpMailer({self.host!r}, {self.port}, {self.sender!r}, starttls={self.starttls})"

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        await asyncio.to_thread(self._deliver, message)
        log.info("mail to %s: %s (sent via %s:%d)", to, subject, self.host, self.port)

    def _deliver(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self._ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self._password or "")
            smtp.send_message(message)
