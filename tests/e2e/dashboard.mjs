// Reads what the web app's dashboard shows each owner, in headless Chromium (Debian's chromium, Playwright).
//
//   node tests/e2e/dashboard.mjs <scenario.json>
//
// scenario: {"base_url": "...", "chromium": "/usr/bin/chromium", "owners": [{"email", "password"}]}
// Prints one JSON line: [{"email", "tgen", "tstorage", "credit"}] with the texts of the balance cards.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(resolve(here, "..", "..", "web"), "package.json"));
const { chromium } = require("playwright-core");

const scenario = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = scenario.base_url;
// PITFALLS.md: without these flags Chromium keeps trying the closed network.
const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

const browser = await chromium.launch({ executablePath: scenario.chromium, args: flags, timeout: 30_000 });
const seen = [];
try {
  for (const owner of scenario.owners) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/login`);
    await page.getByLabel("E-mail").fill(owner.email);
    await page.getByLabel("Password").fill(owner.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(`${base}/`);
    const text = async (id) => (await page.getByTestId(id).textContent()).trim();
    await page.getByTestId("balance-tgen").filter({ hasText: /\d/ }).waitFor();
    seen.push({ email: owner.email, tgen: await text("balance-tgen"), tstorage: await text("balance-tstorage"),
      credit: await text("balance-credit") });
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(seen) + "\n");
