// End-to-end walk through the web app in headless Chromium (Playwright), against a running gateway.
//
//   node tests/browser/e2e.mjs <scenario.json>
//
// The scenario (written by test_web_e2e.py) names the gateway URL, its log (where LogMailer writes the
// verification mail), the accounts, an admin API key, the meters' public keys and the signed readings to post
// as the meter edge would. Each step saves a screenshot to the artifacts folder and runs axe-core on the page;
// the script prints one JSON line with what it saw and exits 1 on the first failure or any serious/critical
// accessibility violation.

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

import * as walk from "./walk.mjs";

const { fail, log } = walk;
const scenario = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = scenario.base_url;
const artifacts = scenario.artifacts_dir;
mkdirSync(artifacts, { recursive: true });
const TIMEOUT = 15_000;

const result = { steps: [], axe: {}, violations: [] };
const check = walk.stepRecorder(artifacts, result);
const login = (page, email, password, landing) => walk.login(page, base, email, password, landing);
const verificationToken = (email) => walk.verificationToken(scenario.gateway_log, email);

async function apiAsAdmin(method, path, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method, headers: { "X-API-Key": scenario.admin_api_key, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) fail(`${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
  return data;
}

async function textOf(page, testId) {
  return (await page.getByTestId(testId).textContent()).trim();
}

async function main() {
  const browser = await walk.launch(scenario.chromium);
  try {
    const ownerContext = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
    ownerContext.setDefaultTimeout(TIMEOUT);
    const owner = await ownerContext.newPage();
    owner.on("pageerror", (error) => log(`page error: ${error.message}`));
    const { email, password } = scenario.owner;

    // 1. Sign up
    await owner.goto(`${base}/signup`);
    await check(owner, "signup");
    await owner.getByLabel("E-mail").fill(email);
    await owner.getByLabel("Display name").fill("E2E Owner");
    await owner.getByLabel("Password").fill(password);
    await owner.getByRole("button", { name: "Create account" }).click();
    await owner.getByText(`Check the mailbox of ${email}`).waitFor();
    await check(owner, "signup-done");

    // 2. Verify with the link from the mail (read from the gateway's log: LogMailer)
    await owner.goto(`${base}/verify?token=${verificationToken(email)}`);
    await owner.getByText(`Your address ${email} is verified`).waitFor();
    await check(owner, "verified");

    // 3. Log in, keyboard only (labels reach the fields, Enter submits)
    await owner.goto(`${base}/login`);
    await check(owner, "login");
    await owner.getByLabel("E-mail").focus();
    await owner.keyboard.type(email);
    await owner.keyboard.press("Tab");
    await owner.keyboard.type(password);
    await owner.keyboard.press("Enter");
    await owner.waitForURL(`${base}/`);
    await owner.getByRole("heading", { name: "Dashboard" }).waitFor();
    const me = await owner.evaluate(async () => {
      const tokens = JSON.parse(sessionStorage.getItem("vpp.tokens"));
      const response = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${tokens.access_token}` } });
      return response.json();
    });
    result.owner_account = me.ledger_account;

    // 4. Register a site and its assets
    await owner.getByLabel("Site id").fill(scenario.site_id);
    await owner.getByLabel("Location").fill("Delft");
    await owner.getByRole("button", { name: "Register site" }).click();
    await owner.getByText(`Site ${scenario.site_id} registered`).waitFor();
    for (const asset of scenario.assets) {
      await owner.getByLabel("Asset id").fill(asset.asset_id);
      await owner.getByLabel("Kind").selectOption(asset.kind);
      await owner.getByLabel("Maximum power (W)").fill(String(asset.max_power_w));
      if (asset.kind === "battery") await owner.getByLabel("Capacity (kWh)").fill(asset.capacity_kwh);
      await owner.getByRole("button", { name: "Add asset" }).click();
      await owner.getByText(`Asset ${asset.asset_id} added to ${scenario.site_id}`).waitFor();
    }
    await owner.getByRole("row", { name: new RegExp(`^${scenario.assets[0].asset_id} `) }).waitFor();
    await check(owner, "dashboard-assets");

    // 5. The admin registers the meters with their public keys, and credits the utility
    const adminContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    adminContext.setDefaultTimeout(TIMEOUT);
    const admin = await adminContext.newPage();
    await login(admin, scenario.admin.email, scenario.admin.password, "/admin");
    await check(admin, "admin");
    const meterForm = admin.locator("form", { has: admin.getByRole("heading", { name: "Register a meter" }) });
    for (const meter of scenario.meters) {
      await meterForm.getByLabel("Asset id").fill(meter.asset_id);
      await meterForm.getByLabel("Meter id").fill(meter.meter_id);
      await meterForm.getByLabel("Interval").selectOption(String(meter.interval_s));
      await meterForm.getByLabel("Public key (PEM, ECDSA P-256)").fill(meter.public_key_pem);
      await meterForm.getByRole("button", { name: "Register meter" }).click();
      await meterForm.getByText(`Meter ${meter.meter_id} registered`).waitFor();
    }
    const creditForm = admin.locator("form", { has: admin.getByRole("heading", { name: "Deposit credit" }) });
    await creditForm.getByLabel("Account (ledger account)").fill(scenario.utility.ledger_account);
    await creditForm.getByLabel("Amount").fill(scenario.utility_credit);
    await creditForm.getByRole("button", { name: "Deposit" }).click();
    await creditForm.getByText(`Credit of ${scenario.utility.ledger_account} is now`).waitFor();
    await check(admin, "admin-meters");

    // 6. The meter edge posts signed readings (admin API key); the owner's open dashboard updates live (SSE)
    await owner.getByText("Live", { exact: true }).waitFor();
    const batch = await apiAsAdmin("POST", "/readings/batches", { readings: scenario.readings });
    result.batch = { accepted: batch.accepted, rejected: batch.rejected, duplicates: batch.duplicates };
    if (batch.accepted !== scenario.readings.length) fail(`readings not all accepted: ${JSON.stringify(batch.results)}`);
    const tgenText = `${scenario.expected_tgen.toLocaleString("en-US")} Tgen`;
    await owner.getByTestId("balance-tgen").filter({ hasText: tgenText }).waitFor();
    result.dashboard_tgen = await textOf(owner, "balance-tgen");
    result.dashboard_tstorage = await textOf(owner, "balance-tstorage");
    await owner.getByRole("cell", { name: /W$/ }).first().waitFor();
    await check(owner, "dashboard-tgen");

    // 7. Charts
    await owner.getByRole("link", { name: "Charts", exact: true }).click();
    await owner.getByRole("heading", { name: "Generation and Tgen" }).waitFor();
    await owner.locator(".uplot").first().waitFor();
    await check(owner, "charts");

    // 8. Ledger activity and verifying a transaction against the ledger
    await owner.getByRole("link", { name: "Ledger activity" }).click();
    await owner.locator('tr[data-type="mint"]').first().waitFor();
    result.activity_mints = await owner.locator('tr[data-type="mint"]').count();
    await check(owner, "activity");
    await owner.locator('tr[data-type="mint"] a').first().click();
    await owner.getByTestId("verified").waitFor();
    await check(owner, "verify-transaction");

    // 9. The owner offers Tgen
    await owner.getByRole("link", { name: "Market" }).click();
    await owner.getByRole("heading", { name: "Offer tokens" }).waitFor();
    await owner.getByLabel("Token", { exact: true }).selectOption("Tgen");
    await owner.getByLabel("Quantity (Wh)").fill(String(scenario.offer.quantity_wh));
    await owner.getByLabel("Rate per kWh").fill(scenario.offer.rate);
    await owner.getByRole("button", { name: "Create offer" }).click();
    const created = await owner.getByText(/^Offer [0-9a-f]+ created in block/).textContent();
    const offerId = created.split(" ")[1];
    result.offer_id = offerId;
    await owner.locator(`tr[data-offer="${offerId}"]`).waitFor();
    await check(owner, "market-offer");

    // 10. The utility accepts part of it
    const utilityContext = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    utilityContext.setDefaultTimeout(TIMEOUT);
    const utility = await utilityContext.newPage();
    await login(utility, scenario.utility.email, scenario.utility.password, "/market");
    const row = utility.locator(`tr[data-offer="${offerId}"]`);
    await row.waitFor();
    await check(utility, "utility-market");
    await row.getByLabel(/^Quantity \(Wh\)/).fill(String(scenario.offer.accept_wh));
    await row.getByRole("button", { name: "Accept" }).click();
    await utility.getByText(`Bought ${scenario.offer.accept_wh} Wh for`).waitFor();
    await check(utility, "utility-accepted");

    // 11. The owner sees the trade (live), then cancels the rest of the offer
    const mine = owner.locator(`tr[data-offer="${offerId}"]`);
    await mine.getByText(`${scenario.offer.accept_wh} Wh to ${scenario.utility.ledger_account}`).waitFor();
    await mine.getByRole("button", { name: `Cancel offer ${offerId}` }).click();
    await owner.getByText(`Offer ${offerId} cancelled`).waitFor();
    await mine.getByRole("cell", { name: "cancelled" }).waitFor();
    result.credit_after_trade = await textOf(owner, "balance-credit");
    await check(owner, "market-cancelled");

    // 12. Statement: show the totals, download the CSV and the XML
    await owner.getByRole("link", { name: "Statements" }).click();
    await owner.getByLabel("From (UTC day)").fill(scenario.period.from);
    await owner.getByLabel("To (UTC day, included)").fill(scenario.period.to);
    await owner.getByRole("button", { name: "Show statement" }).click();
    await owner.getByTestId("statement-totals").waitFor();
    result.statement_shown = {};
    for (const name of ["generation_wh", "minted_tgen", "burned_tgen", "minted_tstorage"]) {
      result.statement_shown[name] = (await owner.locator(`tr[data-field="${name}"] td.num`).textContent()).trim();
    }
    await check(owner, "statement");
    for (const format of ["csv", "xml"]) {
      const [download] = await Promise.all([owner.waitForEvent("download"),
        owner.getByRole("button", { name: `Download ${format.toUpperCase()}` }).click()]);
      const path = join(artifacts, download.suggestedFilename());
      await download.saveAs(path);
      result[`statement_${format}`] = path;
    }

    // 13. Integrators: create and revoke an API key
    await owner.getByRole("link", { name: "API keys" }).click();
    await owner.getByLabel("Key name").fill("e2e-integration");
    await owner.getByRole("button", { name: "Create key" }).click();
    const key = await owner.getByTestId("new-key").inputValue();
    const probe = await fetch(`${base}/api/v1/me`, { headers: { "X-API-Key": key } });
    result.api_key_works = probe.status === 200;
    await check(owner, "api-key-created");
    await owner.getByRole("button", { name: "Revoke key e2e-integration" }).click();
    await owner.getByText("Key e2e-integration revoked.").waitFor();
    const revoked = await fetch(`${base}/api/v1/me`, { headers: { "X-API-Key": key } });
    result.revoked_key_status = revoked.status;
    await check(owner, "api-key-revoked");

    // 14. A clear message when the gateway is unreachable (requests to the API fail at the network)
    await owner.route("**/api/v1/me/balance", (route) => route.abort("connectionrefused"));
    await owner.getByRole("link", { name: "Dashboard" }).click();
    await owner.getByRole("alert").filter({ hasText: "The gateway cannot be reached" }).first().waitFor();
    await check(owner, "gateway-unreachable");
    await owner.unroute("**/api/v1/me/balance");

    // 15. Log out: back to the login page, and the session is gone
    await owner.getByRole("button", { name: "Log out" }).click();
    await owner.waitForURL(`${base}/login`);
    result.tokens_after_logout = await owner.evaluate(() => sessionStorage.getItem("vpp.tokens"));
    await check(owner, "logged-out");
  } finally {
    await browser.close();
  }
}

let status = 0;
try {
  await main();
} catch (error) {
  result.error = String(error?.stack ?? error);
  status = 1;
}
if (result.violations.length > 0) status = 1;
writeFileSync(join(artifacts, "result.json"), JSON.stringify(result, null, 2));
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(status);
