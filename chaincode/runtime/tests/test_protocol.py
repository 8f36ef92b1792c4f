"""The runtime against a fake peer over real gRPC on loopback."""

import asyncio
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from conformance import chaincode as conformance
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_ccaas import ChaincodeServer, ServerConfig
from fabric_ccaas.testing import FakePeer, InMemoryPeer, response_of
from fabric_protos.peer import chaincode_shim_pb2 as shim
from records import chaincode as records

MT = shim.ChaincodeMessage
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def start(chaincode, **tls) -> ChaincodeServer:
    server = ChaincodeServer(chaincode, ServerConfig("127.0.0.1:0", "records:abc123", **tls))
    await server.start()
    return server


@pytest.fixture
async def records_server():
    server = await start(records)
    yield server
    await server.stop(0)


@pytest.fixture
async def conformance_server():
    server = await start(conformance)
    yield server
    await server.stop(0)


async def test_registration_handshake_names_the_chaincode(records_server):
    async with FakePeer(f"127.0.0.1:{records_server.port}") as peer:
        assert peer.registered_as == "records:abc123"


async def test_64_transactions_in_flight_on_one_stream(records_server):
    async with FakePeer(f"127.0.0.1:{records_server.port}", namespace="records") as peer:
        created = await asyncio.gather(*(peer.transact("CreateRecord", f"r{i}", str(i * i)) for i in range(64)))
        assert all(response_of(m).status == 200 for m in created)
        assert {m.chaincode_event.event_name for m in created} == {"RecordCreated"}
        read = await asyncio.gather(*(peer.transact("ReadRecord", f"r{i}") for i in range(64)))
        for i, message in enumerate(read):
            assert json.loads(response_of(message).payload) == {"id": f"r{i}", "value": str(i * i)}
        again = await peer.transact("CreateRecord", "r5", "x")
        assert response_of(again).message.startswith("RECORD_EXISTS:")


async def test_a_peer_error_reply_surfaces_with_its_message(records_server):
    async with FakePeer(f"127.0.0.1:{records_server.port}", namespace="records") as peer:
        peer.answer_override = lambda m: (MT(type=MT.ERROR, payload=b"GET_STATE failed: ledger closed",
                                             txid=m.txid, channel_id=m.channel_id)
                                          if m.type == MT.GET_STATE else None)
        response = response_of(await peer.transact("ReadRecord", "r1"))
        assert response.status == 500
        assert response.message == "PEER_ERROR: GET_STATE: peer error: GET_STATE failed: ledger closed"


async def test_a_peer_announcing_write_batches_gets_the_writes_in_them(conformance_server):
    ledger = InMemoryPeer(write_batch_size=100)  # READY carries ChaincodeAdditionalParams, as Fabric 3.1 sends it
    async with FakePeer(f"127.0.0.1:{conformance_server.port}", ledger, namespace="conformance") as peer:
        assert response_of(await peer.transact("PutMany", "k", "250")).status == 200
        assert ledger.requests == {"WRITE_BATCH_STATE": 3}  # 100 + 100 + 50 records, no PUT_STATE
        assert ledger.state[("conformance", "")] == {f"k{i:05d}": str(i).encode() for i in range(250)}

        peer.answer_override = lambda m: (MT(type=MT.ERROR, payload=b"txid [x]: writes are not allowed",
                                             txid=m.txid, channel_id=m.channel_id)
                                          if m.type == MT.WRITE_BATCH_STATE else None)
        refused = await peer.transact("Put", "z", "1")
        assert refused.type == MT.ERROR
        assert refused.payload.decode() == ("the peer refused the transaction's writes: WRITE_BATCH_STATE: "
                                            "peer error: txid [x]: writes are not allowed")
        assert "z" not in ledger.state[("conformance", "")]
        peer.answer_override = None
        assert response_of(await peer.transact("Put", "z", "1")).status == 200  # the stream keeps serving
        assert ledger.state[("conformance", "")]["z"] == b"1"


