import { useState } from "preact/hooks";
import { allPages, nowSeconds, siteAssets } from "../api/queries";
import type { Site } from "../api/types";
import { Chart } from "../components/Chart";
import { Notice, Page, Select, useLoad } from "../components/ui";
import { batteryChart, consumptionChart, generationChart } from "../lib/charts";
import { useApp } from "../state";

const PERIODS: [string, string][] = [["86400", "Last 24 hours"], ["259200", "Last 3 days"], ["604800", "Last 7 days"]];

export function ChartsPage() {
  const { api, query, navigate } = useApp();
  const sites = useLoad(() => allPages<Site>(api, "/sites", "sites"), [], false);
  const [period, setPeriod] = useState("86400");
  const siteId = query.get("site") ?? sites.data?.[0]?.site_id ?? "";
  const site = sites.data?.find((s) => s.site_id === siteId);
  const assets = useLoad(async () => (site ? siteAssets(api, site, nowSeconds() - Number(period)) : []),
    [siteId, period, site?.assets.join()]);
  const of = (kind: string) => (assets.data ?? []).filter((a) => a.kind === kind);
  const loadEvents = of("load").flatMap((a) => a.events);
  return (
    <Page title="Charts" intro="Interval values from the ledger (UTC). Each chart has its numbers in a table below it.">
      <form class="form inline" onSubmit={(e) => e.preventDefault()}>
        {sites.data && sites.data.length > 0 && (
          <Select label="Site" name="site" value={siteId} options={sites.data.map((s) => [s.site_id, s.site_id])}
            onChange={(v) => navigate(`/charts?site=${encodeURIComponent(v)}`)} />
        )}
        <Select label="Period" name="period" value={period} options={PERIODS} onChange={setPeriod} />
      </form>
      <Notice error={sites.error ?? assets.error} />
      {sites.data?.length === 0 && <p>No site yet.</p>}
      {assets.data && (
        <>
          <h2>Generation and Tgen</h2>
          <Chart title="Generation per interval and Tgen minted" axis="Wh" data={generationChart(of("generator").flatMap((a) => a.events))} />
          {of("battery").map((b) => (
            <div key={b.asset_id}>
              <h2>Battery {b.asset_id}</h2>
              <Chart title={`${b.asset_id}: state of charge and Tstorage`} axis="Tstorage (Wh)" right={[0]}
                data={batteryChart(b.events, of("battery").length === 1 ? loadEvents : [])} />
            </div>
          ))}
          <h2>Consumption</h2>
          <Chart title="Consumption and what covered it" axis="Wh" data={consumptionChart(loadEvents)} />
        </>
      )}
    </Page>
  );
}
