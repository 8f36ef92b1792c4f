"""``python -m vpp_gateway.embedded audit <ledger.db>``: verify the hash chain and the world state.

Exit status: 0 consistent, 1 a problem was found (named with its block), 2 usage error or unreadable file.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

from .audit import audit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vpp_gateway.embedded", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    audit_parser = commands.add_parser("audit", help="re-verify the hash chain and rebuild the state from blocks")
    audit_parser.add_argument("path", help="the ledger's SQLite file")
    args = parser.parse_args(argv)
    try:
        report = audit(args.path)
    except (FileNotFoundError, sqlite3.DatabaseError) as exc:
        print(f"cannot audit {args.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