async def test_a_peer_without_write_batches_gets_one_put_state_per_write(conformance_server):
    ledger = InMemoryPeer()  # a Fabric 2.5 peer: READY without a payload
    async with FakePeer(f"127.0.0.1:{conformance_server.port}", ledger, namespace="conformance") as peer:
        assert response_of(await peer.transact("PutMany", "k", "250")).status == 200
        assert ledger.requests == {"PUT_STATE": 250}


async def test_paginated_query_walks_past_its_first_page(conformance_server):
    ledger = InMemoryPeer(batch_size=4)
    async with FakePeer(f"127.0.0.1:{conformance_server.port}", ledger, namespace="conformance") as peer:
        assert response_of(await peer.transact("PutMany", "k", "30")).status == 200
        keys, bookmark = [], ""
        for _ in range(10):
            page = json.loads(response_of(await peer.transact("RangePage", "k", "l", "8", bookmark)).payload)
            keys += [r["key"] for r in page["records"]]
            bookmark = page["bookmark"]
            if not bookmark:
                break
        assert keys == [f"k{i:05d}" for i in range(30)]
        everything = json.loads(response_of(await peer.transact("Range", "", "")).payload)
        assert len(everything) == 30  # one query, eight QUERY_STATE_NEXT batches of four


async def test_the_event_travels_in_the_completed_message(conformance_server):
    async with FakePeer(f"127.0.0.1:{conformance_server.port}", namespace="conformance") as peer:
        completed = await peer.transact("Emit", "Minted", '{"wh":42}')
        assert completed.type == MT.COMPLETED
        assert completed.chaincode_event.event_name == "Minted"
        assert completed.chaincode_event.payload == b'{"wh":42}'


async def test_malformed_requests_get_errors_and_the_stream_keeps_serving(records_server):
    async with FakePeer(f"127.0.0.1:{records_server.port}", namespace="records") as peer:
        waiter = asyncio.ensure_future(peer.wait_for("garbage-1"))
        await peer.send_raw(MT(type=MT.TRANSACTION, txid="garbage-1", channel_id="ch", payload=b"\xff\xff\xff"))
        reply = await asyncio.wait_for(waiter, 5)
        assert reply.type == MT.ERROR and b"failed to unmarshal input" in reply.payload

        waiter = asyncio.ensure_future(peer.wait_for("odd-2"))
        await peer.send_raw(MT(type=MT.GET_STATE, txid="odd-2", channel_id="ch"))
        reply = await asyncio.wait_for(waiter, 5)
        assert reply.type == MT.ERROR and b"cannot handle message (GET_STATE)" in reply.payload

        await peer.send_raw(MT(type=MT.RESPONSE, txid="nobody-waits", channel_id="ch"))  # ignored, logged
        assert response_of(await peer.transact("CreateRecord", "r1", "1")).status == 200


async def test_an_undecodable_answer_fails_only_its_transaction(conformance_server):
    async with FakePeer(f"127.0.0.1:{conformance_server.port}", namespace="conformance") as peer:
        peer.answer_override = lambda m: (MT(type=MT.RESPONSE, payload=b"\xff\x00garbage", txid=m.txid,
                                             channel_id=m.channel_id) if m.type == MT.GET_STATE_BY_RANGE else None)
        broken = response_of(await peer.transact("Range", "", ""))
        assert broken.status == 500 and broken.message.startswith("INTERNAL: DecodeError")
        peer.answer_override = None
        assert response_of(await peer.transact("Range", "", "")).status == 200


async def test_keepalives_are_echoed(records_server):
    async with FakePeer(f"127.0.0.1:{records_server.port}") as peer:
        await peer.send_raw(MT(type=MT.KEEPALIVE, txid="ka"))
        for _ in range(50):
            if peer.unsolicited:
                break
            await asyncio.sleep(0.02)
        assert [m.type for m in peer.unsolicited] == [MT.KEEPALIVE]


def _tls_pair(name, issuer_key=None, issuer_name=None, ca=False):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name or subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                                     x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                                        critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key, subject, pem_key, cert.public_bytes(serialization.Encoding.PEM)


