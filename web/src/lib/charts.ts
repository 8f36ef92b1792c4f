// Shapes asset events (GET /assets/{id}/events: readings with their effects, and token events) into the column
// arrays uPlot draws: one x array of interval starts (epoch seconds) and one y array per series, aligned, with null
// where an interval has no value (a gap stays a gap; nothing is invented).

import type { AssetEvent } from "../api/types";

export interface Series {
  label: string;
  values: (number | null)[];
}

export interface ChartData {
  x: number[];
  series: Series[];
}

function num(value: unknown): number {
  return typeof value === "number" && Number.isSafeInteger(value) ? value : 0;
}

function readingsOf(events: AssetEvent[]): AssetEvent[] {
  return events.filter((e) => e.type === "reading");
}

/** Sorted distinct interval starts of the given events. */
export function starts(events: AssetEvent[]): number[] {
  return [...new Set(events.map((e) => e.start))].sort((a, b) => a - b);
}

function column(x: number[], values: Map<number, number>): (number | null)[] {
  return x.map((start) => (values.has(start) ? (values.get(start) as number) : null));
}

function add(map: Map<number, number>, start: number, amount: number): void {
  map.set(start, (map.get(start) ?? 0) + amount);
}

/** Generation per interval beside the Tgen it minted (summed over the given generators' events). */
export function generationChart(events: AssetEvent[]): ChartData {
  const readings = readingsOf(events).filter((e) => e.values && "wh" in e.values && e.effects && "minted_tgen" in e.effects);
  const generated = new Map<number, number>();
  const minted = new Map<number, number>();
  for (const r of readings) {
    add(generated, r.start, num(r.values?.wh));
    add(minted, r.start, num(r.effects?.minted_tgen));
  }
  const x = starts(readings);
  return { x, series: [{ label: "Generated (Wh)", values: column(x, generated) },
    { label: "Tgen minted", values: column(x, minted) }] };
}

export const BURN_REASONS = ["discharge", "self_discharge", "capacity_fade"] as const;

interface AlgorithmAction {
  type?: unknown;
  amount?: unknown;
  reserved?: unknown;
  reason?: unknown;
}

/**
 * A battery: state of charge (permille) beside Tstorage outstanding, the reserved part, and burns per reason.
 * Outstanding is the running sum of Tstorage minted by this battery's charges minus the burns the battery's events
 * and the site's loads (`loadEvents`, their `burned_tstorage`) record; the reserve is reserves - releases - burns
 * taken from the reserve.
 */
export function batteryChart(events: AssetEvent[], loadEvents: AssetEvent[] = []): ChartData {
  const readings = readingsOf(events);
  const soc = new Map<number, number>();
  const minted = new Map<number, number>();
  const burnedOther = new Map<number, number>();
  const reserveDelta = new Map<number, number>();
  const burns = new Map<string, Map<number, number>>(BURN_REASONS.map((r) => [r, new Map()]));
  for (const r of readings) {
    if (r.values && "soc_permille" in r.values) soc.set(r.start, num(r.values.soc_permille));
    add(minted, r.start, num(r.effects?.minted_tstorage));
    const actions = Array.isArray(r.effects?.algorithm) ? (r.effects?.algorithm as AlgorithmAction[]) : [];
    for (const action of actions) {
      const amount = num(action.amount);
      if (action.type === "reserve") add(reserveDelta, r.start, amount);
      else if (action.type === "release") add(reserveDelta, r.start, -amount);
      else if (action.type === "burn") {
        add(burnedOther, r.start, amount);
        if (action.reserved === true) add(reserveDelta, r.start, -amount);
        const reason = typeof action.reason === "string" ? action.reason : "other";
        if (!burns.has(reason)) burns.set(reason, new Map());
        add(burns.get(reason) as Map<number, number>, r.start, amount);
      }
    }
  }
  for (const load of readingsOf(loadEvents)) add(burnedOther, load.start, num(load.effects?.burned_tstorage));
  const x = starts([...readings, ...readingsOf(loadEvents)]);
  let outstanding = 0;
  let reserve = 0;
  const outstandingColumn: number[] = [];
  const reserveColumn: number[] = [];
  for (const start of x) {
    outstanding += (minted.get(start) ?? 0) - (burnedOther.get(start) ?? 0);
    reserve += reserveDelta.get(start) ?? 0;
    outstandingColumn.push(outstanding);
    reserveColumn.push(reserve);
  }
  return {
    x,
    series: [
      { label: "SoC (permille)", values: column(x, soc) },
      { label: "Tstorage outstanding", values: outstandingColumn },
      { label: "Tstorage reserved", values: reserveColumn },
      ...[...burns.entries()].map(([reason, values]) => ({ label: `Burned: ${reason.replace("_", " ")}`,
        values: x.map((start) => values.get(start) ?? 0) })),
    ],
  };
}

/** Consumption per interval and what covered it: Tgen, Tstorage, and grid import nobody's tokens covered. */
export function consumptionChart(loadEvents: AssetEvent[]): ChartData {
  const readings = readingsOf(loadEvents).filter((e) => e.values && "wh" in e.values);
  const load = new Map<number, number>();
  const tgen = new Map<number, number>();
  const tstorage = new Map<number, number>();
  const grid = new Map<number, number>();
  for (const r of readings) {
    add(load, r.start, num(r.values?.wh));
    add(tgen, r.start, num(r.effects?.burned_tgen));
    add(tstorage, r.start, num(r.effects?.burned_tstorage));
    add(grid, r.start, num(r.effects?.grid_import_wh));
  }
  const x = starts(readings);
  return { x, series: [{ label: "Consumed (Wh)", values: column(x, load) },
    { label: "Covered by Tgen", values: column(x, tgen) },
    { label: "Covered by Tstorage", values: column(x, tstorage) },
    { label: "Grid import", values: column(x, grid) }] };
}

/** Asset events carry no interval length: the smallest step between readings (300 or 900 s), else 900. */
export function intervalOf(readings: AssetEvent[]): number {
  const sorted = starts(readings);
  let step = Infinity;
  for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i] - sorted[i - 1]);
  return step === 300 ? 300 : 900;
}

/** The latest reading's average power per asset ("live power" from the last metered interval). */
export function latestPower(events: AssetEvent[]): { start: number; interval: number; watts: number; field: string } | null {
  const readings = readingsOf(events).filter((e) => e.values);
  if (readings.length === 0) return null;
  const last = readings.reduce((a, b) => (b.start > a.start ? b : a));
  const interval = num((last as { interval?: unknown }).interval) || intervalOf(readings);
  const values = last.values as Record<string, number>;
  const field = "wh" in values ? "wh" : "discharge_wh" in values ? "net" : "import_wh" in values ? "grid" : "";
  let wh = 0;
  if (field === "wh") wh = num(values.wh);
  else if (field === "net") wh = num(values.discharge_wh) - num(values.charge_wh);
  else if (field === "grid") wh = num(values.import_wh) - num(values.export_wh);
  return { start: last.start, interval, watts: Math.trunc((wh * 3600) / interval), field };
}

/** Energy of readings whose interval starts in [from, to) (today's energy per asset). */
export function energyBetween(events: AssetEvent[], from: number, to: number, field = "wh"): number {
  return readingsOf(events).filter((e) => e.start >= from && e.start < to)
    .reduce((sum, e) => sum + num(e.values?.[field]), 0);
}
