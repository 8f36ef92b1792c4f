"""Unit tests of single layers: the error table, ledger-error mapping and retries (a fake ledger through
falcon's ASGI conductor), the rate limiter, configuration, cursors, body checks, metrics, event filtering."""

from __future__ import annotations

import logging
import re

import falcon.testing
import pytest
from vpp_contract.codes import Code
from vpp_gateway.accounts import Principal
from vpp_gateway.accounts.errors import STATUS as AUTH_STATUS
from vpp_gateway.api import ERROR_STATUS, ApiError, Config, ConfigError, create_app
from vpp_gateway.api.body import MAX_DEPTH, check_shape, parse_json
from vpp_gateway.api.metrics import Metrics
from vpp_gateway.api.pagination import decode_cursor, page_after
from vpp_gateway.api.resources.events import visible_events
from vpp_gateway.api.security import RateLimiter
from vpp_gateway.api.statement_export import to_csv, to_xml
from vpp_gateway.ledger_client import Committed, ConflictError, ContractError, LedgerError, UnavailableError

# -- the one error table ----------------------------------------------------------------------------------------


def test_every_chaincode_code_has_one_status():
    missing = [code.value for code in Code if code.value not in ERROR_STATUS]
    assert missing == []
    assert all(400 <= ERROR_STATUS[code.value] < 500 for code in Code)


def test_every_accounts_code_has_one_status():
    assert sorted(set(AUTH_STATUS) - set(ERROR_STATUS)) == []
    # the gateway answers with its table; the accounts service must agree with it (one code, one status)
    differing = {code: (AUTH_STATUS[code], ERROR_STATUS[code]) for code in AUTH_STATUS
                 if AUTH_STATUS[code] != ERROR_STATUS[code]}
    assert differing == {}


# -- a fake ledger behind the real app --------------------------------------------------------------------------

class FakeIdentity:
    creator = b"fake"


PRINCIPALS = {
    "admin": Principal("acc_admin", "Org1MSP:acc_admin", "a@x", "Org1MSP", "admin", "jwt", None, FakeIdentity()),
    "owner": Principal("acc_owner", "Org1MSP:acc_owner", "o@x", "Org1MSP", "owner", "jwt", None, FakeIdentity()),
}


class FakeAccounts:
    def authenticate_bearer(self, token: str) -> Principal:
        return PRINCIPALS[token]

    def operator_identity(self) -> FakeIdentity:
        return FakeIdentity()


class ScriptedLedger:
    """Answers or raises what the test scripted, in order; records the calls."""

    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, str, tuple]] = []

    def _next(self, kind: str, function: str, args) -> object:
        self.calls.append((kind, function, tuple(args)))
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    async def evaluate(self, function, args, identity, transient=None) -> bytes:
        return self._next("evaluate", function, args)

    async def submit(self, function, args, identity, transient=None) -> Committed:
        return self._next("submit", function, args)

    async def events(self, start_block=0):
        yield  # pragma: no cover

    async def close(self) -> None:
        pass


def conductor(ledger: ScriptedLedger, **config) -> falcon.testing.ASGIConductor:
    return falcon.testing.ASGIConductor(create_app(Config(**config), ledger, FakeAccounts()))


DEPOSIT = {"account": "Org1MSP:acc_owner", "amount_micro": 5}
ADMIN = {"Authorization": "Bearer admin"}


async def test_conflicts_are_retried_as_new_transactions():
    ledger = ScriptedLedger(ConflictError("mvcc", tx_id="t1", reason="MVCC_READ_CONFLICT"),
                            ConflictError("mvcc", tx_id="t2", reason="MVCC_READ_CONFLICT"),
                            Committed(b'{"account": "Org1MSP:acc_owner", "credit_micro": 5}', "t3", 9))
    async with conductor(ledger) as client:
        response = await client.simulate_post("/api/v1/credit/deposits", json=DEPOSIT, headers=ADMIN)
    assert response.status_code == 200 and response.headers["X-Tx-Id"] == "t3" and response.headers["X-Block"] == "9"
    assert [c[1] for c in ledger.calls] == ["DepositCredit"] * 3
    assert ledger.calls[0][2] == ("Org1MSP:acc_owner", "5")  # integers go to the contract as decimal text


async def test_conflict_after_the_retries_is_409():
    ledger = ScriptedLedger(*[ConflictError("mvcc", tx_id=f"t{n}", reason="MVCC_READ_CONFLICT") for n in range(4)])
    async with conductor(ledger) as client:
        response = await client.simulate_post("/api/v1/credit/deposits", json=DEPOSIT, headers=ADMIN)
    assert response.status_code == 409 and response.json["error"]["code"] == "MVCC_CONFLICT"
    assert response.headers["Retry-After"] == "1" and len(ledger.calls) == 4


