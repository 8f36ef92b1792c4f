import { useEffect, useState } from "preact/hooks";
import type { Me } from "../api/types";
import { Field, Link, Notice, Page } from "../components/ui";
import { useApp } from "../state";

function formValues(event: Event): Record<string, string> {
  event.preventDefault();
  return Object.fromEntries(new FormData(event.currentTarget as HTMLFormElement)) as Record<string, string>;
}

export function SignUpPage() {
  const { api, report } = useApp();
  const [error, setError] = useState<string | null>(null);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    const { email, password, display_name } = formValues(event);
    setBusy(true);
    setError(null);
    try {
      await api.request("POST", "/auth/register", { body: { email, password, display_name }, auth: false });
      setSentTo(email);
    } catch (err) {
      setError(report(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title="Sign up" intro="Create an owner account for your sites and assets. We mail you a link to verify your address.">
      <form onSubmit={submit} class="form">
        <Field label="E-mail" name="email" type="email" autoComplete="email" required />
        <Field label="Display name" name="display_name" autoComplete="name" maxLength={100} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" required
          hint="At least 12 characters; a long passphrase is best." />
        <button type="submit" disabled={busy}>Create account</button>
        <Notice error={error} success={sentTo && <>Check the mailbox of {sentTo}: open the link to verify, then <Link href="/login">log in</Link>.</>} />
      </form>
      <p>Already registered? <Link href="/login">Log in</Link></p>
    </Page>
  );
}

export function VerifyEmailPage() {
  const { api, report, query } = useApp();
  const token = query.get("token") ?? "";
  const [state, setState] = useState<{ error?: string; email?: string | null }>({});
  useEffect(() => {
    if (!token) {
      setState({ error: "This link has no token. Open the link from the verification mail." });
      return;
    }
    api.request<Me>("POST", "/auth/verify", { body: { token }, auth: false })
      .then((reply) => setState({ email: reply.data.email }), (err) => setState({ error: report(err) }));
  }, [token]);
  return (
    <Page title="Verify your e-mail">
      {!state.error && state.email === undefined && <p role="status">Verifying…</p>}
      <Notice error={state.error} success={state.email !== undefined && <>Your address {state.email} is verified. You can now <Link href="/login">log in</Link>.</>} />
    </Page>
  );
}

export function LoginPage() {
  const { api, report, setMe, navigate, path } = useApp();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    const { email, password } = formValues(event);
    setBusy(true);
    setError(null);
    try {
      await api.login(email, password);
      const me = await api.get<Me>("/me");
      setMe(me);
      if (path === "/login") navigate(me.role === "owner" ? "/" : me.role === "admin" ? "/admin" : me.role === "utility" ? "/market" : "/activity");
    } catch (err) {
      setError(report(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title="Log in">
      <form onSubmit={submit} class="form">
        <Field label="E-mail" name="email" type="email" autoComplete="username" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        <button type="submit" disabled={busy}>Log in</button>
        <Notice error={error} />
      </form>
      <p>New here? <Link href="/signup">Sign up</Link></p>
    </Page>
  );
}
