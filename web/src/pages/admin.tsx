import { useState } from "preact/hooks";
import { allPages } from "../api/queries";
import type { Site } from "../api/types";
import { Field, Notice, Page, Select, useLoad } from "../components/ui";
import { formatMoney, parseMoneyToMicro } from "../lib/format";
import { useApp } from "../state";
import { AddAsset } from "./dashboard";

type Message = { error?: string; ok?: string };

/** Submits a form's fields as JSON; `shape` turns the raw strings into the body. */
function useSubmit(path: (data: FormData) => string, shape: (data: FormData) => unknown, done: (reply: unknown) => string,
  method = "POST") {
  const { api, report } = useApp();
  const [message, setMessage] = useState<Message>({});
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    try {
      const reply = await api.request(method, path(data), { body: shape(data) });
      setMessage({ ok: done(reply.data) + (reply.block !== null ? ` (block ${reply.block})` : "") });
      form.reset();
    } catch (err) {
      setMessage({ error: err instanceof RangeError ? err.message : report(err) });
    }
  };
  return { message, submit };
}

const text = (data: FormData, name: string) => String(data.get(name) ?? "").trim();

export function AdminPage() {
  const { api } = useApp();
  const sites = useLoad(() => allPages<Site>(api, "/sites", "sites"), []);
  const [interval, setInterval] = useState("900");
  const [role, setRole] = useState("utility");
  const site = useSubmit(() => "/sites", (d) => ({ site_id: text(d, "site_id"), location: text(d, "location"), owner: text(d, "owner") }),
    () => "Site registered");
  const meter = useSubmit((d) => `/assets/${encodeURIComponent(text(d, "asset_id"))}/meters`,
    (d) => ({ meter_id: text(d, "meter_id"), interval_s: Number(interval), public_key_pem: String(d.get("public_key_pem") ?? "") }),
    (r) => `Meter ${(r as { meter_id: string }).meter_id} registered`);
  const deposit = useSubmit(() => "/credit/deposits", (d) => ({ account: text(d, "account"), amount_micro: parseMoneyToMicro(text(d, "amount")) }),
    (r) => `Credit of ${(r as { account: string }).account} is now ${formatMoney((r as { credit_micro: number }).credit_micro)}`);
  const account = useSubmit(() => "/accounts", (d) => ({ email: text(d, "email"), password: String(d.get("password") ?? ""), role,
    org: role === "admin" ? "Org1MSP" : "Org2MSP" }), (r) => `Account ${(r as { ledger_account: string }).ledger_account} created`);
  return (
    <Page title="Admin" intro="Register sites for owners, their assets, and the meters whose keys sign energy.">
      <div class="columns">
        <form class="form" onSubmit={site.submit} aria-labelledby="admin-site">
          <h2 id="admin-site">Register a site</h2>
          <Field label="Site id" name="site_id" required pattern="[^/]+" maxLength={128} />
          <Field label="Location" name="location" maxLength={256} />
          <Field label="Owner (ledger account)" name="owner" required hint="For example Org1MSP:acc_…" />
          <button type="submit">Register site</button>
          <Notice error={site.message.error} success={site.message.ok} />
        </form>
        {sites.data && sites.data.length > 0 && <AddAsset sites={sites.data} onDone={sites.reload} />}
        <form class="form" onSubmit={meter.submit} aria-labelledby="admin-meter">
          <h2 id="admin-meter">Register a meter</h2>
          <Field label="Asset id" name="asset_id" required pattern="[^/]+" />
          <Field label="Meter id" name="meter_id" required pattern="[^/]+" maxLength={128} />
          <Select label="Interval" name="interval_s" value={interval} onChange={setInterval} options={[["900", "15 minutes"], ["300", "5 minutes"]]} />
          <div class="field">
            <label for="f-public_key_pem">Public key (PEM, ECDSA P-256)</label>
            <textarea id="f-public_key_pem" name="public_key_pem" rows={5} required placeholder="-----BEGIN PUBLIC KEY-----" />
          </div>
          <button type="submit">Register meter</button>
          <Notice error={meter.message.error} success={meter.message.ok} />
        </form>
        <form class="form" onSubmit={deposit.submit} aria-labelledby="admin-credit">
          <h2 id="admin-credit">Deposit credit</h2>
          <Field label="Account (ledger account)" name="account" required />
          <Field label="Amount" name="amount" inputMode="decimal" required pattern="[0-9]+([.,][0-9]{1,6})?" />
          <button type="submit">Deposit</button>
          <Notice error={deposit.message.error} success={deposit.message.ok} />
        </form>
        <form class="form" onSubmit={account.submit} aria-labelledby="admin-account">
          <h2 id="admin-account">Create a utility, auditor or admin account</h2>
          <Field label="E-mail" name="email" type="email" required autoComplete="off" />
          <Field label="Password" name="password" type="password" required autoComplete="new-password" />
          <Select label="Role" name="role" value={role} onChange={setRole} options={[["utility", "Utility"], ["auditor", "Auditor"], ["admin", "Admin"]]} />
          <button type="submit">Create account</button>
          <Notice error={account.message.error} success={account.message.ok} />
        </form>
      </div>
      <h2>Sites</h2>
      <Notice error={sites.error} />
      <table>
        <thead><tr><th scope="col">Site</th><th scope="col">Owner</th><th scope="col">Location</th><th scope="col">Assets</th></tr></thead>
        <tbody>
          {(sites.data ?? []).map((s) => (
            <tr key={s.site_id}><td>{s.site_id}</td><td><code>{s.owner}</code></td><td>{s.location}</td><td>{s.assets.join(", ")}</td></tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
