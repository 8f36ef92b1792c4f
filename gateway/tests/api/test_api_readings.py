"""Signed readings through the real server: per-reading results, replay, the edge bridge's API key, queries by
meter, site and location, statements in three formats, and the event stream."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
import requests
from api_support import API, MeterKey, World, aligned_past, error_code, generation


@pytest.fixture(scope="module")
def plant(world: World) -> dict:
    """Alice's site rdg-site (location Arnhem) with a 5 kW generator and its meter; an admin API key for the edge."""
    alice = world.alice
    alice.ok("POST", "/sites", 201, json={"site_id": "rdg-site", "location": "Arnhem"})
    alice.ok("POST", "/sites/rdg-site/assets", 201, json={"asset_id": "rdg-pv", "kind": "generator",
                                                          "max_power_w": 5000})
    key = MeterKey()
    world.admin.ok("POST", "/assets/rdg-pv/meters", 201, json={"meter_id": "rdg-m", "interval_s": 900,
                                                          "public_key_pem": key.public_pem})
    bridge_key = world.admin.ok("POST", "/api-keys", 201, json={"name": "edge", "role": "admin"})["key"]
    return {"key": key, "bridge": world.client(api_key=bridge_key)}


def test_batch_results_per_reading_and_replay(world: World, plant: dict):
    bridge, key = plant["bridge"], plant["key"]
    starts = [aligned_past(n) for n in (8, 7, 6)]
    readings = [generation("rdg-m", key, start, 100 * (i + 1)) for i, start in enumerate(starts)]
    forged = generation("rdg-m", MeterKey(), aligned_past(5), 999)  # signed by someone else
    unknown = generation("nope", key, aligned_past(5), 1)
    too_much = generation("rdg-m", key, aligned_past(4), 5000)  # 5 kW for 15 min is 1,250 Wh at most
    with_float = key.sign({"meter": "rdg-m", "key": 1, "kind": "generation", "start": aligned_past(3),
                           "interval": 900, "wh": 1.5})
    answer = bridge.ok("POST", "/readings/batches", json={"readings": [*readings, forged, unknown, too_much,
                                                                         with_float]})
    assert len(answer["tx_id"]) == 64 and answer["block"] >= 1
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (3, 0, 4)
    assert [r["index"] for r in answer["results"]] == list(range(7))
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 3 + ["rejected"] * 4
    assert [r["code"] for r in answer["results"][3:]] == ["BAD_SIGNATURE", "UNKNOWN_METER", "PHYSICAL_LIMIT",
                                                          "INVALID_ARGUMENT"]

    replay = bridge.ok("POST", "/readings/batches", json={"readings": readings})
    assert (replay["accepted"], replay["duplicates"], replay["rejected"]) == (0, 3, 0)
    assert {r["status"] for r in replay["results"]} == {"duplicate"}
    different = generation("rdg-m", key, starts[0], 101)
    conflict = bridge.ok("POST", "/readings/batches", json={"readings": [different]})
    assert conflict["results"][0]["code"] == "CONFLICTING_READING"

    balance = world.alice.ok("GET", "/me/balance")
    assert balance["Tgen"] >= 600 and balance["account"] == world.me["alice"]["ledger_account"]


def test_only_the_operator_submits_readings(world: World, plant: dict):
    reading = generation("rdg-m", plant["key"], aligned_past(20), 10)
    response = world.alice.post("/readings/batches", json={"readings": [reading]})
    assert (response.status_code, error_code(response)) == (403, "FORBIDDEN")
    anonymous = world.anonymous.post("/readings/batches", json={"readings": [reading]})
    assert (anonymous.status_code, error_code(anonymous)) == (401, "UNAUTHENTICATED")


def test_batch_limits(world: World, plant: dict):
    bridge = plant["bridge"]
    too_many = [generation("rdg-m", plant["key"], aligned_past(100 + n), 1) for n in range(51)]
    response = bridge.post("/readings/batches", json={"readings": too_many})
    assert (response.status_code, error_code(response)) == (413, "BATCH_TOO_LARGE")
    empty = bridge.post("/readings/batches", json={"readings": []})
    assert (empty.status_code, error_code(empty)) == (422, "VALIDATION_ERROR")
    not_a_list = bridge.post("/readings/batches", json={"readings": {"a": 1}})
    assert (not_a_list.status_code, error_code(not_a_list)) == (422, "VALIDATION_ERROR")
    junk = bridge.ok("POST", "/readings/batches", json={"readings": [{"payload": 1}, "text", 7]})
    assert [r["code"] for r in junk["results"]] == ["INVALID_ARGUMENT"] * 3  # each refused alone, not a 4xx/5xx


