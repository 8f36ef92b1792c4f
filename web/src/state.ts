// What every page shares: the API client, who is signed in, the outage banner, and a tiny history router.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ApiClient } from "./api/client";
import type { Me } from "./api/types";

export interface AppState {
  api: ApiClient;
  me: Me | null;
  setMe: (me: Me | null) => void;
  /** Report an error: outages go to the banner; returns the sentence to show next to a form. */
  report: (error: unknown) => string;
  navigate: (path: string) => void;
  path: string;
  query: URLSearchParams;
  /** Incremented on every ledger event from the live stream: pages reload their data on change. */
  ledgerTick: number;
  live: "connecting" | "open" | "down" | "off";
}

export const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const state = useContext(AppContext);
  if (!state) throw new Error("useApp outside <App>");
  return state;
}
