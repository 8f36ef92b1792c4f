import { useState } from "preact/hooks";
import { allPages } from "../api/queries";
import type { Balance, Offer, Trade } from "../api/types";
import { BalanceCards } from "./dashboard";
import { Field, Notice, Page, Select, useLoad } from "../components/ui";
import { formatMoney, formatRate, formatTime, groupDigits, parseMoneyToMicro } from "../lib/format";
import { useApp } from "../state";

const TOKENS = ["Tgen", "Tstorage"] as const;
const STATUSES = ["active", "sold", "cancelled"] as const;

function toLocalInput(epoch: number): string {
  const d = new Date(epoch * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(text: string): number {
  const ms = new Date(text).getTime();
  if (Number.isNaN(ms)) throw new RangeError("enter a date and time");
  return Math.floor(ms / 1000);
}

async function loadOffers(api: ReturnType<typeof useApp>["api"], statuses: readonly string[]): Promise<Offer[]> {
  const lists = await Promise.all(statuses.flatMap((status) => TOKENS.map((token) =>
    allPages<Offer>(api, "/offers", "offers", { status, token }, 5))));
  return lists.flat().sort((a, b) => b.created_at - a.created_at);
}

function CreateOffer({ onDone }: { onDone: () => void }) {
  const { api, report } = useApp();
  const [token, setToken] = useState("Tgen");
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const now = Math.floor(Date.now() / 1000);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    try {
      const quantity = String(data.get("quantity_wh"));
      if (!/^\d+$/.test(quantity)) throw new RangeError("the quantity is a whole number of Wh");
      const reply = await api.post<Offer>("/offers", {
        token, quantity_wh: Number(quantity), rate_micro_per_kwh: parseMoneyToMicro(String(data.get("rate"))),
        valid_from: fromLocalInput(String(data.get("valid_from"))), valid_until: fromLocalInput(String(data.get("valid_until"))),
      });
      setMessage({ ok: `Offer ${reply.data.offer_id} created in block ${reply.block}.` });
      onDone();
    } catch (err) {
      setMessage({ error: err instanceof RangeError ? err.message : report(err) });
    }
  };
  return (
    <form class="form inline" onSubmit={submit} aria-labelledby="create-offer">
      <h2 id="create-offer">Offer tokens</h2>
      <Select label="Token" name="token" value={token} onChange={setToken} options={[["Tgen", "Tgen"], ["Tstorage", "Tstorage (free part only)"]]} />
      <Field label="Quantity (Wh)" name="quantity_wh" inputMode="numeric" pattern="[0-9]+" required />
      <Field label="Rate per kWh" name="rate" inputMode="decimal" pattern="[0-9]+([.,][0-9]{1,6})?" required hint="Money per kWh, up to 6 decimals (micro-units)." />
      <Field label="Valid from" name="valid_from" type="datetime-local" value={toLocalInput(now - 60)} required />
      <Field label="Valid until" name="valid_until" type="datetime-local" value={toLocalInput(now + 86400)} required />
      <button type="submit">Create offer</button>
      <Notice error={message.error} success={message.ok} />
    </form>
  );
}

function Trades({ offer }: { offer: Offer }) {
  const { api } = useApp();
  const trades = useLoad(() => api.get<{ trades: Trade[] }>(`/offers/${encodeURIComponent(offer.offer_id)}/trades`), [offer.offer_id, offer.remaining_wh]);
  if (!trades.data || trades.data.trades.length === 0) return null;
  return (
    <ul class="trades">
      {trades.data.trades.map((t) => (
        <li key={t.tx_id}>{formatTime(t.at)}: {groupDigits(t.quantity_wh)} Wh to {t.buyer} for {formatMoney(t.price_micro)} (tx <code title={t.tx_id}>{t.tx_id.slice(0, 12)}…</code>)</li>
      ))}
    </ul>
  );
}

function Accept({ offer, onDone }: { offer: Offer; onDone: () => void }) {
  const { api, report } = useApp();
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const submit = async (event: Event) => {
    event.preventDefault();
    const quantity = String(new FormData(event.currentTarget as HTMLFormElement).get("quantity_wh"));
    try {
      if (!/^\d+$/.test(quantity)) throw new RangeError("the quantity is a whole number of Wh");
      const reply = await api.post<Trade>(`/offers/${encodeURIComponent(offer.offer_id)}/accept`, { quantity_wh: Number(quantity) });
      setMessage({ ok: `Bought ${groupDigits(reply.data.quantity_wh)} Wh for ${formatMoney(reply.data.price_micro)} (block ${reply.block}).` });
      onDone();
    } catch (err) {
      setMessage({ error: err instanceof RangeError ? err.message : report(err) });
    }
  };
  return (
    <form class="accept" onSubmit={submit}>
      <label for={`q-${offer.offer_id}`}>Quantity (Wh) of offer {offer.offer_id.slice(0, 8)}</label>
      <input id={`q-${offer.offer_id}`} name="quantity_wh" inputMode="numeric" pattern="[0-9]+" value={String(offer.remaining_wh)} required />
      <button type="submit">Accept</button>
      <Notice error={message.error} success={message.ok} />
    </form>
  );
}

export function MarketPage() {
  const { api, me, report } = useApp();
  const balance = useLoad(() => api.get<Balance>("/me/balance"), []);
  const offers = useLoad(() => loadOffers(api, me?.role === "owner" ? STATUSES : ["active"]), [me?.role]);
  const [cancelled, setCancelled] = useState<string | null>(null);
  const mine = (offers.data ?? []).filter((o) => o.seller === me?.ledger_account);
  const others = (offers.data ?? []).filter((o) => o.seller !== me?.ledger_account && o.status === "active");
  const cancel = async (offer: Offer) => {
    try {
      await api.request("DELETE", `/offers/${encodeURIComponent(offer.offer_id)}`);
      setCancelled(`Offer ${offer.offer_id} cancelled; unsold tokens are back on your account.`);
      offers.reload();
      balance.reload();
    } catch (err) {
      setCancelled(report(err));
    }
  };
  return (
    <Page title="Market" intro={me?.role === "utility" ? "Active offers of Tgen and Tstorage. Accept all or part of one: your credit pays the seller." : "Offer your free Tgen and Tstorage; see who bought what."}>
      {balance.data && <BalanceCards balance={balance.data} />}
      <Notice error={offers.error} />
      {me?.role === "owner" && (
        <>
          <CreateOffer onDone={() => { offers.reload(); balance.reload(); }} />
          <h2>My offers</h2>
          {cancelled && <p role="status">{cancelled}</p>}
          {mine.length === 0 ? <p>No offers yet.</p> : (
            <table data-testid="my-offers">
              <thead><tr><th scope="col">Offer</th><th scope="col">Token</th><th scope="col">Remaining / quantity (Wh)</th><th scope="col">Rate</th><th scope="col">Valid until</th><th scope="col">Status</th><th scope="col">Actions and trades</th></tr></thead>
              <tbody>
                {mine.map((o) => (
                  <tr key={o.offer_id} data-offer={o.offer_id}>
                    <td><code>{o.offer_id}</code></td><td>{o.token}</td>
                    <td>{groupDigits(o.remaining_wh)} / {groupDigits(o.quantity_wh)}</td>
                    <td>{formatRate(o.rate_micro_per_kwh)}</td><td>{formatTime(o.valid_until)}</td><td>{o.status}</td>
                    <td>
                      {o.status === "active" && <button type="button" onClick={() => cancel(o)} aria-label={`Cancel offer ${o.offer_id}`}>Cancel</button>}
                      <Trades offer={o} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      <h2>{me?.role === "owner" ? "Other sellers' active offers" : "Active offers"}</h2>
      {others.length === 0 ? <p>No active offers.</p> : (
        <table data-testid="offers">
          <thead><tr><th scope="col">Offer</th><th scope="col">Seller</th><th scope="col">Token</th><th scope="col">Remaining (Wh)</th><th scope="col">Rate</th><th scope="col">Valid</th><th scope="col">Buy</th></tr></thead>
          <tbody>
            {others.map((o) => (
              <tr key={o.offer_id} data-offer={o.offer_id}>
                <td><code>{o.offer_id}</code></td><td>{o.seller}</td><td>{o.token}</td><td>{groupDigits(o.remaining_wh)}</td>
                <td>{formatRate(o.rate_micro_per_kwh)}</td><td>{formatTime(o.valid_from)} – {formatTime(o.valid_until)}</td>
                <td><Accept offer={o} onDone={() => { offers.reload(); balance.reload(); }} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
