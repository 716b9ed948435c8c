import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: tests/ui.rs sets it`);
  return v;
}

export async function signInWithPassword(page: Page, email: string, password: string) {
  await page.goto("/");
  await page.getByRole("button", { name: "Email and password" }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}

export async function signInWithKey(page: Page, key: string) {
  await page.goto("/");
  await page.getByRole("button", { name: "API key" }).click();
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}

/** No `serious` or `critical` axe-core violation on the page as it is now. */
export async function expectAccessible(page: Page, what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join("; ")}`),
    `accessibility of ${what}`,
  ).toEqual([]);
}

/** Screenshots at desktop and phone width, for review (target/ui-screenshots). */
export async function screenshots(page: Page, name: string) {
  const dir = env("LODE_SCREENSHOTS");
  mkdirSync(dir, { recursive: true });
  const desktop = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.screenshot({ path: join(dir, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100); // layout settles
  await expectNoHorizontalScroll(page, name);
  await page.screenshot({ path: join(dir, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(desktop);
}

/** At phone width the page itself never scrolls sideways (tables scroll inside their box). */
async function expectNoHorizontalScroll(page: Page, name: string) {
  const { overflow, culprits } = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const culprits = [...document.querySelectorAll("body *")]
      // What sticks out, except inside a box that scrolls on its own.
      .filter((el) => el.getBoundingClientRect().right > width + 1 && !el.parentElement?.closest(".table-wrap"))
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} (${Math.round(el.getBoundingClientRect().right)} px)`);
    return { overflow: document.documentElement.scrollWidth - width, culprits };
  });
  expect(overflow, `${name} at 390 px wide scrolls sideways by ${overflow} px: ${culprits.join(", ")}`).toBeLessThanOrEqual(0);
}
