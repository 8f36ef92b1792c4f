import { describe, expect, it } from "vitest";
import { averagePowerW, fixedPoint, formatMoney, formatPermille, formatRate, formatTime, formatW, formatWh,
  groupDigits, parseDecimal, parseKwhToWh, parseMoneyToMicro } from "./format";

describe("energy", () => {
  it("writes Wh below 10 kWh and exact kWh / MWh above", () => {
    expect(formatWh(0)).toBe("0 Wh");
    expect(formatWh(950)).toBe("950 Wh");
    expect(formatWh(9999)).toBe("9,999 Wh");
    expect(formatWh(10_000)).toBe("10 kWh");
    expect(formatWh(12_345)).toBe("12.345 kWh");
    expect(formatWh(12_300)).toBe("12.3 kWh");
    expect(formatWh(123_456_789)).toBe("123.456789 MWh");
    expect(formatWh(-12_345)).toBe("-12.345 kWh");
  });
  it("writes power", () => {
    expect(formatW(800)).toBe("800 W");
    expect(formatW(42_000)).toBe("42 kW");
    expect(formatW(-1500)).toBe("-1,500 W");
  });
  it("refuses fractional or unsafe inputs instead of drifting", () => {
    expect(() => formatWh(1.5)).toThrow(RangeError);
    expect(() => formatWh(2 ** 60)).toThrow(RangeError);
    expect(formatWh(2n ** 60n)).toBe("1,152,921,504,606.846976 MWh");
  });
  it("averages power over an interval with integers", () => {
    expect(averagePowerW(250, 900)).toBe(1000n);
    expect(averagePowerW(1, 300)).toBe(12n);
  });
});

describe("money", () => {
  it("formats micro-units exactly with at least two decimals", () => {
    expect(formatMoney(0)).toBe("0.00");
    expect(formatMoney(25_000)).toBe("0.025");
    expect(formatMoney(10_000_000)).toBe("10.00");
    expect(formatMoney(1)).toBe("0.000001");
    expect(formatMoney(1_234_567_890_123)).toBe("1,234,567.890123");
    expect(formatMoney(-500_000, "EUR")).toBe("EUR -0.50");
    expect(formatRate(250_000)).toBe("0.25 / kWh");
  });
  it("has no float drift where floats would have it", () => {
    // 0.1 + 0.2 in micro-units stays 0.3 exactly
    expect(formatMoney(100_000 + 200_000)).toBe("0.30");
    // 2^53 - 1 micro-units, beyond what a double divides exactly by 10^6
    expect(formatMoney(Number.MAX_SAFE_INTEGER)).toBe("9,007,199,254.740991");
  });
  it("parses what people type into integers, refusing what it cannot keep exactly", () => {
    expect(parseMoneyToMicro("0.25")).toBe(250_000);
    expect(parseMoneyToMicro("1,5")).toBe(1_500_000);
    expect(parseMoneyToMicro(".1")).toBe(100_000);
    expect(parseMoneyToMicro("12")).toBe(12_000_000);
    expect(parseKwhToWh("10.5")).toBe(10_500);
    expect(() => parseMoneyToMicro("0.0000001")).toThrow(/more than 6 decimals/);
    expect(() => parseMoneyToMicro("-1")).toThrow(RangeError);
    expect(() => parseMoneyToMicro("1e3")).toThrow(RangeError);
    expect(() => parseMoneyToMicro("")).toThrow(RangeError);
    expect(() => parseMoneyToMicro("99999999999")).toThrow(/too large/);
    expect(parseDecimal("0.30000000000000004", 17)).toBe(30_000_000_000_000_004n);
  });
});

describe("other formats", () => {
  it("groups digits, permille, fixed point and UTC time", () => {
    expect(groupDigits(1_234_567)).toBe("1,234,567");
    expect(groupDigits(-1000)).toBe("-1,000");
    expect(fixedPoint(5, 3)).toBe("0.005");
    expect(formatPermille(530)).toBe("53.0 %");
    expect(formatPermille(1000)).toBe("100.0 %");
    expect(formatTime(1_795_459_500)).toBe("2026-11-23 18:45 UTC") // 1795459500 mod 86400 = 67500 s = 18:45;
  });
});
