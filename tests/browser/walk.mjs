// What a browser walk through the web app needs, whatever it walks: Debian's Chromium with the flags of
// PITFALLS.md, a step recorder (full-page screenshot + axe-core on every step), logging in, and the verification
// token that LogMailer wrote to the gateway's log. Playwright and axe-core come from web/node_modules.
//
// Used by e2e.mjs and onboarding.mjs.

import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(resolve(here, "..", "..", "web"), "package.json"));
const { chromium } = require("playwright-core");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// PITFALLS.md: without these flags Chromium keeps trying the closed network.
export const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

export function log(message) {
  process.stderr.write(`[walk] ${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

export function fail(message) {
  throw new Error(message);
}

export async function launch(executablePath) {
  return chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true, timeout: 30_000 });
}

/** Steps numbered in order: each saves `NN-name.png` in `artifacts` and runs axe-core on the page; serious and
 * critical findings are collected in `result.violations` (the caller fails on any). */
export function stepRecorder(artifacts, result) {
  mkdirSync(artifacts, { recursive: true });
  result.steps ??= [];
  result.axe ??= {};
  result.violations ??= [];
  let number = 0;
  return async function check(page, name) {
    number += 1;
    const file = `${String(number).padStart(2, "0")}-${name}.png`;
    await page.screenshot({ path: join(artifacts, file), fullPage: true });
    await page.addScriptTag({ content: axeSource });
    const violations = await page.evaluate(async () => {
      const report = await globalThis.axe.run(document, { resultTypes: ["violations"] });
      return report.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
    });
    const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    result.axe[name] = { violations: violations.length, serious: serious.length };
    for (const v of serious) result.violations.push({ step: name, ...v });
    result.steps.push({ name, screenshot: file, url: page.url() });
    log(`${name}: ${violations.length} axe findings, ${serious.length} serious/critical`);
  };
}

export async function login(page, base, email, password, landing) {
  await page.goto(`${base}/login`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${base}${landing}`);
}

/** The token of the last verification mail to `email` in the gateway's log (LogMailer writes whole mails). */
export function verificationToken(gatewayLog, email) {
  const text = readFileSync(gatewayLog, "utf8");
  const escaped = email.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const tokens = [...text.matchAll(new RegExp(`mail to ${escaped}:[\\s\\S]*?[?&]token=([A-Za-z0-9._~%-]+)`, "g"))]
    .map((m) => m[1]);
  if (tokens.length === 0) fail(`no verification mail to ${email} in ${gatewayLog}`);
  return tokens.at(-1);
}

/** GET an API path with the page's own session (its access token in sessionStorage), as the app would. */
export async function apiAsPage(page, path) {
  return page.evaluate(async (p) => {
    const tokens = JSON.parse(sessionStorage.getItem("vpp.tokens"));
    const response = await fetch(`/api/v1${p}`, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    return { status: response.status, body: await response.json() };
  }, path);
}

export async function poll(what, timeoutMs, probe, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) fail(`${what}: not within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((done) => setTimeout(done, everyMs));
  }
}
