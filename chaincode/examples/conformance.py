"""A contract that exercises every stub call, so tests can check the runtime against a real peer.

Serve it with ``fabric-ccaas conformance:chaincode`` (with this folder on PYTHONPATH).
"""

from __future__ import annotations

import enum

from fabric_ccaas import ChaincodeError, Context, Contract, ContractChaincode, evaluate, transaction
from fabric_ccaas.endorsement import key_endorsement_policy, organisations_of


class Code(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    REQUESTED_FAILURE = "REQUESTED_FAILURE"
    MISSING_TRANSIENT = "MISSING_TRANSIENT"


def _kvs(items) -> list[dict]:
    return [{"key": kv.key, "value": kv.value.decode()} for kv in items]


class Conformance(Contract):
    # -- public state ---------------------------------------------------------------------------------------
    @transaction
    async def Put(self, ctx: Context, key: str, value: str) -> None:
        await ctx.stub.put_state(key, value.encode())

    @transaction
    async def PutMany(self, ctx: Context, prefix: str, count: int) -> int:
        for i in range(count):
            await ctx.stub.put_state(f"{prefix}{i:05d}", str(i).encode())
        return count

    @evaluate
    async def Get(self, ctx: Context, key: str) -> str:
        value = await ctx.stub.get_state(key)
        if not value:
            raise ChaincodeError(Code.NOT_FOUND, f"no value for {key}")
        return value.decode()

    @transaction
    async def Delete(self, ctx: Context, key: str) -> None:
        await ctx.stub.del_state(key)

    @evaluate
    async def Range(self, ctx: Context, start: str, end: str) -> list:
        return _kvs(await (await ctx.stub.get_state_by_range(start, end)).collect())

    @evaluate
    async def RangeFirst(self, ctx: Context, start: str, end: str, count: int) -> list:
        """The first ``count`` results of a range; the iterator is closed early (the rest is not read)."""
        taken = []
        async with await ctx.stub.get_state_by_range(start, end) as iterator:
            async for kv in iterator:
                taken.append(kv)
                if len(taken) >= count:
                    break
        return _kvs(taken)

    @evaluate
    async def RangePage(self, ctx: Context, start: str, end: str, page_size: int, bookmark: str) -> dict:
        iterator, page = await ctx.stub.get_state_by_range_with_pagination(start, end, page_size, bookmark)
        return {"records": _kvs(await iterator.collect()), "count": page.fetched_records_count,
                "bookmark": page.bookmark}

    @evaluate
    async def History(self, ctx: Context, key: str) -> list:
        return [{"tx_id": m.tx_id, "value": m.value.decode(), "is_delete": m.is_delete,
                 "seconds": m.timestamp.seconds} async for m in await ctx.stub.get_history_for_key(key)]

    # -- composite keys -------------------------------------------------------------------------------------
    @transaction
    async def PutComposite(self, ctx: Context, object_type: str, attributes: list, value: str) -> str:
        key = ctx.stub.create_composite_key(object_type, attributes)
        await ctx.stub.put_state(key, value.encode())
        return key

    @evaluate
    async def Partial(self, ctx: Context, object_type: str, attributes: list) -> list:
        iterator = await ctx.stub.get_state_by_partial_composite_key(object_type, attributes)
        return [{"attributes": ctx.stub.split_composite_key(kv.key)[1], "value": kv.value.decode()}
                async for kv in iterator]

    @evaluate
    async def PartialPage(self, ctx: Context, object_type: str, attributes: list, page_size: int,
                          bookmark: str) -> dict:
        iterator, page = await ctx.stub.get_state_by_partial_composite_key_with_pagination(
            object_type, attributes, page_size, bookmark)
        return {"attributes": [ctx.stub.split_composite_key(kv.key)[1] async for kv in iterator],
                "count": page.fetched_records_count, "bookmark": page.bookmark}

    # -- rich queries (CouchDB; a LevelDB peer answers with an ERROR, which must surface) --------------------
    @evaluate
    async def Query(self, ctx: Context, query: str) -> list:
        return _kvs(await (await ctx.stub.get_query_result(query)).collect())

    @evaluate
    async def QueryPage(self, ctx: Context, query: str, page_size: int, bookmark: str) -> dict:
        iterator, page = await ctx.stub.get_query_result_with_pagination(query, page_size, bookmark)
        return {"records": _kvs(await iterator.collect()), "count": page.fetched_records_count,
                "bookmark": page.bookmark}

    # -- events, failures, identity and proposal --------------------------------------------------------------
    @transaction
    async def Emit(self, ctx: Context, name: str, payload: str) -> str:
        ctx.stub.set_event(name, payload.encode())
        return ctx.stub.tx_id

    @transaction
    async def Fail(self, ctx: Context, message: str) -> None:
        await ctx.stub.put_state("must-not-commit", b"1")
        raise ChaincodeError(Code.REQUESTED_FAILURE, message)

    @evaluate
    async def TxInfo(self, ctx: Context) -> dict:
        identity = ctx.client_identity
        stamp = ctx.stub.get_tx_timestamp()
        return {
            "tx_id": ctx.stub.tx_id,
            "channel_id": ctx.stub.channel_id,
            "timestamp": [stamp.seconds, stamp.nanos],
            "msp_id": identity.msp_id,
            "id": identity.id,
            "attributes": identity.attributes,
            "binding": ctx.stub.get_binding().hex(),
            "transient_keys": sorted(ctx.stub.get_transient()),
            "has_signed_proposal": ctx.stub.get_signed_proposal() is not None,
            "decorations": sorted(ctx.stub.get_decorations()),
        }

    # -- private data -----------------------------------------------------------------------------------------
    @transaction
    async def PutPrivate(self, ctx: Context, collection: str, key: str) -> None:
        value = ctx.stub.get_transient().get("value")
        if value is None:
            raise ChaincodeError(Code.MISSING_TRANSIENT, "pass the value in the transient map under 'value'")
        await ctx.stub.put_private_data(collection, key, value)

    @evaluate
    async def GetPrivate(self, ctx: Context, collection: str, key: str) -> str:
        value = await ctx.stub.get_private_data(collection, key)
        if not value:
            raise ChaincodeError(Code.NOT_FOUND, f"no private value for {key}")
        return value.decode()

    @evaluate
    async def GetPrivateHash(self, ctx: Context, collection: str, key: str) -> str:
        return (await ctx.stub.get_private_data_hash(collection, key)).hex()

    @transaction
    async def DeletePrivate(self, ctx: Context, collection: str, key: str) -> None:
        await ctx.stub.del_private_data(collection, key)

    @transaction
    async def PurgePrivate(self, ctx: Context, collection: str, key: str) -> None:
        await ctx.stub.purge_private_data(collection, key)

    @evaluate
    async def PrivateRange(self, ctx: Context, collection: str, start: str, end: str) -> list:
        return _kvs(await (await ctx.stub.get_private_data_by_range(collection, start, end)).collect())

    @evaluate
    async def PrivatePartial(self, ctx: Context, collection: str, object_type: str, attributes: list) -> list:
        return _kvs(await (await ctx.stub.get_private_data_by_partial_composite_key(
            collection, object_type, attributes)).collect())

    @evaluate
    async def PrivateQuery(self, ctx: Context, collection: str, query: str) -> list:
        return _kvs(await (await ctx.stub.get_private_data_query_result(collection, query)).collect())

    @transaction
    async def PutPrivateComposite(self, ctx: Context, collection: str, object_type: str, attributes: list,
                                  value: str) -> None:
        key = ctx.stub.create_composite_key(object_type, attributes)
        await ctx.stub.put_private_data(collection, key, value.encode())

    # -- key-level endorsement --------------------------------------------------------------------------------
    @transaction
    async def SetKeyPolicy(self, ctx: Context, key: str, msp_ids: list) -> None:
        await ctx.stub.set_state_validation_parameter(key, key_endorsement_policy(msp_ids))

    @evaluate
    async def GetKeyPolicy(self, ctx: Context, key: str) -> list:
        return organisations_of(await ctx.stub.get_state_validation_parameter(key))

    @transaction
    async def SetPrivateKeyPolicy(self, ctx: Context, collection: str, key: str, msp_ids: list) -> None:
        await ctx.stub.set_private_data_validation_parameter(collection, key, key_endorsement_policy(msp_ids))

    @evaluate
    async def GetPrivateKeyPolicy(self, ctx: Context, collection: str, key: str) -> list:
        return organisations_of(await ctx.stub.get_private_data_validation_parameter(collection, key))

    # -- another chaincode ------------------------------------------------------------------------------------
    @transaction
    async def Call(self, ctx: Context, chaincode: str, args: list) -> dict:
        response = await ctx.stub.invoke_chaincode(chaincode, [str(a) for a in args])
        return {"status": response.status, "message": response.message, "payload": response.payload.decode()}

    @evaluate
    async def CallEvaluate(self, ctx: Context, chaincode: str, args: list) -> dict:
        response = await ctx.stub.invoke_chaincode(chaincode, [str(a) for a in args])
        return {"status": response.status, "message": response.message, "payload": response.payload.decode()}


chaincode = ContractChaincode(Conformance(), title="conformance", version="1.0.0")
