import { useState } from "preact/hooks";
import { allPages, nowSeconds, siteAssets, utcMidnight, type AssetView } from "../api/queries";
import type { Balance, Site } from "../api/types";
import { Field, Link, Notice, Page, Select, useLoad } from "../components/ui";
import { energyBetween, latestPower } from "../lib/charts";
import { formatMoney, formatTime, formatTokens, formatW, formatWh, parseKwhToWh } from "../lib/format";
import { useApp } from "../state";

export function BalanceCards({ balance }: { balance: Balance }) {
  return (
    <dl class="cards" aria-label="Balances">
      <div><dt>Tgen</dt><dd data-testid="balance-tgen">{formatTokens(balance.Tgen, "Tgen")}</dd></div>
      <div>
        <dt>Tstorage</dt>
        <dd data-testid="balance-tstorage">{formatTokens(balance.Tstorage + balance.TstorageReserved, "Tstorage")}</dd>
        <dd class="sub">of which reserved: {formatTokens(balance.TstorageReserved, "Tstorage")}</dd>
      </div>
      <div><dt>Credit</dt><dd data-testid="balance-credit">{formatMoney(balance.credit_micro)}</dd></div>
    </dl>
  );
}

function AssetTable({ assets }: { assets: AssetView[] }) {
  const midnight = utcMidnight(nowSeconds());
  return (
    <table>
      <caption>Assets: average power over the last metered interval (a battery is negative while it charges), energy today (UTC)</caption>
      <thead><tr><th scope="col">Asset</th><th scope="col">Kind</th><th scope="col">Power</th><th scope="col">Last interval</th><th scope="col">Energy today</th></tr></thead>
      <tbody>
        {assets.map((a) => {
          const power = latestPower(a.events);
          const field = a.kind === "battery" ? "discharge_wh" : a.kind === "grid" ? "import_wh" : "wh";
          return (
            <tr key={a.asset_id}>
              <th scope="row">{a.asset_id}</th>
              <td>{a.kind}</td>
              <td>{power ? formatW(power.watts) : "no reading"}</td>
              <td>{power ? formatTime(power.start) : "–"}</td>
              <td>{formatWh(energyBetween(a.events, midnight, midnight + 86400, field))}{a.kind === "battery" ? " discharged" : ""}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function SiteCard({ site }: { site: Site }) {
  const { api } = useApp();
  const assets = useLoad(() => siteAssets(api, site, nowSeconds() - 86400), [site.site_id, site.assets.join()]);
  return (
    <article class="site" aria-labelledby={`site-${site.site_id}`}>
      <h2 id={`site-${site.site_id}`}>{site.site_id} <small>{site.location}</small></h2>
      {site.assets.length === 0 ? <p>No assets yet: add one below.</p>
        : assets.data ? <AssetTable assets={assets.data} /> : <Notice error={assets.error} />}
      <p><Link href={`/charts?site=${encodeURIComponent(site.site_id)}`}>Charts for {site.site_id}</Link></p>
    </article>
  );
}

function RegisterSite({ onDone }: { onDone: () => void }) {
  const { api, report } = useApp();
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    try {
      const reply = await api.post("/sites", { site_id: String(data.get("site_id")), location: String(data.get("location")) });
      setMessage({ ok: `Site ${data.get("site_id")} registered (transaction ${reply.txId?.slice(0, 12)}…, block ${reply.block}).` });
      form.reset();
      onDone();
    } catch (err) {
      setMessage({ error: report(err) });
    }
  };
  return (
    <form onSubmit={submit} class="form inline" aria-labelledby="register-site">
      <h3 id="register-site">Register a site</h3>
      <Field label="Site id" name="site_id" required maxLength={128} pattern="[^/]+" hint="Letters, digits, dashes; no slash." />
      <Field label="Location" name="location" maxLength={256} />
      <button type="submit">Register site</button>
      <Notice error={message.error} success={message.ok} />
    </form>
  );
}

export function AddAsset({ sites, onDone }: { sites: Site[]; onDone: () => void }) {
  const { api, report } = useApp();
  const [kind, setKind] = useState("generator");
  const [site, setSite] = useState(sites[0]?.site_id ?? "");
  const [chemistry, setChemistry] = useState("lfp");
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    try {
      const body: Record<string, unknown> = { asset_id: String(data.get("asset_id")), kind,
        max_power_w: Number.parseInt(String(data.get("max_power_w")), 10) };
      if (kind === "battery") body.battery = { chemistry, capacity_wh: parseKwhToWh(String(data.get("capacity_kwh"))) };
      const chosen = site || sites[0]?.site_id;
      await api.post(`/sites/${encodeURIComponent(chosen)}/assets`, body);
      setMessage({ ok: `Asset ${body.asset_id} added to ${chosen}. An operator registers its meter.` });
      form.reset();
      onDone();
    } catch (err) {
      setMessage({ error: report(err) });
    }
  };
  if (sites.length === 0) return null;
  return (
    <form onSubmit={submit} class="form inline" aria-labelledby="add-asset">
      <h3 id="add-asset">Add an asset</h3>
      <Select label="Site" name="site" value={site || sites[0].site_id} onChange={setSite}
        options={sites.map((s) => [s.site_id, s.site_id])} />
      <Field label="Asset id" name="asset_id" required maxLength={128} pattern="[^/]+" />
      <Select label="Kind" name="kind" value={kind} onChange={setKind}
        options={[["generator", "Generator"], ["battery", "Battery"], ["load", "Load"], ["grid", "Grid connection"]]} />
      <Field label="Maximum power (W)" name="max_power_w" type="number" min={1} step={1} required inputMode="numeric" />
      {kind === "battery" && (
        <>
          <Select label="Chemistry" name="chemistry" value={chemistry} onChange={setChemistry}
            options={[["lfp", "LFP"], ["nmc", "NMC"], ["lead_acid", "Lead-acid"], ["vanadium_flow", "Vanadium flow"]]} />
          <Field label="Capacity (kWh)" name="capacity_kwh" required inputMode="decimal" pattern="[0-9]+([.,][0-9]{1,3})?" hint="Up to 3 decimals (Wh precision)." />
        </>
      )}
      <button type="submit">Add asset</button>
      <Notice error={message.error} success={message.ok} />
    </form>
  );
}

export function DashboardPage() {
  const { api } = useApp();
  const balance = useLoad(() => api.get<Balance>("/me/balance"), []);
  const sites = useLoad(() => allPages<Site>(api, "/sites", "sites"), []);
  return (
    <Page title="Dashboard">
      {balance.data ? <BalanceCards balance={balance.data} /> : <Notice error={balance.error} />}
      {sites.error && <Notice error={sites.error} />}
      {sites.data?.map((site) => <SiteCard key={site.site_id} site={site} />)}
      {sites.data && sites.data.length === 0 && <p>You have no site yet. Register one to start.</p>}
      <div class="columns">
        <RegisterSite onDone={sites.reload} />
        {sites.data && <AddAsset sites={sites.data} onDone={sites.reload} />}
      </div>
    </Page>
  );
}
