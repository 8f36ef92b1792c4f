import { useEffect, useRef, useState } from "preact/hooks";
import type { LedgerEventData, Trade } from "../api/types";
import { Field, Link, Notice, Page, Select } from "../components/ui";
import { mergeRows, rowsOf, type ActivityRow } from "../lib/activity";
import { formatTime, groupDigits } from "../lib/format";
import { openLive } from "../lib/live";
import { useApp } from "../state";

const TYPES: [string, string][] = [["", "All"], ["mint", "Mint"], ["burn", "Burn"], ["exchange", "Exchange"],
  ["reserve", "Reserve"], ["release", "Release"], ["trade", "Trade"], ["offer", "Offer"]];

export function ActivityPage() {
  const { api } = useApp();
  const [rows, setRows] = useState<ActivityRow[]>([]);
  const [state, setState] = useState("connecting");
  const [type, setType] = useState("");
  useEffect(() => {
    const tokens = api.store.get();
    if (!tokens) return;
    // Replays the ledger from its first block: every event of the caller's accounts, then new ones live.
    return openLive({
      url: api.url("/events/stream", { from_block: 0, access_token: tokens.access_token }),
      onEvent: (data) => setRows((current) => mergeRows(current, rowsOf(data))),
      onState: setState,
    });
  }, [api]);
  const shown = type ? rows.filter((r) => r.type.startsWith(type)) : rows;
  return (
    <Page title="Ledger activity" intro="Every mint, burn, exchange, reserve, release and trade on your accounts, newest first, with its transaction and block.">
      <form class="form inline" onSubmit={(e) => e.preventDefault()}>
        <Select label="Event type" name="type" value={type} onChange={setType} options={TYPES} />
      </form>
      <p role="status">{state === "open" ? `${rows.length} events; new ones appear as they are committed.` : state === "down" ? "The event stream is unavailable." : "Reading the ledger…"}</p>
      <p><Link href="/activity/verify">Verify a transaction against the ledger</Link></p>
      <div class="scroll">
        <table data-testid="activity">
          <caption class="visually-hidden">Ledger events</caption>
          <thead><tr><th scope="col">Block</th><th scope="col">Transaction</th><th scope="col">Event</th><th scope="col">Token</th><th scope="col">Amount (Wh)</th><th scope="col">Asset</th><th scope="col">Interval</th><th scope="col">Details</th></tr></thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.key} data-type={r.type}>
                <td>{r.block}</td>
                <td><Link href={`/activity/verify?tx=${r.txId}&block=${r.block}`}><code title={r.txId}>{r.txId.slice(0, 12)}…</code></Link></td>
                <td>{r.type}</td>
                <td>{r.token}</td>
                <td>{r.amount === null ? "" : groupDigits(r.amount)}</td>
                <td>{r.asset}</td>
                <td>{r.start === null ? "" : formatTime(r.start)}</td>
                <td class="detail">{r.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

type Outcome = { found: LedgerEventData; trade?: Trade | null } | { missing: string };

/** Looks the transaction up in the ledger's own event replay (from its block) and cross-checks a trade. */
export function VerifyTransactionPage() {
  const { api, query, report } = useApp();
  const [txId, setTxId] = useState(query.get("tx") ?? "");
  const [block, setBlock] = useState(query.get("block") ?? "");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState<string | null>(null);
  const stop = useRef<() => void>(() => undefined);
  useEffect(() => () => stop.current(), []);

  const verify = (event?: Event) => {
    event?.preventDefault();
    const tokens = api.store.get();
    const wanted = txId.trim();
    if (!tokens || !/^[0-9A-Za-z_-]{8,128}$/.test(wanted)) {
      setError("Enter a transaction id (the X-Tx-Id of a submit, or one from the activity list).");
      return;
    }
    const fromBlock = /^\d+$/.test(block.trim()) ? Number(block.trim()) : 0;
    setBusy(true);
    setError(null);
    setOutcome(null);
    stop.current();
    let idle: ReturnType<typeof setTimeout>;
    const finish = (result: Outcome) => {
      clearTimeout(idle);
      stop.current();
      setBusy(false);
      setOutcome(result);
    };
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish({ missing: `No event of ${wanted} on your accounts from block ${fromBlock} on.` }), 4000);
    };
    armIdle();
    stop.current = openLive({
      url: api.url("/events/stream", { from_block: fromBlock, access_token: tokens.access_token }),
      onEvent: async (data) => {
        armIdle();
        if (data.tx_id === wanted) {
          const offerId = data.events.map((e) => e.offer_id).find((v): v is string => typeof v === "string");
          let trade: Trade | null = null;
          if (offerId && data.events.some((e) => e.type === "trade")) {
            try {
              const answer = await api.get<{ trades: Trade[] }>(`/offers/${encodeURIComponent(offerId)}/trades`);
              trade = answer.trades.find((t) => t.tx_id === wanted) ?? null;
            } catch (err) {
              setError(report(err));
            }
          }
          finish({ found: data, trade });
        } else if (block.trim() && data.block > fromBlock) {
          finish({ missing: `Transaction ${wanted} has no event in block ${fromBlock}.` });
        }
      },
      onState: (state) => state === "down" && finish({ missing: "The event stream is unavailable; nothing could be verified." }),
    });
  };

  useEffect(() => {
    if (query.get("tx")) verify();
  }, []);

  return (
    <Page title="Verify a transaction" intro="Checks that the ledger itself holds this transaction: the gateway replays the ledger's committed blocks and we look for it.">
      <form class="form inline" onSubmit={verify}>
        <Field label="Transaction id" name="tx" value={txId} onInput={(e) => setTxId((e.target as HTMLInputElement).value)} required />
        <Field label="Block (optional)" name="block" value={block} inputMode="numeric" pattern="[0-9]*"
          onInput={(e) => setBlock((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>Verify</button>
      </form>
      {busy && <p role="status">Searching the ledger…</p>}
      <Notice error={error} />
      {outcome && "missing" in outcome && <p class="notice error" role="alert">Not verified: {outcome.missing}</p>}
      {outcome && "found" in outcome && (
        <div class="notice ok" role="status" data-testid="verified">
          <p>Verified: transaction <code>{outcome.found.tx_id}</code> is committed in block {outcome.found.block} with {outcome.found.events.length} event(s) on your accounts.</p>
          {outcome.trade && <p>The trade record matches: {groupDigits(outcome.trade.quantity_wh)} Wh of {outcome.trade.token} for {groupDigits(outcome.trade.price_micro)} micro-units.</p>}
          <pre tabIndex={0} aria-label="Events of the transaction">{JSON.stringify(outcome.found.events, null, 2)}</pre>
        </div>
      )}
      <p class="intro">What the API does not offer yet: a lookup of a transaction by id (its validation code, block hash, endorsements and the signed reading it carried). Transactions without token events (a site registration, for example) cannot be found this way.</p>
    </Page>
  );
}
