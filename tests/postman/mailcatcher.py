"""A tiny mail catcher for the Postman collection: an SMTP receiver and a read-only HTTP API, both on loopback.

The gateway has no mail backdoor; it sends its verification mails to ``VPP_SMTP_HOST:VPP_SMTP_PORT`` (set
``VPP_SMTP_STARTTLS=false``), and the collection reads them back like MailHog's API::

    GET /messages?to=<address>   ->  [{"to": [...], "from": "...", "subject": "...", "body": "..."}, ...]  oldest first
    GET /messages                ->  every message
    DELETE /messages             ->  forget them all

Run: ``python tests/postman/mailcatcher.py [--smtp-port 0] [--http-port 0]``. It prints one JSON line,
``{"smtp_port": ..., "http_port": ..., "pid": ...}``, once both listen, and runs until SIGTERM/SIGINT.
Messages are kept in memory only (a test tool, not a mail server): at most ``--keep`` of them.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import sys
from dataclasses import asdict, dataclass
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
MAX_LINE = 64 * 1024
MAX_MESSAGE = 1024 * 1024


@dataclass(frozen=True)
class CaughtMail:
    to: list[str]
    sender: str
    subject: str
    body: str

    def as_json(self) -> dict:
        doc = asdict(self)
        doc["from"] = doc.pop("sender")
        return doc


class MailBox:
    def __init__(self, keep: int = 1000) -> None:
        self.messages: list[CaughtMail] = []
        self.keep = keep

    def add(self, recipients: list[str], raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        self.messages.append(CaughtMail(recipients, str(message.get("From", "")), str(message.get("Subject", "")),
                                        body))
        del self.messages[:-self.keep]

    def to(self, address: str | None) -> list[CaughtMail]:
        if address is None:
            return list(self.messages)
        wanted = address.strip().lower()
        return [m for m in self.messages if wanted in (r.lower() for r in m.to)]


def _address(argument: str) -> str:
    """``TO:<a@b>`` / ``FROM:<a@b> SIZE=12`` -> ``a@b``."""
    value = argument.split(":", 1)[1].strip() if ":" in argument else argument
    value = value.split(" ", 1)[0] if not value.startswith("<") else value[1:value.find(">")]
    return value.strip()


class SmtpSession:
    """Just enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA (dot-unstuffed), RSET, NOOP, QUIT."""

    def __init__(self, box: MailBox, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.box, self.reader, self.writer = box, reader, writer
        self.sender: str | None = None
        self.recipients: list[str] = []

    async def reply(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()

    async def run(self) -> None:
        await self.reply("220 mailcatcher ESMTP ready")
        while True:
            line = await self.reader.readline()
            if not line:
                return
            verb, _, argument = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                await self.reply(f"250-mailcatcher\r\n250-SIZE {MAX_MESSAGE}\r\n250 8BITMIME")
            elif verb == "HELO":
                await self.reply("250 mailcatcher")
            elif verb == "MAIL":
                self.sender, self.recipients = _address(argument), []
                await self.reply("250 OK")
            elif verb == "RCPT":
                if self.sender is None:
                    await self.reply("503 MAIL first")
                else:
                    self.recipients.append(_address(argument))
                    await self.reply("250 OK")
            elif verb == "DATA":
                if not self.recipients:
                    await self.reply("503 RCPT first")
                    continue
                await self.reply("354 end with <CRLF>.<CRLF>")
                raw = await self.read_data()
                if raw is None:
                    await self.reply("552 message too large")
                else:
                    self.box.add(self.recipients, raw)
                    await self.reply("250 OK: queued")
                self.sender, self.recipients = None, []
            elif verb == "RSET":
                self.sender, self.recipients = None, []
                await self.reply("250 OK")
            elif verb == "NOOP":
                await self.reply("250 OK")
            elif verb == "QUIT":
                await self.reply("221 bye")
                return
            else:
                await self.reply("502 command not implemented")

    async def read_data(self) -> bytes | None:
        lines: list[bytes] = []
        size = 0
        while True:
            line = await self.reader.readline()
            if not line or line in (b".\r\n", b".\n"):
                break
            if line.startswith(b".."):
                line = line[1:]  # dot-stuffing
            size += len(line)
            lines.append(line)
        return None if size > MAX_MESSAGE else b"".join(lines)


async def _smtp_client(box: MailBox, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await SmtpSession(box, reader, writer).run()
    except (ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass  # a client that goes away mid-session loses only its own message
    finally:
        writer.close()


async def _http_client(box: MailBox, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One request per connection (``Connection: close``): enough for newman and curl."""
    try:
        request_line = (await reader.readline()).decode("latin-1").split()
        while (await reader.readline()).strip():
            pass  # headers: not needed
        if len(request_line) < 2:
            return
        method, target = request_line[0], urlsplit(request_line[1])
        if target.path != "/messages":
            status, doc = "404 Not Found", {"error": {"code": "ROUTE_NOT_FOUND", "message": target.path}}
        elif method == "GET":
            wanted = parse_qs(target.query).get("to", [None])[0]
            status, doc = "200 OK", [m.as_json() for m in box.to(wanted)]
        elif method == "DELETE":
            box.messages.clear()
            status, doc = "200 OK", []
        else:
            status, doc = "405 Method Not Allowed", {"error": {"code": "METHOD_NOT_ALLOWED", "message": method}}
        body = json.dumps(doc).encode()
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                     f"Connection: close\r\n\r\n".encode() + body)
        await writer.drain()
    except (ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(smtp_port: int = 0, http_port: int = 0, keep: int = 1000) -> None:
    box = MailBox(keep)
    smtp = await asyncio.start_server(lambda r, w: _smtp_client(box, r, w), HOST, smtp_port, limit=MAX_LINE)
    http = await asyncio.start_server(lambda r, w: _http_client(box, r, w), HOST, http_port, limit=MAX_LINE)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(json.dumps({"smtp_port": smtp.sockets[0].getsockname()[1], "http_port": http.sockets[0].getsockname()[1],
                      "pid": os.getpid()}), flush=True)
    async with smtp, http:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--keep", type=int, default=1000, help="messages kept in memory (oldest dropped)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.smtp_port, args.http_port, args.keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