def test_readings_by_meter_site_and_location(world: World, plant: dict):
    key, bridge = plant["key"], plant["bridge"]
    starts = [aligned_past(n) for n in range(40, 34, -1)]
    bridge.ok("POST", "/readings/batches", json={"readings": [generation("rdg-m", key, s, 10) for s in starts]})
    window = {"from": starts[0], "to": starts[-1] + 900}

    pages, cursor = [], None
    while True:
        page = world.alice.ok("GET", "/meters/rdg-m/readings", params={**window, "limit": 4,
                                                                       **({"cursor": cursor} if cursor else {})})
        pages.append(page["readings"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [4, 2]
    assert [r["start"] for p in pages for r in p] == starts
    assert world.alice.ok("GET", "/meters/rdg-m")["last_reading"]["start"] >= starts[-1]

    site_page = world.alice.ok("GET", "/sites/rdg-site/readings", params={**window, "limit": 5})
    assert [r["start"] for r in site_page["readings"]] == starts[:5] and site_page["next_cursor"]
    site_rest = world.alice.ok("GET", "/sites/rdg-site/readings", params={**window, "limit": 5,
                                                                          "cursor": site_page["next_cursor"]})
    assert [r["start"] for r in site_rest["readings"]] == starts[5:]

    by_location = world.utility.ok("GET", "/readings", params={**window, "location": "Arnhem"})
    assert by_location["sites"] == ["rdg-site"] and len(by_location["readings"]) == 6
    owner_refused = world.alice.get("/readings", params={"location": "Arnhem"})
    assert (owner_refused.status_code, error_code(owner_refused)) == (403, "FORBIDDEN")
    other_owner = world.bob.get("/meters/rdg-m/readings")
    assert (other_owner.status_code, error_code(other_owner)) == (403, "FORBIDDEN")
    bob_site = world.bob.get("/sites/rdg-site/readings")
    assert (bob_site.status_code, error_code(bob_site)) == (403, "FORBIDDEN")

    iso = world.alice.ok("GET", "/meters/rdg-m/readings", params={"from": "2020-01-01", "to": "2020-01-01"})
    assert iso["readings"] == []
    backwards = world.alice.get("/meters/rdg-m/readings", params={"from": 2000, "to": 1000})
    assert (backwards.status_code, error_code(backwards)) == (422, "VALIDATION_ERROR")
    for bad in ({"from": "1.5"}, {"from": "yesterday"}, {"to": "1e9"}, {"limit": "0"}, {"limit": "201"},
                {"unknown": "1"}):
        response = world.alice.get("/meters/rdg-m/readings", params=bad)
        assert (response.status_code, error_code(response)) == (422, "VALIDATION_ERROR"), bad


def test_statement_json_csv_xml_have_the_ledgers_totals(world: World, plant: dict):
    key, bridge = plant["key"], plant["bridge"]
    starts = [aligned_past(n) for n in (60, 59, 58)]
    bridge.ok("POST", "/readings/batches", json={"readings": [generation("rdg-m", key, s, 200 + n)
                                                              for n, s in enumerate(starts)]})
    params = {"from": starts[0], "to": starts[-1] + 900}
    statement = world.alice.ok("GET", "/sites/rdg-site/statement", params=params)
    assert statement["totals"]["generation_wh"] == 603 == statement["totals"]["minted_tgen"]
    assert [row["start"] for row in statement["intervals"]] == starts

    as_csv = world.alice.get("/sites/rdg-site/statement", params={**params, "format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["Content-Type"].startswith("text/csv")
    assert as_csv.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows[-1]["start"] == "total"
    assert {name: int(value) for name, value in rows[-1].items() if name != "start"} == statement["totals"]
    assert [int(r["generation_wh"]) for r in rows[:-1]] == [200, 201, 202]

    as_xml = world.alice.get("/sites/rdg-site/statement", params={**params, "format": "xml"})
    assert as_xml.status_code == 200 and "attachment" in as_xml.headers["Content-Disposition"]
    root = ET.fromstring(as_xml.content)
    assert {child.tag: int(child.text) for child in root.find("totals")} == statement["totals"]
    assert len(root.find("intervals")) == 3 and root.get("site_id") == "rdg-site"

    denied = world.bob.get("/sites/rdg-site/statement", params={**params, "format": "csv"})
    assert (denied.status_code, error_code(denied)) == (403, "FORBIDDEN")
    bad_format = world.alice.get("/sites/rdg-site/statement", params={"format": "pdf"})
    assert (bad_format.status_code, error_code(bad_format)) == (422, "VALIDATION_ERROR")


def test_asset_events(world: World, plant: dict):
    page = world.alice.ok("GET", "/assets/rdg-pv/events", params={"from": aligned_past(100), "limit": 3})
    assert len(page["events"]) == 3 and page["next_cursor"]
    assert {e["type"] for e in page["events"]} == {"reading"}
    refused = world.bob.get("/assets/rdg-pv/events")
    assert (refused.status_code, error_code(refused)) == (403, "FORBIDDEN")
    missing = world.alice.get("/assets/nope/events")
    assert (missing.status_code, error_code(missing)) == (404, "NOT_FOUND")


def _sse_events(response: requests.Response, wanted: int) -> tuple[list[dict], list[str]]:
    """Read ``wanted`` ledger events (and the comments on the way) from an open SSE response."""
    events, comments, current = [], [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith(":"):
            comments.append(line)
        elif line == "":
            if current.get("event") == "ledger":
                events.append(current)
                if len(events) == wanted:
                    break
            current = {}
        else:
            name, _, value = line.partition(":")
            current[name] = value.strip()
    return events, comments


def test_event_stream_filters_by_owner_and_resumes(world: World, plant: dict):
    bob = world.bob
    bob.ok("POST", "/sites", 201, json={"site_id": "rdg-bob", "location": "Assen"})
    bob.ok("POST", "/sites/rdg-bob/assets", 201, json={"asset_id": "rdg-bob-pv", "kind": "generator",
                                                       "max_power_w": 5000})
    bob_key = MeterKey()
    world.admin.ok("POST", "/assets/rdg-bob-pv/meters", 201, json={"meter_id": "rdg-bob-m", "interval_s": 900,
                                                            "public_key_pem": bob_key.public_pem})
    first = plant["bridge"].ok("POST", "/readings/batches", json={"readings": [
        generation("rdg-m", plant["key"], aligned_past(70), 11)]})            # alice's
    second = plant["bridge"].ok("POST", "/readings/batches", json={"readings": [
        generation("rdg-bob-m", bob_key, aligned_past(70), 22)]})             # bob's
    third = plant["bridge"].ok("POST", "/readings/batches", json={"readings": [
        generation("rdg-bob-m", bob_key, aligned_past(69), 33)]})             # bob's

    url = world.server.url + API + "/events/stream"
    with requests.get(url, params={"from_block": first["block"]}, headers=bob.headers(), stream=True,
                      timeout=10) as response:
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
        events, _ = _sse_events(response, 2)
    assert [e["id"] for e in events] == [f"{second['block']}:{second['tx_id']}", f"{third['block']}:{third['tx_id']}"]
    data = json.loads(events[0]["data"])
    assert data["events"][0]["owner"] == world.me["bob"]["ledger_account"] and data["events"][0]["amount"] == 22

    # resume after the first of bob's events: only the next one comes again
    with requests.get(url, headers=bob.headers({"Last-Event-ID": events[0]["id"]}), stream=True,
                      timeout=10) as response:
        resumed, _ = _sse_events(response, 1)
    assert resumed[0]["id"] == events[1]["id"]

    with requests.get(url, params={"access_token": world.admin.token, "from_block": first["block"]},
                      stream=True, timeout=10) as response:  # EventSource style; the operator sees everyone's
        all_events, _ = _sse_events(response, 3)
    assert [e["id"].split(":")[1] for e in all_events] == [first["tx_id"], second["tx_id"], third["tx_id"]]

    bad = world.bob.get("/events/stream", headers={"Last-Event-ID": "garbage"})
    assert (bad.status_code, error_code(bad)) == (422, "VALIDATION_ERROR")


def test_event_stream_heartbeat(world: World):
    with requests.get(world.server.url + API + "/events/stream", headers=world.alice.headers(), stream=True,
                      timeout=10) as response:
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith(":"):
                assert line == ": heartbeat"
                break
