/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * RecordsContract: the smallest useful contract, written with the official Node
 * fabric-contract-api. It is the side-by-side baseline for the project's Python
 * chaincode runtime in benchmarks, and the chaincode that network/ tests deploy.
 */
'use strict';

const { Context, Contract, Transaction, Returns } = require('fabric-contract-api');

class RecordsContract extends Contract {
    constructor() {
        // Named so that transactions can also be called as "RecordsContract:CreateRecord".
        super('RecordsContract');
    }

    async _exists(ctx, id) {
        const data = await ctx.stub.getState(id);
        return Boolean(data && data.length > 0);
    }

    /**
     * Submit: store {id, value} under key id and emit "RecordCreated".
     * Fails with RECORD_EXISTS when the key is already set.
     */
    async CreateRecord(ctx, id, value) {
        if (await this._exists(ctx, id)) {
            throw new Error(`RECORD_EXISTS: record ${id} already exists`);
        }
        const record = JSON.stringify({ id, value });
        const bytes = Buffer.from(record);
        await ctx.stub.putState(id, bytes);
        ctx.stub.setEvent('RecordCreated', bytes);
        return record;
    }

    /**
     * Evaluate: return the stored JSON. Fails with RECORD_NOT_FOUND when missing.
     */
    async ReadRecord(ctx, id) {
        const data = await ctx.stub.getState(id);
        if (!data || data.length === 0) {
            throw new Error(`RECORD_NOT_FOUND: record ${id} does not exist`);
        }
        return data.toString();
    }
}

// Plain JavaScript has no decorators, so apply the annotations by hand. The parameter
// types are what TypeScript's emitDecoratorMetadata would record; with them the contract
// metadata (org.hyperledger.fabric:GetMetadata) tags ReadRecord EVALUATE and
// CreateRecord SUBMIT, and names their string parameters.
function annotate(name, paramTypes, submit, returns) {
    const proto = RecordsContract.prototype;
    Reflect.defineMetadata('design:paramtypes', [Context, ...paramTypes], proto, name);
    Returns(returns)(proto, name);
    Transaction(submit)(proto, name);
}
annotate('CreateRecord', [String, String], true, 'string');
annotate('ReadRecord', [String], false, 'string');

module.exports.RecordsContract = RecordsContract;
