"""A site statement as CSV or XML (invoice data). The figures are the ledger's GetSiteStatement, unchanged: the
export only lays them out (one row per interval and a totals row), so its totals equal the ledger's."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from typing import Any

from .models.statements import STATEMENT_FIELDS

__all__ = ["attachment_name", "to_csv", "to_xml"]


def attachment_name(statement: dict[str, Any], extension: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", statement["site_id"])[:64]
    return f"statement-{safe}-{statement['from']}-{statement['to']}.{extension}"


def to_csv(statement: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["start", *STATEMENT_FIELDS])
    for row in statement["intervals"]:
        writer.writerow([row["start"], *(row[name] for name in STATEMENT_FIELDS)])
    writer.writerow(["total", *(statement["totals"][name] for name in STATEMENT_FIELDS)])
    return out.getvalue()


def to_xml(statement: dict[str, Any]) -> str:
    root = ET.Element("statement", {"site_id": statement["site_id"], "owner": statement["owner"],
                                    "from": str(statement["from"]), "to": str(statement["to"]), "unit": "Wh"})
    intervals = ET.SubElement(root, "intervals")
    for row in statement["intervals"]:
        interval = ET.SubElement(intervals, "interval", {"start": str(row["start"])})
        for name in STATEMENT_FIELDS:
            ET.SubElement(interval, name).text = str(row[name])
    totals = ET.SubElement(root, "totals")
    for name in STATEMENT_FIELDS:
        ET.SubElement(totals, name).text = str(statement["totals"][name])
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
