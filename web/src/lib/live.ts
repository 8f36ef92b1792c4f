// The gateway's server-sent event stream (GET /api/v1/events/stream). EventSource cannot send headers, so the
// access token goes in ?access_token= (the gateway documents that it then appears in access logs).

import type { LedgerEventData } from "../api/types";

export interface LiveOptions {
  url: string;
  onEvent: (data: LedgerEventData, id: string) => void;
  onState?: (state: "connecting" | "open" | "down") => void;
  /** EventSource constructor (tests inject a fake). */
  source?: typeof EventSource;
}

/** Parses one SSE `ledger` event's data; null for anything that is not the documented shape. */
export function parseLedgerEvent(raw: string): LedgerEventData | null {
  try {
    const data = JSON.parse(raw) as Partial<LedgerEventData>;
    if (typeof data.block === "number" && typeof data.tx_id === "string" && Array.isArray(data.events)) {
      return data as LedgerEventData;
    }
  } catch {
    return null;
  }
  return null;
}

/** Opens the stream; returns a function that closes it. EventSource reconnects by itself with Last-Event-ID. */
export function openLive(options: LiveOptions): () => void {
  const Source = options.source ?? globalThis.EventSource;
  if (!Source) return () => undefined;
  options.onState?.("connecting");
  const source = new Source(options.url);
  source.onopen = () => options.onState?.("open");
  source.onerror = () => options.onState?.(source.readyState === 2 ? "down" : "connecting");
  source.addEventListener("ledger", (message) => {
    const event = message as MessageEvent<string>;
    const data = parseLedgerEvent(event.data);
    if (data) options.onEvent(data, event.lastEventId);
  });
  source.addEventListener("error", (message) => {
    const data = (message as MessageEvent<string>).data;
    if (typeof data === "string") options.onState?.("down"); // the gateway's own `error` event: ledger unavailable
  });
  return () => source.close();
}
