"""The benchmark contract: create a record, read it back. The Node twin lives in bench/node-records/."""

from __future__ import annotations

import enum
import json

from fabric_ccaas import ChaincodeError, Context, Contract, ContractChaincode, evaluate, transaction


class Code(enum.Enum):
    RECORD_EXISTS = "RECORD_EXISTS"
    RECORD_NOT_FOUND = "RECORD_NOT_FOUND"


class RecordsContract(Contract):
    @transaction
    async def CreateRecord(self, ctx: Context, record_id: str, value: str) -> None:
        if await ctx.stub.get_state(record_id):
            raise ChaincodeError(Code.RECORD_EXISTS, f"record {record_id} already exists")
        body = json.dumps({"id": record_id, "value": value}, sort_keys=True, separators=(",", ":")).encode()
        await ctx.stub.put_state(record_id, body)
        ctx.stub.set_event("RecordCreated", body)

    @evaluate
    async def ReadRecord(self, ctx: Context, record_id: str) -> bytes:
        body = await ctx.stub.get_state(record_id)
        if not body:
            raise ChaincodeError(Code.RECORD_NOT_FOUND, f"record {record_id} does not exist")
        return body


chaincode = ContractChaincode(RecordsContract(), title="records", version="1.0.0")
