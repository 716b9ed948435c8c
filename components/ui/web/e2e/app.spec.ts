// The app as a person uses it, in the system Chromium, against a real
// lode-host (real Redis, the real model, a scripted OpenAI-compatible LLM).
import { expect, test, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { env, expectAccessible, screenshots, signInWithKey, signInWithPassword } from "./helpers";

test.describe.configure({ mode: "serial" });

const fixtures = () => env("LODE_FIXTURES");
const admin = () => ({ email: env("LODE_ADMIN_EMAIL"), password: env("LODE_ADMIN_PASSWORD") });
const viewer = () => ({ email: env("LODE_VIEWER_EMAIL"), password: env("LODE_VIEWER_PASSWORD") });

/** Fail the test on any Content-Security-Policy violation or page error. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  void page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`Refused to run (CSP ${e.violatedDirective}): ${e.sample} at ${e.sourceFile}:${e.lineNumber} on ${location.pathname}`),
    ),
  );
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("dialog", (d) => {
    problems.push(`unexpected dialog: ${d.message()}`);
    void d.dismiss();
  });
  return problems;
}

test("1. sign in as a user created through the API", async ({ page }) => {
  const problems = watch(page);
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Sign in to Lode" })).toBeVisible();
  await expectAccessible(page, "the sign-in page");
  await screenshots(page, "sign-in");
  // A wrong password is explained in words, from the API's error body.
  await page.getByLabel("Email").fill(admin().email);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toContainText("invalid email or password");
  await signInWithPassword(page, admin().email, admin().password);
  await expect(page.getByText(`${admin().email} · admin`)).toBeVisible();
  // The token is in sessionStorage, never localStorage or a cookie.
  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem("lode.session") ?? "",
    local: localStorage.length,
    cookies: document.cookie,
  }));
  expect(stored.session).toContain("\"kind\":\"session\"");
  expect(stored.local).toBe(0);
  expect(stored.cookies).toBe("");
  expect(problems).toEqual([]);
});

test("2. upload three files in one drop, watch them to 100 %, and see a corrupt PDF fail with a retry", async ({ page }) => {
  const problems = watch(page);
  await signInWithPassword(page, admin().email, admin().password);
  // Time to interactive of the documents page: from navigation start to the
  // library answering (its empty state), measured by the browser.
  await page.goto("/app/documents");
  await expect(page.getByText("No documents yet")).toBeVisible();
  const tti = await page.evaluate(() => performance.now());
  console.log(`ui: documents page interactive ${tti.toFixed(0)} ms after navigation start`);

  const files = ["paper.pdf", "notes.md", "page.html"].map((name) => ({
    name,
    type: name.endsWith(".pdf") ? "application/pdf" : name.endsWith(".md") ? "text/markdown" : "text/html",
    base64: readFileSync(join(fixtures(), name)).toString("base64"),
  }));
  const transfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    return dt;
  }, files);
  const drop = page.getByTestId("dropzone");
  await drop.dispatchEvent("dragover", { dataTransfer: transfer });
  await drop.dispatchEvent("drop", { dataTransfer: transfer });

  for (const f of files) {
    const bar = page.getByRole("progressbar", { name: new RegExp(`^${f.name.replace(".", "\\.")}:`) });
    await expect(bar).toBeVisible();
    await expect(bar).toHaveAttribute("aria-valuenow", "100", { timeout: 150_000 });
    await expect(page.locator("li.upload", { hasText: f.name })).toContainText("Done");
  }
  // The library lists them once they are indexed, and finds titles as you type.
  await expect(page.getByRole("link", { name: "Lift and wings" })).toBeVisible();
  await page.getByLabel("Find by title").fill("LIFT");
  const library = page.getByRole("region", { name: /^Table: Title/ });
  await expect(library.getByRole("link")).toHaveText(["Lift and wings"]);
  await page.getByLabel("Find by title").fill("");
  await expect(library.getByRole("link")).toHaveCount(3);

  // A corrupt PDF, picked with the file chooser, fails with its reason in words.
  await page.getByLabel("or choose files").setInputFiles(join(fixtures(), "corrupt.pdf"));
  const row = page.locator("li.upload", { hasText: "corrupt.pdf" });
  await expect(row).toContainText("Failed", { timeout: 150_000 });
  await expect(row.getByRole("alert")).toContainText("Why:");
  await expect(row.getByRole("button", { name: "Retry corrupt.pdf" })).toBeVisible();
  // Retrying runs it again, and it fails again for the same reason.
  await row.getByRole("button", { name: "Retry corrupt.pdf" }).click();
  await expect(row).toContainText("try 2");
  await expect(row).toContainText("Failed", { timeout: 150_000 });
  await expect(row.getByRole("alert")).toContainText("Why:");

  await expectAccessible(page, "the documents page");
  await screenshots(page, "documents");
  expect(problems).toEqual([]);
});

test("3. search and see highlighted hits", async ({ page }) => {
  const problems = watch(page);
  await signInWithPassword(page, admin().email, admin().password);
  await page.getByRole("link", { name: "Search", exact: true }).click();
  await page.getByLabel("Query").fill("wing lift");
  await page.getByLabel("Full text").check();
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const hits = page.getByRole("list", { name: "Results" });
  await expect(hits.locator("mark").first()).toBeVisible();
  await expect(hits).toContainText("Lift and wings");
  await page.getByLabel("Hybrid").check();
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(hits.locator("mark").first()).toBeVisible();
  await expectAccessible(page, "the search page");
  await screenshots(page, "search");
  expect(problems).toEqual([]);
});

test("4. chat: the answer streams in and a citation opens its passage", async ({ page }) => {
  const problems = watch(page);
  await signInWithPassword(page, admin().email, admin().password);
  await page.getByRole("link", { name: "Chat", exact: true }).click();
  await expect(page.getByLabel("Model")).toContainText("local");
  await page.getByLabel("Your question").fill("What keeps an aircraft up?");
  await page.getByRole("button", { name: "Ask" }).click();
  const answer = page.getByTestId("answer").last();
  // Streaming: the first token is on screen while the answer is still coming.
  await page.waitForFunction(() => {
    const last = [...document.querySelectorAll("[data-testid=answer]")].pop();
    return !!last && last.classList.contains("streaming") && !!last.textContent?.includes("deflected air");
  });
  await expect(answer).not.toHaveClass(/streaming/, { timeout: 60_000 });
  await expect(answer).toContainText("pushes the wing up");
  // [9] matched no passage: said honestly.
  await expect(answer).toContainText("[9], which matched no passage");
  await expect(answer).toContainText("in / ");
  await expect(page).toHaveURL(/\/app\/chat\/conv_/);
  await page.getByRole("button", { name: /^Citation 1:/ }).click();
  const passage = page.getByRole("dialog");
  await expect(passage).toBeVisible();
  await expect(passage).toContainText("pushes the wing up");
  await expect(passage.getByRole("link", { name: "Open the document" })).toBeVisible();
  await expectAccessible(page, "the chat page with a passage open");
  await passage.getByRole("button", { name: "Close" }).click();
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
  await expect(page.getByRole("complementary", { name: "Conversations" })).toContainText("What keeps an aircraft up?");
  await screenshots(page, "chat");
  expect(problems).toEqual([]);
});

test("5. an admin creates an API key, sees its secret once, and revokes it", async ({ page }) => {
  const problems = watch(page);
  await signInWithPassword(page, admin().email, admin().password);
  await page.getByRole("link", { name: "API keys" }).click();
  await page.getByLabel("Name").fill("browser test key");
  await page.getByLabel("Role").selectOption("editor");
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.getByTestId("new-secret").textContent())?.trim() ?? "";
  expect(secret).toMatch(/^lode_/);
  await expect(page.getByRole("button", { name: "Copy secret" })).toBeVisible();
  // The secret works through the public API...
  const before = await page.request.get("/api/documents?limit=1", { headers: { Authorization: `Bearer ${secret}` } });
  expect(before.status()).toBe(200);
  await expectAccessible(page, "the keys page");
  await screenshots(page, "admin-keys");
  await page.getByRole("button", { name: "Done" }).click();
  await page.getByRole("button", { name: "Revoke browser test key" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByRole("cell", { name: "browser test key" })).toHaveCount(0);
  // ...and stops working once revoked.
  const after = await page.request.get("/api/documents?limit=1", { headers: { Authorization: `Bearer ${secret}` } });
  expect(after.status()).toBe(401);
  expect(problems).toEqual([]);
});

test("6. a viewer sees no admin pages, and the API refuses them anyway", async ({ page }) => {
  const problems = watch(page);
  await signInWithPassword(page, viewer().email, viewer().password);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Documents" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "API keys" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Users" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Settings" })).toHaveCount(0);
  // A viewer cannot add documents: no upload area.
  await expect(page.getByTestId("dropzone")).toHaveCount(0);
  await page.goto("/app/admin/keys");
  await expect(page.getByRole("alert")).toContainText("does not include this page");
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("lode.session")!).token as string);
  for (const path of ["/api/keys", "/api/users", "/api/admin/audit"]) {
    const r = await page.request.get(path, { headers: { Authorization: `Bearer ${token}` } });
    expect(r.status(), path).toBe(403);
  }
  // Signing out ends the session on the server too.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in to Lode" })).toBeVisible();
  const gone = await page.request.get("/api/documents", { headers: { Authorization: `Bearer ${token}` } });
  expect(gone.status()).toBe(401);
  expect(problems).toEqual([]);
});

test("7. hostile document text never runs", async ({ page }) => {
  const problems = watch(page);
  const key = env("LODE_BOOTSTRAP_KEY");
  const hostile =
    "# Hostile\n\nSearchable quokka text <img src=x onerror=\"window.__pwned=1\"> and " +
    "<script>window.__pwned=2</script> <a href=\"javascript:window.__pwned=3\">link</a> " +
    "<iframe src=\"/app\"></iframe><svg onload=\"window.__pwned=4\"></svg>\n";
  const made = await page.request.post("/api/documents", {
    headers: { Authorization: `Bearer ${key}` },
    data: { title: "<img src=x onerror=window.__pwned=5>", content: hostile, content_type: "text/markdown" },
  });
  expect(made.status()).toBe(201);
  const id = (await made.json()).id as string;
  // The operator's bootstrap key, pasted once.
  await signInWithKey(page, key);
  await page.goto(`/app/documents/${id}`);
  await expect(page.locator(".markdown")).toContainText("Searchable quokka text");
  await expect(page.locator(".markdown img, .markdown script, .markdown iframe, .markdown [onerror], .markdown [onload]")).toHaveCount(0);
  await expect(page.locator(".markdown a[href^='javascript']")).toHaveCount(0);
  await page.goto("/app/search");
  await page.getByLabel("Query").fill("quokka");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const hits = page.getByRole("list", { name: "Results" });
  await expect(hits.locator("mark").first()).toBeVisible();
  await expect(hits.locator("img, script, iframe, svg")).toHaveCount(0);
  // The title is text, not markup.
  await expect(hits.getByRole("link", { name: "<img src=x onerror=window.__pwned=5>" })).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  // Deleting asks first, then the document is gone.
  await page.goto(`/app/documents/${id}`);
  await page.getByRole("button", { name: "Delete document" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(/\/app\/documents$/);
  await expect(page.getByRole("link", { name: "<img src=x onerror=window.__pwned=5>" })).toHaveCount(0);
  expect(problems).toEqual([]);
});

test("8. every other page: accessible, and screenshots at desktop and phone width", async ({ page }) => {
  const problems = watch(page);
  await signInWithPassword(page, admin().email, admin().password);
  await page.goto("/app/documents");
  await page.getByRole("link", { name: "Lift and wings" }).click();
  await expect(page.getByRole("heading", { name: "Lift and wings" })).toBeVisible();
  await expect(page.locator(".markdown")).toContainText("lift");
  await expectAccessible(page, "a document");
  await screenshots(page, "document");
  await page.getByRole("link", { name: "Chunks" }).click();
  await expect(page.locator(".chunks li").first()).toContainText("p. 1");
  await expectAccessible(page, "a document's chunks");
  await page.getByRole("link", { name: "Versions" }).click();
  await expect(page.getByText("Only one version so far")).toBeVisible();
  await page.getByRole("link", { name: "Tools" }).click();
  await expect(page.getByLabel("Tool", { exact: true })).toBeVisible();
  await expectAccessible(page, "a document's tools");

  for (const [link, heading, name] of [
    ["Jobs", "Jobs", "jobs"],
    ["Users", "Users", "admin-users"],
    ["Settings", "Settings", "admin-settings"],
    ["Audit log", "Audit log", "admin-audit"],
    ["Usage", "Usage", "admin-usage"],
  ] as const) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link, exact: true }).click();
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
    await expect(page.getByRole("status").filter({ hasText: "Loading" })).toHaveCount(0);
    await expectAccessible(page, `the ${heading} page`);
    await screenshots(page, name);
  }
  // The jobs page shows the corrupt PDF's failure and offers its retry.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Jobs", exact: true }).click();
  await expect(page.locator("tr.failed").first()).toContainText("corrupt.pdf");
  await expect(page.getByRole("button", { name: "Retry corrupt.pdf" }).first()).toBeVisible();
  // The usage chart drew the chat's cost.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Usage", exact: true }).click();
  await expect(page.getByRole("img", { name: /Cost and tokens per day/ })).toBeVisible();
  await expect(page.locator(".chart canvas")).toHaveCount(1);
  expect(problems).toEqual([]);
});

test("9. a rate-limited page waits out Retry-After with a notice, then loads", async ({ page }) => {
  const problems = watch(page);
  const key = env("LODE_BOOTSTRAP_KEY");
  const limit = (api_per_minute: number | null) =>
    page.request.put("/api/settings", {
      headers: { Authorization: `Bearer ${key}` },
      data: api_per_minute ? { rate_limits: { api_per_minute } } : {},
    });
  await signInWithPassword(page, admin().email, admin().password);
  // Six calls a minute for each of the tenant's users: a token every 10 s.
  expect((await limit(6)).status()).toBe(200);
  try {
    const notice = page.getByRole("status").filter({ hasText: /Retrying in \d+ s/ });
    for (let i = 0; i < 8 && !(await notice.isVisible()); i++) {
      await page.goto("/app/jobs");
    }
    await expect(notice).toBeVisible();
    await expect(notice).toContainText("rate limit");
    // Once the wait is over, the page loads without the user doing anything.
    await expect(page.getByRole("heading", { name: "Recent jobs" })).toBeVisible();
    await expect(page.getByRole("status").filter({ hasText: /Loading/ })).toHaveCount(0, { timeout: 120_000 });
    await expect(notice).toHaveCount(0);
  } finally {
    expect((await limit(null)).status()).toBe(200);
  }
  expect(problems).toEqual([]);
});
