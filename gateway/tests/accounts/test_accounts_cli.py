"""The console: ``python -m vpp_gateway.accounts`` creates users and API keys; passwords never on the command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from accounts_support import new_password
from vpp_gateway.accounts import AccountService, LogMailer
from vpp_gateway.accounts.__main__ import main


def console(*args: str, password: str | None, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VPP_PASSWORD"}
    if password is not None:
        env["VPP_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "vpp_gateway.accounts", *args], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)


def test_create_user_and_api_key(tmp_path, capsys):
    folder = str(tmp_path / "accounts")
    password = new_password()
    done = console("--dir", folder, "create-user", "--email", "Grid@Utility.test", "--role", "utility",
                   password=password)
    assert done.returncode == 0, done.stderr
    user = json.loads(done.stdout)
    assert (user["email"], user["role"], user["org"], user["verified"]) == \
        ("grid@utility.test", "utility", "Org2MSP", True)
    assert password not in done.stdout + done.stderr

    assert main(["--dir", folder, "create-api-key", "--email", "grid@utility.test", "--name", "SCADA"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["role"], created["org"], created["name"]) == ("utility", "Org2MSP", "SCADA")

    assert main(["--dir", folder, "create-api-key", "--email", "grid@utility.test", "--name", "x",
                 "--role", "admin"]) == 2
    assert capsys.readouterr().err.startswith("FORBIDDEN: ")
    assert main(["--dir", folder, "create-api-key", "--email", "nobody@utility.test", "--name", "x"]) == 2
    assert capsys.readouterr().err.startswith("NOT_FOUND: ")

    async def use_them() -> None:
        with AccountService.open(folder, mailer=LogMailer()) as service:
            who = await service.authenticate_api_key(created["key"])
            assert (who.account_id, who.role, who.org) == (user["account_id"], "utility", "Org2MSP")
            service.authenticate_bearer((await service.login("grid@utility.test", password)).access_token)

    asyncio.run(use_them())  # main() runs its own event loop, so this test is synchronous


def test_no_password_on_the_command_line(tmp_path):
    folder = str(tmp_path / "accounts")
    with pytest.raises(SystemExit) as exited:
        main(["--dir", folder, "create-user", "--email", "a@vpp.test", "--role", "admin", "--password", "x"])
    assert exited.value.code == 2
    refused = console("--dir", folder, "create-user", "--email", "a@vpp.test", "--role", "admin", password=None)
    assert refused.returncode == 2 and "INVALID_ARGUMENT: no password" in refused.stderr
    weak = console("--dir", folder, "create-user", "--email", "a@vpp.test", "--role", "admin",
                   password="1234567890")
    assert weak.returncode == 2 and weak.stderr.startswith("WEAK_PASSWORD: ")
