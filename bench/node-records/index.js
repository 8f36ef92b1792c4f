/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Entry point read by fabric-chaincode-node: it loads the contracts listed here.
 */
'use strict';

const { RecordsContract } = require('./lib/records-contract');

module.exports.RecordsContract = RecordsContract;
module.exports.contracts = [RecordsContract];
