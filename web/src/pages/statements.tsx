import { useState } from "preact/hooks";
import { allPages } from "../api/queries";
import { STATEMENT_FIELDS, type Site, type Statement } from "../api/types";
import { Field, Notice, Page, Select, useLoad } from "../components/ui";
import { formatTime, formatWh, groupDigits } from "../lib/format";
import { useApp } from "../state";

const LABELS: Record<string, string> = {
  generation_wh: "Generation", charge_wh: "Battery charge", discharge_wh: "Battery discharge", load_wh: "Consumption",
  import_wh: "Grid import (metered)", export_wh: "Grid export (metered)", minted_tgen: "Tgen minted",
  burned_tgen: "Tgen burned", minted_tstorage: "Tstorage minted", burned_tstorage: "Tstorage burned",
  grid_import_wh: "Consumption not covered by tokens",
};

function isoDay(epoch: number): string {
  return new Date(epoch * 1000).toISOString().slice(0, 10);
}

export function StatementsPage() {
  const { api, report } = useApp();
  const sites = useLoad(() => allPages<Site>(api, "/sites", "sites"), [], false);
  const today = Math.floor(Date.now() / 1000);
  const [site, setSite] = useState("");
  const [from, setFrom] = useState(isoDay(today - 86400));
  const [to, setTo] = useState(isoDay(today));
  const [statement, setStatement] = useState<Statement | null>(null);
  const [error, setError] = useState<string | null>(null);
  const chosen = site || sites.data?.[0]?.site_id || "";
  const period = { from, to };

  const show = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      setStatement(await api.get<Statement>(`/sites/${encodeURIComponent(chosen)}/statement`, period));
    } catch (err) {
      setError(report(err));
    }
  };

  const download = async (format: "csv" | "xml") => {
    setError(null);
    try {
      const reply = await api.request<string>("GET", `/sites/${encodeURIComponent(chosen)}/statement`,
        { query: { ...period, format }, as: "text" });
      const type = format === "csv" ? "text/csv" : "application/xml";
      const url = URL.createObjectURL(new Blob([reply.data], { type }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `statement-${chosen.replace(/[^A-Za-z0-9._-]/g, "_")}-${from}-${to}.${format}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(report(err));
    }
  };

  return (
    <Page title="Statements" intro="Invoice data per site and period, derived from the ledger. The downloads hold the same figures as the table.">
      <form class="form inline" onSubmit={show}>
        {sites.data && sites.data.length > 0 && (
          <Select label="Site" name="site" value={chosen} onChange={setSite} options={sites.data.map((s) => [s.site_id, s.site_id])} />
        )}
        <Field label="From (UTC day)" name="from" type="date" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} required />
        <Field label="To (UTC day, included)" name="to" type="date" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} required />
        <button type="submit" disabled={!chosen}>Show statement</button>
        <button type="button" disabled={!chosen} onClick={() => download("csv")}>Download CSV</button>
        <button type="button" disabled={!chosen} onClick={() => download("xml")}>Download XML</button>
      </form>
      <Notice error={error ?? sites.error} />
      {sites.data?.length === 0 && <p>No site to report on.</p>}
      {statement && (
        <table data-testid="statement-totals">
          <caption>{statement.site_id}: {formatTime(statement.from)} to {formatTime(statement.to)}, {statement.intervals.length} intervals</caption>
          <thead><tr><th scope="col">Total</th><th scope="col">Value</th><th scope="col">Wh</th></tr></thead>
          <tbody>
            {STATEMENT_FIELDS.map((name) => (
              <tr key={name} data-field={name}>
                <th scope="row">{LABELS[name]}</th>
                <td>{formatWh(statement.totals[name])}</td>
                <td class="num">{groupDigits(statement.totals[name])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
