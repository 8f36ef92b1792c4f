"""schemathesis against a real gateway process (embedded ledger), from the OpenAPI document it serves, signed in once
as each role (owner, admin, utility and auditor with a JWT; a utility integrator with an API key): no 5xx for any
generated request (valid or not), and every documented response matches its schema.

The CLI runs in a subprocess (its own event loop and hypothesis database, away from pytest's); its HAR report is
read back to count the requests and their status codes independently of schemathesis's verdict. Ids of a seeded
site, asset, meter, offer and account are offered to the generator half of the time (a dictionary), so that
requests reach the ledger rather than stopping at 404; the other half are generated freely.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.postman.live_gateway import (
    Accounts,
    Gateway,
    MeterKey,
    aligned_past,
    bootstrap_accounts,
    generation,
    request_json,
)

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = 5
SEED = 20261123
CHECKS = "not_a_server_error,response_schema_conformance"
# /events/stream is Server-Sent Events: it never ends, so every generated request would wait for the timeout
EXCLUDED_PATH = "/api/v1/events/stream"


def seed_ledger(gateway: Gateway, accounts: Accounts) -> dict:
    """A verified owner with a site, a generator with an admin-registered meter, minted Tgen and an open offer."""
    api = gateway.api
    admin = request_json("POST", api + "/auth/login", {"email": accounts.admin_email, "password": accounts.password})
    as_admin = {"Authorization": "Bearer " + admin["access_token"]}
    owner_email = "owner.fuzz@owner.example"
    request_json("POST", api + "/accounts", {"email": owner_email, "password": accounts.password, "role": "owner",
                                             "org": "Org1MSP"}, as_admin, 201)
    owner = request_json("POST", api + "/auth/login", {"email": owner_email, "password": accounts.password})
    as_owner = {"Authorization": "Bearer " + owner["access_token"]}
    me = request_json("GET", api + "/me", headers=as_owner)
    request_json("POST", api + "/sites", {"site_id": "st-site", "location": "Leiden"}, as_owner, 201)
    request_json("POST", api + "/sites/st-site/assets", {"asset_id": "st-pv", "kind": "generator",
                                                         "max_power_w": 6000}, as_owner, 201)
    key = MeterKey()
    request_json("POST", api + "/assets/st-pv/meters", {"meter_id": "st-m", "interval_s": 900,
                                                        "public_key_pem": key.public_pem}, as_admin, 201)
    batch = [generation("st-m", key, aligned_past(n), 400) for n in range(6, 2, -1)]
    answer = request_json("POST", api + "/readings/batches", {"readings": batch}, as_admin)
    assert answer["accepted"] == len(batch), answer
    now = int(time.time())
    offer = request_json("POST", api + "/offers", {"token": "Tgen", "quantity_wh": 500, "rate_micro_per_kwh": 200_000,
                                                   "valid_from": now - 60, "valid_until": now + 86_400},
                         as_owner, 201)
    utility = request_json("POST", api + "/auth/login", {"email": accounts.utility_email,
                                                         "password": accounts.password})
    auditor_email = "auditor.fuzz@vpp.example"
    request_json("POST", api + "/accounts", {"email": auditor_email, "password": accounts.password, "role": "auditor",
                                             "org": "Org2MSP"}, as_admin, 201)
    auditor = request_json("POST", api + "/auth/login", {"email": auditor_email, "password": accounts.password})
    bearer = {"admin": admin, "owner": owner, "utility": utility, "auditor": auditor}
    return {**{role: f"Authorization: Bearer {pair['access_token']}" for role, pair in bearer.items()},
            "owner_account": me["ledger_account"], "account_id": me["account_id"], "offer_id": offer["offer_id"]}


def config_file(path: Path, seeded: dict, api_key: str | None = None) -> Path:
    dictionaries = {"site_ids": ["st-site"], "asset_ids": ["st-pv"], "meter_ids": ["st-m"],
                    "offer_ids": [seeded["offer_id"]], "accounts": [seeded["owner_account"]]}
    bindings = {"path.site_id": "site_ids", "path.asset_id": "asset_ids", "path.meter_id": "meter_ids",
                "path.offer_id": "offer_ids", "path.account": "accounts"}
    # an API key goes through the OpenAPI-aware auth: as a bare header, schemathesis would add generated
    # Authorization headers for the other scheme (bearerAuth) to most requests, and they would stop at 401
    lines = ["[auth.openapi.apiKey]", f"api_key = {json.dumps(api_key)}", ""] if api_key else []
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.5 }}' for key, name in bindings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _describe(entry: dict) -> str:
    """One HAR entry as a request a developer can replay."""
    request, response = entry["request"], entry["response"]
    return (f"{request['method']} {request['url']} {request.get('postData', {}).get('text', '')[:300]} -> "
            f"{response['status']} {response['content'].get('text', '')[:200]}")


@pytest.fixture(scope="module")
def seeded_gateway(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("schemathesis") / "data"
    accounts = Accounts()
    bootstrap_accounts(data_dir, accounts)
    gateway = Gateway.start(data_dir)
    try:
        yield gateway, seed_ledger(gateway, accounts)
    finally:
        gateway.stop()


@pytest.mark.slow
@pytest.mark.parametrize("role", ["owner", "admin", "utility", "auditor", "utility_api_key"])
def test_no_server_errors_and_schema_conformance(seeded_gateway, role: str, tmp_path: Path):
    gateway, seeded = seeded_gateway
    reports = tmp_path / "reports"
    api_key = None
    if role == "utility_api_key":  # made now: the admin and utility runs may revoke any key they can list
        api_key = request_json("POST", gateway.api + "/api-keys", {"name": "schemathesis integrator"},
                               {"Authorization": seeded["utility"].removeprefix("Authorization: ")}, 201)["key"]
    config = config_file(tmp_path / "schemathesis.toml", seeded, api_key)
    # with its key, the integrator may revoke that very key (schemathesis finds its id in GET /api-keys): the rest
    # of the run would then test nothing but 401
    auth = ["--exclude-operation-id", "deleteApiKeysKeyId"] if api_key else ["-H", seeded[role]]
    started = time.monotonic()
    result = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(config), "run", gateway.api + "/openapi.json",
         *auth, "--checks", CHECKS, "--exclude-path", EXCLUDED_PATH,
         "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
         "--workers", "2", "--request-timeout", "20", "--continue-on-failure", "--no-shrink",
         "--report", "har,json", "--report-dir", str(reports)],
        capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    output = result.stdout[-8000:] + result.stderr[-2000:]
    har_files, json_files = list(reports.glob("har-*.json")), list(reports.glob("json-*.json"))
    assert har_files and json_files, f"no reports (exit {result.returncode}):\n{output}"
    entries = json.loads(har_files[0].read_text())["log"]["entries"]
    run = json.loads(json_files[0].read_text())
    statuses = Counter(entry["response"]["status"] for entry in entries)
    print(f"\nschemathesis as {role}: {run['test_cases']['generated']} test cases, {len(entries)} requests in "
          f"{elapsed:.1f} s, statuses {dict(sorted(statuses.items()))}")
    # a credential revoked during the run would make the rest of it test nothing but 401 (and pass)
    assert statuses[401] < len(entries) // 5, f"{statuses[401]} of {len(entries)} requests were 401"
    server_errors = [_describe(e) for e in entries if e["response"]["status"] >= 500]
    assert not server_errors, "\n".join(server_errors[:10])
    failures = [f"{f['title']} ({f['code']}): {', '.join(f['operations'])}" for f in run["failures"]]
    assert not failures and not run["errors"], f"{failures} {run['errors']}\n{output}"
    assert run["operations"]["tested"] == run["operations"]["selected"] >= 40, run["operations"]
    assert len(entries) >= 1000, f"only {len(entries)} requests: the run did not exercise the API\n{output}"
    assert result.returncode == 0, output + "\n" + gateway.log_tail()
