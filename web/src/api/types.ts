// The gateway's JSON shapes the app reads (see gateway/src/vpp_gateway/api/models). Integers only for energy and money.

export type Role = "admin" | "owner" | "utility" | "auditor";
export type Token = "Tgen" | "Tstorage";

export interface Me {
  account_id: string;
  ledger_account: string;
  email: string | null;
  org: string;
  role: Role;
  via: "jwt" | "api_key";
  verified?: boolean | null;
}

export interface Balance {
  account: string;
  Tgen: number;
  Tstorage: number;
  TstorageReserved: number;
  credit_micro: number;
}

export interface Site {
  site_id: string;
  owner: string;
  location: string;
  registered_at: number;
  assets: string[];
}

export type AssetKind = "generator" | "battery" | "load" | "grid";

export interface Reading {
  meter: string;
  asset: string;
  site: string;
  kind: "generation" | "battery" | "load" | "grid";
  start: number;
  interval: number;
  values: Record<string, number>;
  effects: Record<string, unknown>;
  tx_id: string;
}

/** One entry of GET /assets/{id}/events: a reading (with its effects) or a token event of the asset. */
export interface AssetEvent {
  type: string;
  asset: string;
  start: number;
  tx_id?: string;
  meter?: string;
  values?: Record<string, number>;
  effects?: Record<string, unknown>;
  amount?: number;
  reason?: string;
  [name: string]: unknown;
}

export interface Offer {
  offer_id: string;
  seller: string;
  token: Token;
  quantity_wh: number;
  remaining_wh: number;
  rate_micro_per_kwh: number;
  valid_from: number;
  valid_until: number;
  status: "active" | "sold" | "cancelled";
  created_at: number;
}

export interface Trade {
  offer_id: string;
  buyer: string;
  seller: string;
  token: Token;
  quantity_wh: number;
  price_micro: number;
  at: number;
  tx_id: string;
  origins: string[];
  delivered_to_grid: boolean;
}

export interface ApiKey {
  key_id: string;
  name: string;
  org: string;
  role: Role;
  created_at: number;
  revoked_at: number | null;
  last4: string;
}

export const STATEMENT_FIELDS = ["generation_wh", "charge_wh", "discharge_wh", "load_wh", "import_wh", "export_wh",
  "minted_tgen", "burned_tgen", "minted_tstorage", "burned_tstorage", "grid_import_wh"] as const;
export type StatementField = (typeof STATEMENT_FIELDS)[number];
export type StatementTotals = Record<StatementField, number>;

export interface Statement {
  site_id: string;
  owner: string;
  from: number;
  to: number;
  intervals: (StatementTotals & { start: number })[];
  totals: StatementTotals;
}

/** The data of one SSE `ledger` event. */
export interface LedgerEventData {
  block: number;
  tx_id: string;
  events: Record<string, unknown>[];
}

