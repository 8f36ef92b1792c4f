"""Console for the account directory (run where the gateway's files are; it acts as the operator).

    python -m vpp_gateway.accounts --dir DIR create-user --email E --role admin|utility|auditor|owner [--org O]
    python -m vpp_gateway.accounts --dir DIR create-api-key --email E --name N [--role R] [--org O]

The password comes from the ``VPP_PASSWORD`` environment variable or a prompt, never from the command line.
Prints JSON on stdout; refusals go to stderr as ``CODE: message`` with exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from dataclasses import asdict

from .errors import AuthError
from .mailers import LogMailer
from .models import ORGS, ROLES
from .service import AccountService

DEFAULT_ORG = {"admin": "Org1MSP", "owner": "Org1MSP", "utility": "Org2MSP", "auditor": "Org2MSP"}


def _password() -> str:
    password = os.environ.get("VPP_PASSWORD")
    if password:
        return password
    try:
        first = getpass.getpass("Password: ")
        again = getpass.getpass("Repeat: ")
    except EOFError:
        raise AuthError("INVALID_ARGUMENT", "no password: set VPP_PASSWORD or run in a terminal") from None
    if again != first:
        raise AuthError("INVALID_ARGUMENT", "the passwords differ")
    return first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vpp_gateway.accounts", description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, help="the account directory (as the gateway's config names it)")
    commands = parser.add_subparsers(dest="command", required=True)
    user = commands.add_parser("create-user", help="create a verified account (password from VPP_PASSWORD)")
    user.add_argument("--email", required=True)
    user.add_argument("--role", required=True, choices=ROLES)
    user.add_argument("--org", choices=list(ORGS), help="default: Org1MSP for admin/owner, Org2MSP otherwise")
    key = commands.add_parser("create-api-key", help="create an API key for an account; prints it once")
    key.add_argument("--email", required=True, help="the account that owns the key")
    key.add_argument("--name", required=True)
    key.add_argument("--role", choices=ROLES, help="default: the account's role (other roles: admins only)")
    key.add_argument("--org", choices=list(ORGS), help="default: the account's organisation")
    return parser


async def _run(args: argparse.Namespace) -> dict:
    with AccountService.open(args.dir, mailer=LogMailer()) as service:
        if args.command == "create-user":
            org = args.org or DEFAULT_ORG[args.role]
            info = await service.create_account(service.console_principal(), args.email, _password(), args.role, org)
            return asdict(info)
        info, key = await service.create_api_key(service.console_principal(args.email), args.name, args.role,
                                                 args.org)
        return {**asdict(info), "key": key, "note": "the key is shown once; store it now"}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result = asyncio.run(_run(args))
    except AuthError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
