import { describe, expect, it } from "vitest";
import { amountOf, mergeRows, rowsOf } from "./activity";
import { parseLedgerEvent } from "./live";

describe("activity rows", () => {
  const data = { block: 8, tx_id: "abc", events: [
    { type: "mint", token: "Tgen", amount: 304, asset: "pv1", start: 100, owner: "o" },
    { type: "exchange", burned_tgen: 100, minted_tstorage: 89, asset: "bat1", start: 100, owner: "o" },
    { type: "burn", tgen: 50, tstorage: 5, reason: "consumption", asset: "house", start: 100, owner: "o" },
  ] };
  it("flattens a transaction's events with their amounts", () => {
    const rows = rowsOf(data);
    expect(rows.map((r) => [r.type, r.amount, r.token])).toEqual([["mint", 304, "Tgen"], ["exchange", 89, "Tgen→Tstorage"], ["burn", 55, ""]]);
    expect(rows[2].detail).toContain("reason=consumption");
    expect(amountOf({ quantity_wh: 7 })).toBe(7);
    expect(amountOf({})).toBeNull();
  });
  it("merges newest first without duplicates", () => {
    const first = mergeRows([], rowsOf(data));
    const again = mergeRows(first, rowsOf(data));
    expect(again).toHaveLength(3);
    const next = mergeRows(again, rowsOf({ ...data, block: 9, tx_id: "def", events: [data.events[0]] }));
    expect(next[0].block).toBe(9);
  });
  it("parses only the documented SSE data shape", () => {
    expect(parseLedgerEvent(JSON.stringify(data))?.block).toBe(8);
    expect(parseLedgerEvent("{\"block\":\"8\"}")).toBeNull();
    expect(parseLedgerEvent("not json")).toBeNull();
  });
});
