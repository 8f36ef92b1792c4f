import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { ApiClient, ApiError, describeError, sessionTokenStore } from "./api/client";
import type { Me } from "./api/types";
import { Link } from "./components/ui";
import { openLive } from "./lib/live";
import { ActivityPage, VerifyTransactionPage } from "./pages/activity";
import { AdminPage } from "./pages/admin";
import { LoginPage, SignUpPage, VerifyEmailPage } from "./pages/auth";
import { ChartsPage } from "./pages/charts";
import { DashboardPage } from "./pages/dashboard";
import { IntegratorsPage } from "./pages/integrators";
import { MarketPage } from "./pages/market";
import { StatementsPage } from "./pages/statements";
import { AppContext, type AppState } from "./state";

const PUBLIC = new Set(["/login", "/signup", "/verify"]);

interface Route {
  path: string;
  label: string;
  roles: Me["role"][];
  page: () => ComponentChildren;
}

const ROUTES: Route[] = [
  { path: "/", label: "Dashboard", roles: ["owner"], page: () => <DashboardPage /> },
  { path: "/charts", label: "Charts", roles: ["owner"], page: () => <ChartsPage /> },
  { path: "/activity", label: "Ledger activity", roles: ["owner", "admin", "utility", "auditor"], page: () => <ActivityPage /> },
  { path: "/activity/verify", label: "Verify a transaction", roles: ["owner", "admin", "utility", "auditor"],
    page: () => <VerifyTransactionPage /> },
  { path: "/market", label: "Market", roles: ["owner", "utility"], page: () => <MarketPage /> },
  { path: "/statements", label: "Statements", roles: ["owner", "admin", "utility", "auditor"], page: () => <StatementsPage /> },
  { path: "/admin", label: "Admin", roles: ["admin"], page: () => <AdminPage /> },
  { path: "/integrators", label: "API keys", roles: ["owner", "admin", "utility", "auditor"], page: () => <IntegratorsPage /> },
];

function homeOf(me: Me): string {
  return me.role === "owner" ? "/" : me.role === "admin" ? "/admin" : me.role === "utility" ? "/market" : "/activity";
}

export function App() {
  const [location, setLocation] = useState(() => ({ path: window.location.pathname, search: window.location.search }));
  const [me, setMe] = useState<Me | null>(null);
  const [checked, setChecked] = useState(false);
  const [banner, setBanner] = useState<string | null>(null);
  const [ledgerTick, setLedgerTick] = useState(0);
  const [live, setLive] = useState<AppState["live"]>("off");
  const [liveEpoch, setLiveEpoch] = useState(0);

  const navigate = useCallback((to: string) => {
    window.history.pushState(null, "", to);
    const url = new URL(to, window.location.origin);
    setLocation({ path: url.pathname, search: url.search });
  }, []);

  const api = useMemo(() => new ApiClient({
    store: sessionTokenStore(),
    onSignedOut: () => {
      setMe(null);
      navigate("/login");
    },
  }), [navigate]);

  const report = useCallback((error: unknown) => {
    const text = describeError(error);
    if (error instanceof ApiError && error.isOutage) setBanner(text);
    return text;
  }, []);

  useEffect(() => {
    const onPop = () => setLocation({ path: window.location.pathname, search: window.location.search });
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);

  // Who is signed in (a reload keeps the session tokens of this tab).
  useEffect(() => {
    if (!api.store.get()) {
      setChecked(true);
      return;
    }
    api.get<Me>("/me").then(setMe, (error) => {
      report(error);
      if (error instanceof ApiError && error.status === 401) api.store.set(null);
    }).finally(() => setChecked(true));
  }, [api, report]);

  // Live updates: one stream for the signed-in person; every ledger event bumps the tick pages listen to.
  useEffect(() => {
    const tokens = api.store.get();
    if (!me || !tokens) {
      setLive("off");
      return;
    }
    let retry: ReturnType<typeof setTimeout> | undefined;
    const close = openLive({
      url: api.url("/events/stream", { access_token: tokens.access_token }),
      onEvent: () => setLedgerTick((n) => n + 1),
      onState: (state) => {
        setLive(state);
        if (state === "open") setBanner(null);
        // The stream closed for good (an expired token in the URL, or the gateway restarted): after a pause, a call
        // that refreshes the token if needed, then a new stream with the current token.
        if (state === "down" && retry === undefined) {
          retry = setTimeout(() => {
            api.get("/me").then(() => setLiveEpoch((n) => n + 1), () => setLiveEpoch((n) => n + 1));
          }, 5000);
        }
      },
    });
    return () => {
      clearTimeout(retry);
      close();
    };
  }, [api, me, liveEpoch]);

  useEffect(() => {
    const heading = document.querySelector("main h1") as HTMLElement | null;
    heading?.focus();
  }, [location.path]);

  const query = useMemo(() => new URLSearchParams(location.search), [location.search]);
  const state: AppState = { api, me, setMe, report, navigate, path: location.path, query, ledgerTick, live };

  let content: ComponentChildren;
  const route = ROUTES.find((r) => r.path === location.path);
  if (location.path === "/login") content = <LoginPage />;
  else if (location.path === "/signup") content = <SignUpPage />;
  else if (location.path === "/verify") content = <VerifyEmailPage />;
  else if (!checked) content = <p role="status">Loading…</p>;
  else if (!me) content = <LoginPage />;
  else if (!route) content = <NotFound />;
  else if (!route.roles.includes(me.role)) content = <Forbidden home={homeOf(me)} />;
  else content = route.page();

  const signOut = async () => {
    await api.logout();
    setMe(null);
    navigate("/login");
  };

  return (
    <AppContext.Provider value={state}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">VPP Ledger</span>
        {me && (
          <nav aria-label="Main">
            <ul>
              {ROUTES.filter((r) => r.roles.includes(me.role) && r.path !== "/activity/verify").map((r) => (
                <li key={r.path}>
                  <Link href={r.path} current={location.path === r.path}>{r.label}</Link>
                </li>
              ))}
            </ul>
          </nav>
        )}
        <div class="who">
          {me ? (
            <>
              <span class="live" data-state={live} title="Live updates from the ledger">
                {live === "open" ? "Live" : live === "down" ? "Live updates off" : live === "off" ? "" : "Connecting…"}
              </span>
              <span>{me.email} ({me.role})</span>
              <button type="button" onClick={signOut}>Log out</button>
            </>
          ) : !PUBLIC.has(location.path) ? null : (
            <>
              <Link href="/login" current={location.path === "/login"}>Log in</Link>
              <Link href="/signup" current={location.path === "/signup"}>Sign up</Link>
            </>
          )}
        </div>
      </header>
      {banner && (
        <div class="banner" role="alert">
          <span>{banner}</span>
          <button type="button" onClick={() => setBanner(null)}>Dismiss</button>
        </div>
      )}
      <main id="main">{content}</main>
    </AppContext.Provider>
  );
}

function NotFound() {
  return (
    <section>
      <h1 tabIndex={-1}>Page not found</h1>
      <p><Link href="/">Go to the start page</Link></p>
    </section>
  );
}

function Forbidden({ home }: { home: string }) {
  return (
    <section>
      <h1 tabIndex={-1}>Not available for your role</h1>
      <p><Link href={home}>Go to your start page</Link></p>
    </section>
  );
}
