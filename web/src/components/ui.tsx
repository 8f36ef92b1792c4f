import type { ComponentChildren, JSX } from "preact";
import { useEffect, useId, useState } from "preact/hooks";
import { useApp } from "../state";

export function Link({ href, current, children }: { href: string; current?: boolean; children: ComponentChildren }) {
  const { navigate } = useApp();
  const onClick = (event: MouseEvent) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={onClick} aria-current={current ? "page" : undefined}>{children}</a>;
}

type InputProps = JSX.InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string; name: string };

/** A labelled input; the hint is tied to it with aria-describedby. */
export function Field({ label, hint, name, ...input }: InputProps) {
  const id = `f-${name}-${useId()}`; // unique even when two forms on a page share a field name
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} name={name} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

export function Select({ label, name, options, value, onChange }: {
  label: string; name: string; options: [string, string][]; value: string; onChange: (value: string) => void;
}) {
  const id = `f-${name}-${useId()}`;
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} name={name} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {options.map(([v, text]) => <option key={v} value={v}>{text}</option>)}
      </select>
    </div>
  );
}

/** Form outcome: errors are announced (role=alert), successes politely (role=status). */
export function Notice({ error, success }: { error?: string | null; success?: ComponentChildren }) {
  if (error) return <p class="notice error" role="alert">{error}</p>;
  if (success) return <p class="notice ok" role="status">{success}</p>;
  return null;
}

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when its dependencies (or the live ledger tick) change; errors reported through the app. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], followLedger = true): Loaded<T> {
  const { report, ledgerTick } = useApp();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let alive = true;
    setLoading(true);
    load().then((value) => {
      if (alive) {
        setData(value);
        setError(null);
      }
    }, (err) => {
      if (alive) setError(report(err));
    }).finally(() => alive && setLoading(false));
    return () => {
      alive = false;
    };
  }, [...deps, nonce, followLedger ? ledgerTick : 0]);
  return { data, error, loading, reload: () => setNonce((n) => n + 1) };
}

export function Page({ title, children, intro }: { title: string; children: ComponentChildren; intro?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · VPP Ledger`;
  }, [title]);
  return (
    <section>
      <h1 tabIndex={-1}>{title}</h1>
      {intro && <p class="intro">{intro}</p>}
      {children}
    </section>
  );
}

export function Mono({ value, full }: { value: string; full?: boolean }) {
  return <code title={value}>{full ? value : value.length > 14 ? `${value.slice(0, 12)}…` : value}</code>;
}
