"""The Postman environment for one run: the committed ``local.postman_environment.json`` with its empty values filled
(URLs, generated passwords, ids, the meter's public key and a batch of readings signed with the meter's private key,
which stays here: the collection only carries signatures, as the edge bridge does).

``python -m tests.postman.environment [--out FILE]`` starts the whole stack for a manual session in Postman or newman
(mail catcher, a gateway on a fresh temp data directory with the admin and utility bootstrapped), writes the filled
environment and waits; Ctrl-C or SIGTERM stops both processes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.postman.live_gateway import (
    INTERVAL_S,
    Accounts,
    Gateway,
    MailCatcher,
    MeterKey,
    aligned_past,
    bootstrap_accounts,
    generation,
)

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "local.postman_environment.json"
READINGS_WH = (310, 420, 275, 515)  # one reading per interval, all under the generator's 5 kW x 15 min


def run_values(gateway: Gateway, mail: MailCatcher, accounts: Accounts) -> dict[str, str]:
    meter = MeterKey()
    starts = [aligned_past(n) for n in range(len(READINGS_WH) + 2, 2, -1)]
    readings = [generation("pm-meter-1", meter, start, wh) for start, wh in zip(starts, READINGS_WH, strict=True)]
    return {
        "baseUrl": gateway.api, "mailUrl": mail.url,
        "adminEmail": accounts.admin_email, "adminPassword": accounts.password,
        "utilityEmail": accounts.utility_email, "utilityPassword": accounts.password,
        "ownerEmail": "owner.postman@owner.example", "otherOwnerEmail": "other.postman@owner.example",
        "ownerPassword": accounts.password + "-owner",
        "siteId": "pm-site-1", "assetId": "pm-pv-1", "meterId": "pm-meter-1",
        "meterPublicKeyPemJson": json.dumps(meter.public_pem), "signedBatch": json.dumps({"readings": readings}),
        "readingsCount": str(len(READINGS_WH)), "generatedWh": str(sum(READINGS_WH)),
        "periodFrom": str(starts[0]), "periodTo": str(starts[-1] + INTERVAL_S),
    }


def write_environment(path: Path, values: dict[str, str]) -> None:
    doc = json.loads(TEMPLATE.read_text())
    known = {entry["key"] for entry in doc["values"]}
    unknown = set(values) - known
    if unknown:
        raise KeyError(f"keys missing from {TEMPLATE.name}: {sorted(unknown)}")
    for entry in doc["values"]:
        entry["value"] = values.get(entry["key"], entry["value"])
    path.write_text(json.dumps(doc, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "vpp-ledger.postman_environment.json")
    args = parser.parse_args()
    # SIGTERM and SIGINT (even when started in the background) unwind through the finally blocks below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    data_dir = Path(tempfile.mkdtemp(prefix="vpp-postman-")) / "data"
    accounts = Accounts()
    bootstrap_accounts(data_dir, accounts)
    mail = MailCatcher.start()
    try:
        gateway = Gateway.start(data_dir, smtp_port=mail.smtp_port)
        try:
            write_environment(args.out, run_values(gateway, mail, accounts))
            print(f"gateway {gateway.url}, mail catcher {mail.url}, data {data_dir}\nenvironment {args.out} "
                  "(secrets inside: keep it out of the repository)\nCtrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            gateway.stop()
    finally:
        mail.stop()


if __name__ == "__main__":
    main()
