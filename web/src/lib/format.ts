// Integers in, strings out: energy (Wh), power (W), permille and money (micro-units) are formatted with BigInt
// arithmetic, so no value ever passes through a binary float (1.1 + 2.2 problems cannot appear).

type Int = number | bigint;

function toBig(value: Int): bigint {
  if (typeof value === "bigint") return value;
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  return BigInt(value);
}

/** 1234567 -> "1,234,567" (grouping for readability; the digits are exact). */
export function groupDigits(value: Int): string {
  const big = toBig(value);
  const digits = (big < 0n ? -big : big).toString();
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return big < 0n ? `-${grouped}` : grouped;
}

/** value / 10^scale written exactly, with at least `minDecimals` and at most `scale` decimals (trailing zeros cut). */
export function fixedPoint(value: Int, scale: number, minDecimals = 0): string {
  const big = toBig(value);
  const negative = big < 0n;
  const magnitude = negative ? -big : big;
  const unit = 10n ** BigInt(scale);
  const whole = magnitude / unit;
  let fraction = scale > 0 ? (magnitude % unit).toString().padStart(scale, "0") : "";
  while (fraction.length > minDecimals && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  const text = `${groupDigits(whole)}${fraction ? `.${fraction}` : ""}`;
  return negative && magnitude !== 0n ? `-${text}` : text;
}

/** Energy: below 10 kWh in Wh ("950 Wh", "9,999 Wh"), then kWh ("12.345 kWh"), then MWh; exact, never rounded. */
export function formatWh(wh: Int): string {
  const big = toBig(wh);
  const magnitude = big < 0n ? -big : big;
  if (magnitude < 10_000n) return `${groupDigits(big)} Wh`;
  if (magnitude < 10_000_000n) return `${fixedPoint(big, 3)} kWh`;
  return `${fixedPoint(big, 6)} MWh`;
}

/** Power: "800 W", "4.2 kW". */
export function formatW(w: Int): string {
  const big = toBig(w);
  const magnitude = big < 0n ? -big : big;
  return magnitude < 10_000n ? `${groupDigits(big)} W` : `${fixedPoint(big, 3)} kW`;
}

/** Tokens are Wh: "1,234 Tgen". */
export function formatTokens(amount: Int, token: string): string {
  return `${groupDigits(amount)} ${token}`;
}

export const MICRO_SCALE = 6;

/** Money from micro-units: 25000 -> "0.025", 10000000 -> "10.00"; with a currency code "EUR 0.025". */
export function formatMoney(micro: Int, currency = ""): string {
  const text = fixedPoint(micro, MICRO_SCALE, 2);
  return currency ? `${currency} ${text}` : text;
}

/** A rate in micro-units per kWh as money per kWh: 250000 -> "0.25 / kWh". */
export function formatRate(microPerKwh: Int, currency = ""): string {
  return `${formatMoney(microPerKwh, currency)} / kWh`;
}

/** 530 -> "53.0 %". */
export function formatPermille(permille: Int): string {
  return `${fixedPoint(permille, 1, 1)} %`;
}

/**
 * A decimal written by a person into integer units of 10^-scale: parseDecimal("0.25", 6) -> 250000.
 * Refuses more decimals than the scale (no silent rounding), signs, exponents and anything that is not digits.
 */
export function parseDecimal(text: string, scale: number): bigint {
  const trimmed = text.trim().replace(/[_\s]/g, "");
  const match = /^(\d+)(?:[.,](\d*))?$/.exec(trimmed) ?? /^()[.,](\d+)$/.exec(trimmed);
  if (!match) throw new RangeError(`"${text}" is not a positive decimal number`);
  const [, whole, fraction = ""] = match;
  if (fraction.length > scale) throw new RangeError(`"${text}" has more than ${scale} decimals`);
  return BigInt(whole || "0") * 10n ** BigInt(scale) + BigInt(fraction.padEnd(scale, "0") || "0");
}

/** parseDecimal for a JSON body: an integer the gateway accepts (at most 2^53). */
export function parseToSafeInteger(text: string, scale: number): number {
  const value = parseDecimal(text, scale);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`"${text}" is too large`);
  return Number(value);
}

/** Money typed by a person ("0.25") in micro-units. */
export function parseMoneyToMicro(text: string): number {
  return parseToSafeInteger(text, MICRO_SCALE);
}

/** Energy typed in kWh ("1.5") in Wh. */
export function parseKwhToWh(text: string): number {
  return parseToSafeInteger(text, 3);
}

/** Epoch seconds as "2026-11-23 19:45 UTC" (the ledger's intervals are UTC). */
export function formatTime(epochSeconds: number): string {
  const iso = new Date(epochSeconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** Average power over an interval from its energy: W = Wh * 3600 / seconds, integer (rounded down). */
export function averagePowerW(wh: Int, intervalSeconds: Int): bigint {
  const seconds = toBig(intervalSeconds);
  if (seconds <= 0n) throw new RangeError("interval must be positive");
  return (toBig(wh) * 3600n) / seconds;
}

/** A ledger id shortened for tables: the full id stays in the title attribute. */
export function shortId(id: string, keep = 10): string {
  return id.length > keep + 1 ? `${id.slice(0, keep)}…` : id;
}
