import { defineConfig } from "@playwright/test";

// Run by tests/ui.rs, which starts lode-host (real Redis, a scripted
// OpenAI-compatible server), creates the users, writes the fixtures and
// passes everything in LODE_* variables. The browser is the system
// Chromium (Debian's `chromium`); Playwright never downloads one.
const out = process.env.LODE_UI_OUT ?? "../../../target/ui-test-results";

export default defineConfig({
  testDir: "e2e",
  outputDir: out,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.LODE_URL,
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      // Root in CI has no user namespace for Chromium's sandbox.
      args: ["--no-sandbox"],
    },
    trace: "retain-on-failure",
  },
});