@pytest.mark.parametrize(("error", "status", "code"), [
    (UnavailableError("no answer", tx_id="t9", reason="DEADLINE_EXCEEDED"), 503, "LEDGER_UNAVAILABLE"),
    (ContractError("needs admin", code="FORBIDDEN"), 403, "FORBIDDEN"),
    (ContractError("x", code="INSUFFICIENT_CREDIT"), 402, "INSUFFICIENT_CREDIT"),
    (ContractError("argument 2: not an integer"), 422, "CHAINCODE_REJECTED"),
    (ContractError("x", code="SOMETHING_NEW"), 400, "SOMETHING_NEW"),
    (LedgerError("peer said odd things", reason="ENDORSEMENT_FAILED"), 502, "LEDGER_ERROR"),
])
async def test_ledger_errors_map_to_one_status(error, status, code):
    async with conductor(ScriptedLedger(error)) as client:
        response = await client.simulate_post("/api/v1/credit/deposits", json=DEPOSIT, headers=ADMIN)
    assert (response.status_code, response.json["error"]["code"]) == (status, code)
    if code == "LEDGER_UNAVAILABLE":
        assert response.headers["Retry-After"] == "2" and response.json["error"]["tx_id"] == "t9"


async def test_rich_query_on_leveldb_is_501():
    error = ContractError("ExecuteQuery not supported for leveldb")
    async with conductor(ScriptedLedger(error)) as client:
        response = await client.simulate_get("/api/v1/offers", headers=ADMIN)
    assert (response.status_code, response.json["error"]["code"]) == (501, "NOT_SUPPORTED_ON_THIS_BACKEND")


async def test_unexpected_errors_are_500_and_logged(caplog):
    async with conductor(ScriptedLedger(RuntimeError("boom"))) as client:
        with caplog.at_level(logging.ERROR, logger="vpp_gateway.api"):
            response = await client.simulate_get("/api/v1/supply", headers=ADMIN)
    assert response.status_code == 500 and response.json == {"error": {"code": "INTERNAL", "message":
                                                                       "internal error; it has been logged"}}
    assert "boom" not in response.text and "boom" in caplog.text


async def test_owner_calls_run_as_the_owner_and_self_service_as_the_operator():
    site = b'{"site_id": "s", "owner": "Org1MSP:acc_owner", "location": "x", "registered_at": 1}'
    ledger = ScriptedLedger(Committed(site, "t", 1))
    async with conductor(ledger) as client:
        response = await client.simulate_post("/api/v1/sites", json={"site_id": "s", "location": "x"},
                                              headers={"Authorization": "Bearer owner"})
    assert response.status_code == 201
    assert ledger.calls == [("submit", "RegisterSite", ("s", "Org1MSP:acc_owner", "x"))]


async def test_ready_reports_an_unavailable_ledger():
    async with conductor(ScriptedLedger(UnavailableError("down", reason="UNAVAILABLE"))) as client:
        response = await client.simulate_get("/api/v1/ready")
    assert response.status_code == 503 and response.json["status"] == "unavailable"
    async with conductor(ScriptedLedger(b"[]")) as client:
        assert (await client.simulate_get("/api/v1/ready")).json["status"] == "ready"


async def test_metrics_count_routes_statuses_and_ledger_latency():
    ledger = ScriptedLedger(b'{"Tgen": {"minted": 1, "burned": 0, "outstanding": 1, "conserved": true}, '
                            b'"Tstorage": {"minted": 0, "burned": 0, "outstanding": 0, "conserved": true}}')
    async with conductor(ledger) as client:
        assert (await client.simulate_get("/api/v1/supply", headers=ADMIN)).status_code == 200
        assert (await client.simulate_get("/api/v1/sites/x")).status_code == 401
        text = (await client.simulate_get("/api/v1/metrics")).text
    assert 'vpp_http_requests_total{method="GET",route="/api/v1/supply",status="200"} 1' in text
    assert 'vpp_http_requests_total{method="GET",route="/api/v1/sites/{site_id}",status="401"} 1' in text
    assert 'vpp_ledger_evaluate_duration_seconds_count{function="GetSupply",outcome="ok"} 1' in text
    assert re.search(r'vpp_http_request_duration_seconds_bucket\{method="GET",route="/api/v1/supply",le="\+Inf"\} 1',
                     text)
    assert "vpp_http_requests_in_flight 1" in text  # the metrics request itself


