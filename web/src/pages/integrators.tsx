import { useState } from "preact/hooks";
import type { ApiKey } from "../api/types";
import { Field, Notice, Page, useLoad } from "../components/ui";
import { formatTime } from "../lib/format";
import { useApp } from "../state";

export function IntegratorsPage() {
  const { api, report } = useApp();
  const keys = useLoad(() => api.get<{ api_keys: ApiKey[] }>("/api-keys", { limit: 200 }), [], false);
  const [created, setCreated] = useState<{ key: string; name: string } | null>(null);
  const [message, setMessage] = useState<{ error?: string; ok?: string }>({});
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get("name") ?? "").trim();
    try {
      const reply = await api.post<{ key: string; api_key: ApiKey }>("/api-keys", { name });
      setCreated({ key: reply.data.key, name });
      setMessage({});
      form.reset();
      keys.reload();
    } catch (err) {
      setMessage({ error: report(err) });
    }
  };
  const revoke = async (key: ApiKey) => {
    try {
      await api.request("DELETE", `/api-keys/${encodeURIComponent(key.key_id)}`);
      setMessage({ ok: `Key ${key.name} revoked.` });
      keys.reload();
    } catch (err) {
      setMessage({ error: report(err) });
    }
  };
  return (
    <Page title="API keys" intro="Keys for programs that call the REST API on your behalf: send the key as the X-API-Key header.">
      <form class="form inline" onSubmit={create}>
        <Field label="Key name" name="name" required maxLength={100} />
        <button type="submit">Create key</button>
      </form>
      {created && (
        <div class="notice ok" role="status">
          <p>Key {created.name} created. Copy it now: it is shown only once.</p>
          <label for="new-key">New API key</label>
          <input id="new-key" readOnly value={created.key} size={60} data-testid="new-key" onFocus={(e) => (e.target as HTMLInputElement).select()} />
        </div>
      )}
      <Notice error={message.error ?? keys.error} success={message.ok} />
      <table data-testid="api-keys">
        <thead><tr><th scope="col">Name</th><th scope="col">Ends with</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Status</th><th scope="col">Action</th></tr></thead>
        <tbody>
          {(keys.data?.api_keys ?? []).map((k) => (
            <tr key={k.key_id}>
              <td>{k.name}</td><td><code>…{k.last4}</code></td><td>{k.role}</td><td>{formatTime(k.created_at)}</td>
              <td>{k.revoked_at ? `revoked ${formatTime(k.revoked_at)}` : "active"}</td>
              <td>{!k.revoked_at && <button type="button" onClick={() => revoke(k)} aria-label={`Revoke key ${k.name}`}>Revoke</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
