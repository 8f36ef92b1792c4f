// A new owner onboarded onto the running demo, in headless Chromium (test_demo_onboarding.py writes the scenario).
//
//   node tests/browser/onboarding.mjs <scenario.json>
//
// The owner signs up, verifies by the mail link (the demo gateway's log), logs in and registers a site with PV,
// battery and load; the installer's command (`python scripts/demo attach ... --json`) provisions the meter keys;
// the admin registers the three meters with those public keys on the web admin page; the owner's live dashboard
// shows Tgen from the simulated meters, then Tstorage once the battery charges; the owner offers Tstorage, the
// utility accepts it, the owner sees the trade and downloads the CSV and XML statements of the simulated day once
// the ledger holds all of it. Each step: a screenshot and axe-core. One JSON line on stdout; exit 1 on failure.

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiAsPage, fail, launch, log, login, poll, stepRecorder, verificationToken } from "./walk.mjs";

const scenario = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = scenario.base_url;
const artifacts = scenario.artifacts_dir;
const result = {};
const check = stepRecorder(artifacts, result);
const TIMEOUT = 20_000;
const wh = (n) => n.toLocaleString("en-US");

async function balance(page) {
  const answer = await apiAsPage(page, "/me/balance");
  if (answer.status !== 200) fail(`GET /me/balance: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function main() {
  const browser = await launch(scenario.chromium);
  try {
    const newContext = async () => {
      const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
      context.setDefaultTimeout(TIMEOUT);
      return context;
    };
    const owner = await (await newContext()).newPage();
    owner.on("pageerror", (error) => log(`owner page error: ${error.message}`));
    const { email, password } = scenario.owner;

    // 1. A new owner signs up and verifies with the link from the mail (LogMailer: the demo gateway's log)
    await owner.goto(`${base}/signup`);
    await owner.getByLabel("E-mail").fill(email);
    await owner.getByLabel("Display name").fill("New Demo Owner");
    await owner.getByLabel("Password").fill(password);
    await owner.getByRole("button", { name: "Create account" }).click();
    await owner.getByText(`Check the mailbox of ${email}`).waitFor();
    await check(owner, "signup");
    await owner.goto(`${base}/verify?token=${verificationToken(scenario.gateway_log, email)}`);
    await owner.getByText(`Your address ${email} is verified`).waitFor();
    await check(owner, "verified");

    // 2. Logs in and registers the site and its three assets, sized as the devices the installer will fit
    await login(owner, base, email, password, "/");
    await owner.getByRole("heading", { name: "Dashboard" }).waitFor();
    result.owner_account = (await apiAsPage(owner, "/me")).body.ledger_account;
    await owner.getByLabel("Site id").fill(scenario.site_id);
    await owner.getByLabel("Location").fill("Demo lane 7, Amersfoort");
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
    await check(owner, "owner-site-registered");

    // 3. The installer fits the edge device: provisions the meter keys, prints them for the admin
    const attachOutput = execFileSync(scenario.attach_command[0], scenario.attach_command.slice(1),
      { cwd: scenario.repo, encoding: "utf8", timeout: 60_000 });
    writeFileSync(join(artifacts, "attach.json"), attachOutput);
    const attached = JSON.parse(attachOutput);
    result.attach = attached.meters.map(({ meter_id, asset_id, kind, max_power_w }) => ({ meter_id, asset_id, kind,
      max_power_w }));

    // 4. The admin registers the three meters with the printed public keys (web admin page)
    const admin = await (await newContext()).newPage();
    await login(admin, base, scenario.admin.email, scenario.admin.password, "/admin");
    await check(admin, "admin");
    const meterForm = admin.locator("form", { has: admin.getByRole("heading", { name: "Register a meter" }) });
    for (const meter of attached.meters) {
      await meterForm.getByLabel("Asset id").fill(meter.asset_id);
      await meterForm.getByLabel("Meter id").fill(meter.meter_id);
      await meterForm.getByLabel("Interval").selectOption(String(meter.interval_s));
      await meterForm.getByLabel("Public key (PEM, ECDSA P-256)").fill(meter.public_key_pem);
      await meterForm.getByRole("button", { name: "Register meter" }).click();
      await meterForm.getByText(`Meter ${meter.meter_id} registered`).waitFor();
    }
    const registeredAt = Date.now();
    await check(admin, "admin-meters-registered");

    // 5. The owner's open dashboard shows Tgen from the simulated meters (live stream), within a minute
    await owner.getByText("Live", { exact: true }).waitFor();
    const tgenCard = owner.getByTestId("balance-tgen").filter({ hasText: /^[1-9][0-9,]* Tgen$/ });
    await tgenCard.waitFor({ timeout: scenario.tgen_within_s * 1000 });
    result.tgen_seconds = (Date.now() - registeredAt) / 1000;
    result.dashboard_tgen = (await tgenCard.textContent()).trim();
    await check(owner, "dashboard-tgen");

    // 6. The battery charges from PV: wait until the owner holds free Tstorage (the card shows it too)
    const held = await poll("free Tstorage on the owner's account", scenario.tstorage_within_s * 1000, async () => {
      const b = await balance(owner);
      return b.Tstorage >= scenario.min_free_tstorage ? b : null;
    });
    await owner.getByTestId("balance-tstorage").filter({ hasText: /^[1-9][0-9,]* Tstorage$/ }).waitFor();
    result.tstorage_held = held;
    result.tstorage_seconds = (Date.now() - registeredAt) / 1000;
    await check(owner, "dashboard-tstorage");

    // 7. The owner offers Tstorage (half of what is free: the load may burn some meanwhile)
    const quantity = Math.floor(held.Tstorage / 2);
    result.offer_quantity = quantity;
    await owner.getByRole("link", { name: "Market" }).click();
    await owner.getByRole("heading", { name: "Offer tokens" }).waitFor();
    await owner.getByLabel("Token", { exact: true }).selectOption("Tstorage");
    await owner.getByLabel("Quantity (Wh)").fill(String(quantity));
    await owner.getByLabel("Rate per kWh").fill(scenario.rate);
    await owner.getByRole("button", { name: "Create offer" }).click();
    const created = await owner.getByText(/^Offer [0-9a-f]+ created in block/).textContent();
    const offerId = created.split(" ")[1];
    result.offer_id = offerId;
    await owner.locator(`tr[data-offer="${offerId}"]`).waitFor();
    await check(owner, "market-offer-tstorage");

    // 8. The utility (the demo's account) accepts all of it
    const utility = await (await newContext()).newPage();
    await login(utility, base, scenario.utility.email, scenario.utility.password, "/market");
    const row = utility.locator(`tr[data-offer="${offerId}"]`);
    await row.waitFor();
    await check(utility, "utility-market");
    await row.getByLabel(/^Quantity \(Wh\)/).fill(String(quantity));
    await row.getByRole("button", { name: "Accept" }).click();
    await utility.getByText(`Bought ${wh(quantity)} Wh for`).waitFor();
    await check(utility, "utility-accepted");

    // 9. The owner sees the sale on the market page (live)
    const mine = owner.locator(`tr[data-offer="${offerId}"]`);
    await mine.getByText(`${wh(quantity)} Wh to ${scenario.utility.ledger_account}`).waitFor();
    await mine.getByRole("cell", { name: "sold" }).waitFor();
    result.credit_after_sale = (await owner.getByTestId("balance-credit").textContent()).trim();
    await check(owner, "market-sold");

    // 10. Statements of the simulated day, once the ledger holds its last interval from every meter
    const day = scenario.statement_day;
    const lastStart = Date.parse(`${day}T00:00:00Z`) / 1000 + 86_400 - 900;
    await poll(`the last interval of ${day} on the ledger`, scenario.day_complete_within_s * 1000, async () => {
      const s = await apiAsPage(owner, `/sites/${encodeURIComponent(scenario.site_id)}/statement?from=${day}&to=${day}`);
      const last = s.status === 200 ? s.body.intervals.at(-1) : null;
      // all three meters report every interval: the battery's and the load's energy are never both zero at night
      return last && last.start === lastStart && last.load_wh > 0 ? s.body : null;
    }, 1000);
    await new Promise((done) => setTimeout(done, 1500));  // the bridge's last batch of the day may still be landing
    await owner.getByRole("link", { name: "Statements" }).click();
    await owner.getByLabel("From (UTC day)").fill(day);
    await owner.getByLabel("To (UTC day, included)").fill(day);
    await owner.getByRole("button", { name: "Show statement" }).click();
    await owner.getByTestId("statement-totals").waitFor();
    result.statement_shown = {};
    for (const name of ["generation_wh", "minted_tgen", "charge_wh", "minted_tstorage", "load_wh"]) {
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
if ((result.violations ?? []).length > 0) status = 1;
writeFileSync(join(artifacts, "result.json"), JSON.stringify(result, null, 2));
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(status);
