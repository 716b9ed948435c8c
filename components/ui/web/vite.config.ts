import { defineConfig } from "vite";

// The app is served by the ui component from the same origin as the API:
// pages at / and /app/..., content-hashed files at /assets/... (the only
// three routes spin.toml gives the component).
export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: {
    alias: { react: "preact/compat", "react-dom": "preact/compat" },
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    sourcemap: false,
    // No inline polyfill script: the page's CSP allows no inline script.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` against a running `make up`.
    proxy: { "/api": "http://127.0.0.1:3000", "/v1": "http://127.0.0.1:3000" },
  },
});