async def test_mutual_tls_admits_only_peers_with_a_client_certificate():
    ca_key, ca_name, _, ca_pem = _tls_pair("test-ca", ca=True)
    _, _, server_key, server_cert = _tls_pair("localhost", ca_key, ca_name)
    _, _, client_key, client_cert = _tls_pair("peer0", ca_key, ca_name)
    server = await start(records, tls_key=server_key, tls_cert=server_cert, client_ca_cert=ca_pem)
    try:
        good = grpc.ssl_channel_credentials(ca_pem, client_key, client_cert)
        async with FakePeer(f"localhost:{server.port}", namespace="records", channel_credentials=good) as peer:
            assert response_of(await peer.transact("CreateRecord", "t1", "1")).status == 200
        anonymous = grpc.ssl_channel_credentials(ca_pem)
        with pytest.raises(grpc.aio.AioRpcError):
            async with FakePeer(f"localhost:{server.port}", channel_credentials=anonymous):
                pass
    finally:
        await server.stop(0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_console_command_serves_and_stops_gracefully_on_sigterm():
    port = _free_port()
    env = {**os.environ, "CHAINCODE_SERVER_ADDRESS": f"127.0.0.1:{port}", "CHAINCODE_ID": "records:1",
           "PYTHONPATH": str(EXAMPLES)}
    process = subprocess.Popen(  # noqa: ASYNC220 - a child process the test signals and waits for
        [sys.executable, "-m", "fabric_ccaas", "records:chaincode"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                await asyncio.sleep(0.05)
        async with FakePeer(f"127.0.0.1:{port}", namespace="records") as peer:
            assert response_of(await peer.transact("CreateRecord", "c1", "1")).status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        log = process.stderr.read()
        assert "listening on 127.0.0.1" in log and "stopping" in log
        assert "CreateRecord" not in log  # quiet: no per-transaction logging by default
    finally:
        if process.poll() is None:
            process.kill()


def test_console_command_explains_missing_configuration():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINCODE_")}
    result = subprocess.run([sys.executable, "-m", "fabric_ccaas", "records:chaincode"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "CHAINCODE_SERVER_ADDRESS" in result.stderr and "CHAINCODE_ID" in result.stderr


def test_importing_the_runtime_leaves_the_root_logger_alone():
    code = ("import logging; before=(logging.getLogger().level, list(logging.getLogger().handlers));"
            "import fabric_ccaas, fabric_ccaas.testing;"
            "assert (logging.getLogger().level, list(logging.getLogger().handlers)) == before")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


async def test_stopping_finishes_transactions_in_flight_and_refuses_new_ones():
    from fabric_ccaas import Context, Contract, ContractChaincode, transaction

    started = asyncio.Event()

    class Slow(Contract):
        @transaction
        async def Work(self, ctx: Context) -> str:
            started.set()
            await asyncio.sleep(0.3)
            await ctx.stub.put_state("done", b"1")
            return "finished"

    server = await start(ContractChaincode(Slow()))
    async with FakePeer(f"127.0.0.1:{server.port}") as peer:
        in_flight = asyncio.ensure_future(peer.transact("Work"))
        await started.wait()
        stopping = asyncio.ensure_future(server.stop(grace=5))
        await asyncio.sleep(0.05)
        refused = await peer.transact("Work")
        assert refused.type == MT.ERROR and b"shutting down" in refused.payload
        finished = await in_flight
        assert response_of(finished).payload == b"finished"
        assert peer.ledger.state[("cc", "")]["done"] == b"1"
        await stopping


def test_the_write_batch_size_comes_from_the_ready_payload():
    from fabric_ccaas.handler import _write_batch_size
    from fabric_protos.peer import chaincode_pb2

    def params(**kw) -> bytes:
        return chaincode_pb2.ChaincodeAdditionalParams(**kw).SerializeToString()

    assert _write_batch_size(b"") == 0  # Fabric 2.5
    assert _write_batch_size(params(use_write_batch=False, max_size_write_batch=1000)) == 0
    assert _write_batch_size(params(use_write_batch=True, max_size_write_batch=1000)) == 1000
    assert _write_batch_size(params(use_write_batch=True, max_size_write_batch=10)) == 100  # as the Go shim
    assert _write_batch_size(b"\xff\xff\xff") == 0  # unreadable: logged, writes go one by one
