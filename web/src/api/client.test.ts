import { describe, expect, it } from "vitest";
import { ApiClient, ApiError, GATEWAY_UNREACHABLE, type Tokens, type TokenStore } from "./client";

function memoryStore(initial: Tokens | null = null): TokenStore & { value: Tokens | null } {
  return { value: initial, get() { return this.value; }, set(t) { this.value = t; } };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** The ApiError a call fails with (fails the test if it succeeds). */
async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error("expected the call to fail");
}

interface Call { url: string; auth: string | null; body: unknown }

/** A fake gateway: answers from `route` and records every call. */
function fakeFetch(route: (call: Call, n: number) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetcher = async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const call = { url: String(input), auth: headers.get("Authorization"),
      body: init?.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(call);
    return route(call, calls.length);
  };
  return { calls, fetcher: fetcher as typeof fetch };
}

describe("ApiClient errors", () => {
  it("turns the gateway's error body into an ApiError with code, status and fields", async () => {
    const { fetcher } = fakeFetch(() => json(422, { error: { code: "VALIDATION_ERROR", message: "bad body",
      fields: [{ field: "body.quantity_wh", code: "int_type", message: "Input should be a valid integer" }] } }));
    const api = new ApiClient({ fetch: fetcher, store: memoryStore() });
    const error = await failure(api.post("/offers", { quantity_wh: 1.5 }));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.status).toBe(422);
    expect(error.fields[0].field).toBe("body.quantity_wh");
    expect(error.isOutage).toBe(false);
  });

  it("reports a network failure as GATEWAY_UNREACHABLE, an outage", async () => {
    const api = new ApiClient({ fetch: (async () => { throw new TypeError("Failed to fetch"); }) as typeof fetch,
      store: memoryStore() });
    const error = await failure(api.get("/me"));
    expect(error.code).toBe(GATEWAY_UNREACHABLE);
    expect(error.status).toBe(0);
    expect(error.isOutage).toBe(true);
  });

  it("marks LEDGER_UNAVAILABLE as an outage and a non-JSON 502 as unreachable", async () => {
    const ledger = new ApiClient({ fetch: fakeFetch(() => json(503, { error: { code: "LEDGER_UNAVAILABLE", message: "down" } })).fetcher, store: memoryStore() });
    expect((await failure(ledger.get("/me/balance"))).isOutage).toBe(true);
    const proxy = new ApiClient({ fetch: fakeFetch(() => new Response("<html>Bad gateway</html>", { status: 502 })).fetcher, store: memoryStore() });
    expect((await failure(proxy.get("/me"))).code).toBe(GATEWAY_UNREACHABLE);
  });

  it("returns the transaction id and block of a submit", async () => {
    const { fetcher } = fakeFetch(() => json(201, { site_id: "s" }, { "X-Tx-Id": "abc", "X-Block": "7" }));
    const reply = await new ApiClient({ fetch: fetcher, store: memoryStore() }).post("/sites", { site_id: "s" });
    expect(reply.txId).toBe("abc");
    expect(reply.block).toBe(7);
  });
});

describe("ApiClient token refresh", () => {
  it("refreshes an expired access token once and retries with the new one", async () => {
    const store = memoryStore({ access_token: "old", refresh_token: "r1" });
    const { calls, fetcher } = fakeFetch((call) => {
      if (call.url.endsWith("/auth/refresh")) return json(200, { access_token: "new", refresh_token: "r2" });
      return call.auth === "Bearer new" ? json(200, { ok: true })
        : json(401, { error: { code: "TOKEN_EXPIRED", message: "expired" } });
    });
    const api = new ApiClient({ fetch: fetcher, store });
    expect(await api.get("/me")).toEqual({ ok: true });
    expect(store.value).toEqual({ access_token: "new", refresh_token: "r2" });
    expect(calls.map((c) => c.url.replace(/.*\/api\/v1/, ""))).toEqual(["/me", "/auth/refresh", "/me"]);
    expect(calls[1].body).toEqual({ refresh_token: "r1" });
  });

  it("shares one refresh between concurrent calls (a refresh token works once)", async () => {
    const store = memoryStore({ access_token: "old", refresh_token: "r1" });
    let refreshes = 0;
    const { fetcher } = fakeFetch(async (call) => {
      if (call.url.endsWith("/auth/refresh")) {
        refreshes += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return json(200, { access_token: "new", refresh_token: "r2" });
      }
      return call.auth === "Bearer new" ? json(200, { url: call.url })
        : json(401, { error: { code: "TOKEN_EXPIRED", message: "expired" } });
    });
    const api = new ApiClient({ fetch: fetcher, store });
    const answers = await Promise.all([api.get("/me"), api.get("/me/balance"), api.get("/sites")]);
    expect(answers).toHaveLength(3);
    expect(refreshes).toBe(1);
  });

  it("signs out when the refresh token is refused, and does not retry other 401 codes", async () => {
    const store = memoryStore({ access_token: "old", refresh_token: "r1" });
    const signedOut: string[] = [];
    const { calls, fetcher } = fakeFetch((call) => call.url.endsWith("/auth/refresh")
      ? json(401, { error: { code: "TOKEN_REVOKED", message: "revoked" } })
      : json(401, { error: { code: "TOKEN_EXPIRED", message: "expired" } }));
    const api = new ApiClient({ fetch: fetcher, store, onSignedOut: (e) => signedOut.push(e.code) });
    const error = await failure(api.get("/me"));
    expect(error.code).toBe("TOKEN_REVOKED");
    expect(store.value).toBeNull();
    expect(signedOut).toEqual(["TOKEN_REVOKED"]);
    expect(calls).toHaveLength(2);

    const other = memoryStore({ access_token: "x", refresh_token: "r" });
    const bad = fakeFetch(() => json(401, { error: { code: "BAD_CREDENTIALS", message: "no" } }));
    await new ApiClient({ fetch: bad.fetcher, store: other }).get("/me").catch(() => undefined);
    expect(bad.calls).toHaveLength(1);
    expect(other.value).not.toBeNull();
  });

  it("keeps the session when the refresh fails because the gateway is down", async () => {
    const store = memoryStore({ access_token: "old", refresh_token: "r1" });
    const { fetcher } = fakeFetch((call) => {
      if (call.url.endsWith("/auth/refresh")) throw new TypeError("Failed to fetch");
      return json(401, { error: { code: "TOKEN_EXPIRED", message: "expired" } });
    });
    const error = await failure(new ApiClient({ fetch: fetcher, store }).get("/me"));
    expect(error.code).toBe(GATEWAY_UNREACHABLE);
    expect(store.value?.refresh_token).toBe("r1");
  });

  it("builds query strings without empty values", () => {
    const api = new ApiClient({ store: memoryStore(), baseUrl: "http://h" });
    expect(api.url("/offers", { status: "active", cursor: undefined, limit: 50, token: "" }))
      .toBe("http://h/api/v1/offers?status=active&limit=50");
  });
});
