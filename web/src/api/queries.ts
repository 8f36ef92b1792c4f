// Reads several pages make: every page of a list, a site's assets with their events, the caller's balance.

import type { ApiClient, Query } from "./client";
import type { AssetEvent, Site } from "./types";

/** Follows next_cursor until the list ends (bounded: at most `maxPages` requests). */
export async function allPages<T>(api: ApiClient, path: string, key: string, query: Query = {}, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const answer: Record<string, unknown> = await api.get(path, { ...query, limit: 200, cursor: cursor ?? undefined });
    items.push(...((answer[key] as T[]) ?? []));
    cursor = (answer.next_cursor as string | null) ?? null;
    if (!cursor) break;
  }
  return items;
}

export type InferredKind = "generator" | "battery" | "load" | "grid" | "unknown";

/** The API has no GET /assets/{id}: an asset's kind is read from what its meter reports. */
export function kindOf(events: AssetEvent[]): InferredKind {
  const reading = events.find((e) => e.type === "reading" && e.values);
  if (!reading?.values) return "unknown";
  if ("soc_permille" in reading.values) return "battery";
  if ("import_wh" in reading.values) return "grid";
  if (reading.effects && "minted_tgen" in reading.effects) return "generator";
  if ("wh" in reading.values) return "load";
  return "unknown";
}

export interface AssetView {
  asset_id: string;
  kind: InferredKind;
  events: AssetEvent[];
}

export async function siteAssets(api: ApiClient, site: Site, from: number, to?: number): Promise<AssetView[]> {
  return Promise.all(site.assets.map(async (asset_id) => {
    const events = await allPages<AssetEvent>(api, `/assets/${encodeURIComponent(asset_id)}/events`, "events",
      { from, to });
    return { asset_id, kind: kindOf(events), events };
  }));
}

export function utcMidnight(nowSeconds: number): number {
  return nowSeconds - (nowSeconds % 86400);
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
