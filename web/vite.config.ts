import preact from "@preact/preset-vite";
import { defineConfig } from "vitest/config";

// The gateway serves dist/ (VPP_WEB_DIR) and the API on the same origin; `npm run dev` proxies /api to a local
// gateway (VPP_GATEWAY_URL, default http://127.0.0.1:8080).
export default defineConfig({
  plugins: [preact()],
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 200 },
  server: {
    host: "127.0.0.1",
    proxy: { "/api": { target: process.env.VPP_GATEWAY_URL ?? "http://127.0.0.1:8080", changeOrigin: false } },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