# -- small pieces -----------------------------------------------------------------------------------------------

def test_rate_limiter_refills_with_time():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(limiter.take("k") == 0 for _ in range(60))
    assert limiter.take("k") == pytest.approx(1.0)
    assert limiter.take("other") == 0  # buckets are per key
    now[0] += 2.5
    assert limiter.take("k") == 0 and limiter.take("k") == 0 and limiter.take("k") > 0
    assert RateLimiter(0).take("k") == 0  # 0 switches it off


def test_rate_limiter_forgets_full_buckets():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0], max_buckets=10)
    for n in range(10):
        limiter.take(f"k{n}")
    now[0] += 120
    limiter.take("new")
    assert len(limiter._buckets) == 1


def test_config_from_env_and_secrets_masked():
    config = Config.from_env({"VPP_PORT": "9000", "VPP_BACKEND": "fabric", "VPP_SMTP_PASSWORD": "hunter2",
                              "VPP_MAX_PAGE": "50", "VPP_SMTP_STARTTLS": "no"})
    assert (config.port, config.backend, config.max_page, config.smtp_starttls) == (9000, "fabric", 50, False)
    assert config.public_view()["smtp_password"] == "***" and "hunter2" not in str(config.public_view())
    assert Config.from_env({}).max_body_bytes == 1024 * 1024 and Config.from_env({}).host == "127.0.0.1"
    for env in ({"VPP_PORT": "x"}, {"VPP_BACKEND": "couch"}, {"VPP_MAX_BATCH": "0"}, {"VPP_SMTP_STARTTLS": "maybe"}):
        with pytest.raises(ConfigError):
            Config.from_env(env)


def test_cursors_are_checked():
    items = [{"id": f"i{n}"} for n in range(5)]
    page, cursor = page_after(items, lambda i: i["id"], 2, None, "things")
    assert [i["id"] for i in page] == ["i0", "i1"]
    page, cursor = page_after(items, lambda i: i["id"], 2, cursor, "things")
    assert [i["id"] for i in page] == ["i2", "i3"]
    with pytest.raises(ApiError) as raised:
        decode_cursor(cursor, "other things")  # a cursor of another list
    assert raised.value.code == "VALIDATION_ERROR"
    with pytest.raises(ApiError):
        decode_cursor("!!!", "things")


def test_json_shape_checks():
    assert parse_json(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    for raw, code in ((deep.encode(), "JSON_TOO_DEEP"), (b"[" * 200_000, "JSON_TOO_DEEP"),
                      (b'{"a": NaN}', "INVALID_JSON"), (b"\xc3\x28", "INVALID_JSON")):
        with pytest.raises(ApiError) as raised:
            parse_json(raw)
        assert raised.value.code == code, raw[:20]
    nested: list = []
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    check_shape(nested)  # exactly MAX_DEPTH levels pass
    with pytest.raises(ApiError):
        check_shape([nested])


def test_owners_see_only_their_events():
    payload = {"events": [{"type": "mint", "owner": "Org1MSP:a"}, {"type": "mint", "owner": "Org1MSP:b"},
                          {"type": "offer", "asset": "account:Org1MSP:a"}, {"type": "trade", "buyer": "Org1MSP:a"},
                          {"type": "burn", "holder": "Org1MSP:a", "owner": "Org1MSP:c"}, "junk"]}
    alice = PRINCIPALS["owner"].__class__("a", "Org1MSP:a", None, "Org1MSP", "owner", "jwt", None, None)
    assert [e["type"] for e in visible_events(payload, alice)] == ["mint", "offer", "trade", "burn"]
    assert len(visible_events(payload, PRINCIPALS["admin"])) == 5


def test_exports_escape_and_total():
    statement = {"site_id": 'a<b>&"c', "owner": "o", "from": 0, "to": 900, "intervals": [
        {"start": 0, **dict.fromkeys(("generation_wh", "charge_wh", "discharge_wh", "load_wh", "import_wh",
                                      "export_wh", "minted_tgen", "burned_tgen", "minted_tstorage",
                                      "burned_tstorage", "grid_import_wh"), 7)}]}
    statement["totals"] = {k: v for k, v in statement["intervals"][0].items() if k != "start"}
    assert to_csv(statement).splitlines()[-1] == "total," + ",".join(["7"] * 11)
    assert 'site_id="a&lt;b&gt;&amp;&quot;c"' in to_xml(statement)


def test_metrics_exposition_escapes_labels():
    metrics = Metrics()
    metrics.record_request("GET", 'odd"route\\', 200, 0.2)
    assert 'route="odd\\"route\\\\"' in metrics.expose()
