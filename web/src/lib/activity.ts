// Flattens SSE `ledger` events (one per transaction, several token events each) into rows for the activity table.

import type { LedgerEventData } from "../api/types";

export interface ActivityRow {
  key: string;
  block: number;
  txId: string;
  type: string;
  token: string;
  amount: number | null;
  asset: string;
  start: number | null;
  detail: string;
}

const SHOWN = new Set(["type", "token", "amount", "asset", "start", "owner"]);

function int(value: unknown): number | null {
  return typeof value === "number" && Number.isSafeInteger(value) ? value : null;
}

/** The amount an event moves, whatever its type names it (mint/reserve/release: amount, trade: quantity_wh,
 * exchange: minted_tstorage, consumption burn: tgen + tstorage). */
export function amountOf(event: Record<string, unknown>): number | null {
  const direct = int(event.amount) ?? int(event.quantity_wh) ?? int(event.minted_tstorage);
  if (direct !== null) return direct;
  const tgen = int(event.tgen);
  const tstorage = int(event.tstorage);
  return tgen === null && tstorage === null ? null : (tgen ?? 0) + (tstorage ?? 0);
}

export function rowsOf(data: LedgerEventData): ActivityRow[] {
  return data.events.map((event, index) => {
    const detail = Object.entries(event).filter(([name]) => !SHOWN.has(name))
      .map(([name, value]) => `${name}=${typeof value === "object" ? JSON.stringify(value) : String(value)}`).join(" ");
    return {
      key: `${data.block}:${data.tx_id}:${index}`,
      block: data.block,
      txId: data.tx_id,
      type: String(event.type ?? "event"),
      token: typeof event.token === "string" ? event.token : event.type === "exchange" ? "Tgen→Tstorage" : "",
      amount: amountOf(event),
      asset: typeof event.asset === "string" ? event.asset : "",
      start: int(event.start),
      detail,
    };
  });
}

/** Newest first, at most `limit` rows, without duplicates (a stream resume may repeat a transaction). */
export function mergeRows(current: ActivityRow[], incoming: ActivityRow[], limit = 1000): ActivityRow[] {
  const seen = new Set(current.map((r) => r.key));
  const fresh = incoming.filter((r) => !seen.has(r.key)).reverse();
  return [...fresh, ...current].slice(0, limit);
}
