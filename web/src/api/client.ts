// The one way the app talks to the gateway: same-origin REST under /api/v1, errors as ApiError with the gateway's
// machine-readable code, and a transparent refresh of an expired access token (once, shared by concurrent calls).

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export interface FieldProblem {
  field: string;
  code: string;
  message: string;
}

/** The gateway could not be reached at all (no HTTP answer): the network, a proxy, or the gateway is down. */
export const GATEWAY_UNREACHABLE = "GATEWAY_UNREACHABLE";
/** The gateway answered something that is not its JSON error shape (a proxy page, for example). */
export const BAD_RESPONSE = "BAD_RESPONSE";
/** Codes that mean "the service is down", not "your input is wrong": the UI shows them as a banner. */
export const OUTAGE_CODES = new Set([GATEWAY_UNREACHABLE, "LEDGER_UNAVAILABLE", "LEDGER_ERROR", "INTERNAL",
  "KEY_STORE_UNREADABLE", "STORE_VERSION_UNSUPPORTED"]);
const REFRESHABLE = new Set(["TOKEN_EXPIRED"]);

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldProblem[];
  readonly txId?: string;

  constructor(status: number, code: string, message: string, fields: FieldProblem[] = [], txId?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.txId = txId;
  }

  get isOutage(): boolean {
    return OUTAGE_CODES.has(this.code) || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

export interface Reply<T> {
  data: T;
  status: number;
  /** X-Tx-Id and X-Block of a submitted transaction. */
  txId: string | null;
  block: number | null;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** false: send no Authorization header (login, register, ...). */
  auth?: boolean;
  /** "text": the body as text (CSV/XML statements). */
  as?: "json" | "text";
}

export interface ClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  store: TokenStore;
  /** Called when the session ended (refresh refused): the app shows the login page. */
  onSignedOut?: (reason: ApiError) => void;
}

export function buildUrl(baseUrl: string, path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return `${baseUrl}/api/v1${path}${text ? `?${text}` : ""}`;
}

async function errorOf(response: Response): Promise<ApiError> {
  let parsed: unknown = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; fields?: unknown; tx_id?: unknown } })
    ?.error;
  if (error && typeof error.code === "string") {
    return new ApiError(response.status, error.code, typeof error.message === "string" ? error.message : error.code,
      Array.isArray(error.fields) ? (error.fields as FieldProblem[]) : [],
      typeof error.tx_id === "string" ? error.tx_id : undefined);
  }
  const code = response.status === 502 || response.status === 503 || response.status === 504
    ? GATEWAY_UNREACHABLE : BAD_RESPONSE;
  return new ApiError(response.status, code, `the gateway answered HTTP ${response.status} without an error code`);
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetcher: typeof fetch;
  readonly store: TokenStore;
  private readonly onSignedOut?: (reason: ApiError) => void;
  private refreshing: Promise<Tokens> | null = null;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl ?? "";
    this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    this.store = options.store;
    this.onSignedOut = options.onSignedOut;
  }

  url(path: string, query?: Query): string {
    return buildUrl(this.baseUrl, path, query);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    const auth = options.auth ?? true;
    const tokens = auth ? this.store.get() : null;
    try {
      return await this.send<T>(method, path, options, tokens?.access_token);
    } catch (error) {
      if (!(error instanceof ApiError) || !tokens || !REFRESHABLE.has(error.code)) throw error;
      const fresh = await this.refresh(tokens);
      return this.send<T>(method, path, options, fresh.access_token);
    }
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query }).then((reply) => reply.data);
  }

  post<T>(path: string, body: unknown): Promise<Reply<T>> {
    return this.request<T>("POST", path, { body });
  }

  /** One refresh at a time: concurrent 401s wait for the same new pair (a refresh token works once). */
  refresh(stale: Tokens): Promise<Tokens> {
    if (!this.refreshing) {
      this.refreshing = this.send<Tokens>("POST", "/auth/refresh", { body: { refresh_token: stale.refresh_token } })
        .then((reply) => {
          this.store.set(reply.data);
          return reply.data;
        }, (error: unknown) => {
          const reason = error instanceof ApiError ? error
            : new ApiError(0, GATEWAY_UNREACHABLE, String(error));
          if (!reason.isOutage) {
            this.store.set(null);
            this.onSignedOut?.(reason);
          }
          throw reason;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  async login(email: string, password: string): Promise<Tokens> {
    const reply = await this.request<Tokens>("POST", "/auth/login", { body: { email, password }, auth: false });
    this.store.set(reply.data);
    return reply.data;
  }

  async logout(): Promise<void> {
    const tokens = this.store.get();
    this.store.set(null);
    if (tokens) {
      await this.request("POST", "/auth/logout", { body: { refresh_token: tokens.refresh_token }, auth: false })
        .catch(() => undefined); // signed out locally whatever the gateway says
    }
  }

  private async send<T>(method: string, path: string, options: RequestOptions, access?: string): Promise<Reply<T>> {
    const headers: Record<string, string> = { Accept: options.as === "text" ? "*/*" : "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (access) headers.Authorization = `Bearer ${access}`;
    let response: Response;
    try {
      response = await this.fetcher(this.url(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch (error) {
      throw new ApiError(0, GATEWAY_UNREACHABLE, `the gateway cannot be reached (${String(error)})`);
    }
    if (!response.ok) throw await errorOf(response);
    const block = response.headers.get("X-Block");
    let data: unknown = null;
    if (response.status !== 204) {
      try {
        data = options.as === "text" ? await response.text() : await response.json();
      } catch {
        throw new ApiError(response.status, BAD_RESPONSE, "the gateway's answer is not valid JSON");
      }
    }
    return { data: data as T, status: response.status, txId: response.headers.get("X-Tx-Id"),
      block: block === null ? null : Number.parseInt(block, 10) };
  }
}

/** Tokens kept for the browser session (sessionStorage: gone when the tab closes, not shared between tabs). */
export function sessionTokenStore(storage: Storage | undefined = globalThis.sessionStorage): TokenStore {
  const key = "vpp.tokens";
  let memory: Tokens | null = null;
  return {
    get() {
      if (memory) return memory;
      const raw = storage?.getItem(key);
      memory = raw ? (JSON.parse(raw) as Tokens) : null;
      return memory;
    },
    set(tokens) {
      memory = tokens;
      if (tokens) storage?.setItem(key, JSON.stringify(tokens));
      else storage?.removeItem(key);
    },
  };
}

/** A human sentence for an error, with its code (what support and integrators search for). */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === GATEWAY_UNREACHABLE) return "The gateway cannot be reached. Check your connection and retry.";
    if (error.code === "LEDGER_UNAVAILABLE") return "The ledger is unavailable right now; nothing was changed. Retry shortly.";
    const fields = error.fields.map((f) => `${f.field}: ${f.message}`).join("; ");
    return `${error.message}${fields ? ` (${fields})` : ""} [${error.code}]`;
  }
  return String(error);
}
