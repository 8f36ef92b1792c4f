import { describe, expect, it } from "vitest";
import type { AssetEvent } from "../api/types";
import { batteryChart, consumptionChart, energyBetween, generationChart, intervalOf, latestPower } from "./charts";

const T = 1_795_459_500;
const pv = (start: number, wh: number, minted = wh): AssetEvent =>
  ({ type: "reading", asset: "pv1", start, tx_id: "t", values: { wh }, effects: { minted_tgen: minted } });
const load = (start: number, wh: number, tgen: number, tstorage: number, grid: number): AssetEvent =>
  ({ type: "reading", asset: "house", start, tx_id: "t", values: { wh },
    effects: { burned_tgen: tgen, burned_tstorage: tstorage, grid_import_wh: grid } });
const battery = (start: number, soc: number, minted: number, algorithm: unknown[] = []): AssetEvent =>
  ({ type: "reading", asset: "bat1", start, tx_id: "t", values: { charge_wh: 100, discharge_wh: 0, soc_permille: soc },
    effects: { minted_tstorage: minted, burned_tgen: 100, algorithm } });

describe("generationChart", () => {
  it("aligns generation and minted Tgen per interval, sorted, summing generators", () => {
    const data = generationChart([pv(T + 900, 300), pv(T, 200), { ...pv(T, 50), asset: "pv2" },
      { type: "mint", asset: "pv1", start: T, amount: 250 }]);
    expect(data.x).toEqual([T, T + 900]);
    expect(data.series[0].values).toEqual([250, 300]);
    expect(data.series[1].values).toEqual([250, 300]);
  });
  it("leaves a gap as null", () => {
    const data = generationChart([pv(T, 1), { type: "reading", asset: "pv1", start: T + 900, values: { wh: 5 } }]);
    expect(data.x).toEqual([T]);
  });
});

describe("batteryChart", () => {
  it("runs outstanding and reserve from mints, reserves, releases and burns by reason", () => {
    const data = batteryChart([
      battery(T, 500, 89),
      battery(T + 900, 510, 89, [{ type: "reserve", amount: 10, horizon_s: 86400 }]),
      battery(T + 1800, 505, 0, [{ type: "burn", amount: 4, reserved: true, reason: "self_discharge" },
        { type: "release", amount: 3 }]),
    ], [load(T + 1800, 50, 0, 20, 30)]);
    expect(data.x).toEqual([T, T + 900, T + 1800]);
    const byLabel = Object.fromEntries(data.series.map((s) => [s.label, s.values]));
    expect(byLabel["SoC (permille)"]).toEqual([500, 510, 505]);
    expect(byLabel["Tstorage outstanding"]).toEqual([89, 178, 178 - 4 - 20]);
    expect(byLabel["Tstorage reserved"]).toEqual([0, 10, 3]);
    expect(byLabel["Burned: self discharge"]).toEqual([0, 0, 4]);
    expect(byLabel["Burned: discharge"]).toEqual([0, 0, 0]);
  });
});

describe("consumptionChart", () => {
  it("splits consumption into Tgen, Tstorage and grid import", () => {
    const data = consumptionChart([load(T, 100, 60, 30, 10)]);
    expect(data.series.map((s) => s.values[0])).toEqual([100, 60, 30, 10]);
  });
});

describe("live power and today's energy", () => {
  it("takes the average power of the latest interval", () => {
    expect(latestPower([pv(T, 100), pv(T + 900, 250)])).toMatchObject({ start: T + 900, watts: 1000 });
    expect(latestPower([pv(T, 100), pv(T + 300, 250)])).toMatchObject({ interval: 300, watts: 3000 });
    expect(latestPower([battery(T, 500, 0)])).toMatchObject({ field: "net", watts: -400 });
    expect(latestPower([])).toBeNull();
  });
  it("sums energy in [from, to)", () => {
    expect(energyBetween([pv(T, 1), pv(T + 900, 2), pv(T + 1800, 4)], T, T + 1800)).toBe(3);
    expect(intervalOf([pv(T, 1)])).toBe(900);
  });
});
