// Drives Debian's chromium (headless, through playwright-core) against a running
// `hitstream run --http`, for crates/cli/tests/http.rs. It only observes and reports;
// the Rust test asserts. Prints one JSON object on stdout.
//
// Environment: DASHBOARD_URL, APPEND_FILE (the tailed log), APPEND_TEXT (a file whose text is
// appended to it), EXPECT_LINES, EXPECT_REJECTED and EXPECT_LATE (the "lines in", "rejected"
// and "late" counts after the append: what to wait for, not judged here), RANGE_FROM and
// RANGE_TO (datetime-local values, UTC: the process runs with TZ=UTC), SCREENSHOT (a PNG
// path), HITSTREAM_NODE_MODULES (where playwright-core is installed), USER_DATA_DIR.
import { createRequire } from "node:module";
import fs from "node:fs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const require = createRequire(env("HITSTREAM_NODE_MODULES") + "/");
const { chromium } = require("playwright-core");

const out = { console_errors: [], page_errors: [], requests_failed: [], outside: [] };
const context = await chromium.launchPersistentContext(env("USER_DATA_DIR"), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic",
  ],
  viewport: { width: 1280, height: 900 },
});
try {
  const page = context.pages()[0] || (await context.newPage());
  const base = new URL(env("DASHBOARD_URL"));
  page.on("console", (m) => { if (m.type() === "error") out.console_errors.push(m.text()); });
  page.on("pageerror", (e) => out.page_errors.push(String(e)));
  page.on("requestfailed", (r) => out.requests_failed.push(r.url()));
  page.on("response", (r) => { if (r.status() >= 400) out.requests_failed.push(`${r.status()} ${r.url()}`); });
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.host !== base.host && u.protocol !== "data:") out.outside.push(r.url());
  });

  const metric = (name) => page.evaluate(
    (n) => { const d = document.querySelector(`[data-metric="${n}"]`); return d ? d.textContent : null; },
    name);
  const t0 = Date.now();
  await page.goto(env("DASHBOARD_URL"));
  // A filled dashboard: the health numbers and the first tables are drawn.
  await page.waitForFunction(() => {
    const d = document.querySelector('[data-metric="lines in"]');
    const rows = document.querySelectorAll("#pages tr td.n");
    return d && d.textContent !== "–" && Number(d.textContent) > 0 && rows.length > 0;
  }, null, { timeout: 30000 });
  out.filled_ms = Date.now() - t0;
  out.paint = await page.evaluate(() =>
    performance.getEntriesByType("paint").map((e) => [e.name, Math.round(e.startTime)]));
  out.lines_before = await metric("lines in");
  // The live tables of the current window, cell by cell.
  const cells = (sel) => page.evaluate((s) => [...document.querySelectorAll(`${s} tr`)]
    .map((tr) => [...tr.cells].map((td) => td.textContent)), sel);
  out.live_notfound = await cells("#notfound");
  out.live_notfound_note = await page.textContent("#notfound-note");
  out.live_errors = await cells("#errors");

  // Live: lines appended to the tailed file show up without a reload.
  fs.appendFileSync(env("APPEND_FILE"), fs.readFileSync(env("APPEND_TEXT")));
  const expect = env("EXPECT_LINES");
  try {
    await page.waitForFunction(
      (n) => document.querySelector('[data-metric="lines in"]').textContent === n,
      expect, { timeout: 30000 });
  } catch (e) { out.live_error = String(e); }
  out.lines_after = await metric("lines in");
  // The latest window's pages, once the appended lines' windows have closed.
  try {
    await page.waitForFunction(() => document.querySelector("#pages").textContent.includes("/later"),
      null, { timeout: 30000 });
  } catch (e) { out.live_pages_error = String(e); }
  out.live_pages = await page.textContent("#pages");
  // The other health counters once the status that counts the appended lines has come:
  // what the page shows, and what /api/status says then.
  try {
    await page.waitForFunction(([r, l]) => {
      const m = (n) => document.querySelector(`[data-metric="${n}"]`).textContent;
      return m("rejected") === r && m("late") === l;
    }, [env("EXPECT_REJECTED"), env("EXPECT_LATE")], { timeout: 30000 });
  } catch (e) { out.health_error = String(e); }
  out.health_page = { rejected: await metric("rejected"), late: await metric("late") };
  const st = await (await fetch(new URL("api/status", base))).json();
  out.health_api = { rejected: st.counters.rejected, late: st.counters.late };
  out.alerts_text = await page.textContent("#alerts");
  out.tables_text = await page.evaluate(() =>
    ["#pages", "#errors", "#clients", "#alerts"].map((s) => document.querySelector(s).textContent).join("\n"));

  // The range picker: the first hour from the lake.
  await page.fill("#from", env("RANGE_FROM"));
  await page.fill("#to", env("RANGE_TO"));
  await page.click("#apply");
  try {
    await page.waitForFunction(() => document.querySelector("#message").textContent.includes("range from the lake"),
      null, { timeout: 30000 });
  } catch (e) { out.range_error = String(e); }
  out.message = await page.textContent("#message");
  out.range_pages = await page.textContent("#pages");
  out.range_errors = await page.textContent("#errors");
  out.range_unique = await page.textContent("#unique-note");
  out.range_browsers = await page.textContent("#browsers");
  out.range_sites = await page.textContent("#sites");
  out.heat_cells = await page.evaluate(() =>
    [...document.querySelectorAll("#heatmap rect")].map((r) => Number(r.dataset.count)));

  // Nothing from a log line became markup or ran.
  out.xss = await page.evaluate(() => window.__xss ?? null);
  out.images = await page.evaluate(() => document.querySelectorAll("img").length);
  out.scripts = await page.evaluate(() => [...document.querySelectorAll("script")].map((s) => s.src || "inline"));
  await page.screenshot({ path: env("SCREENSHOT"), fullPage: true });
  // A phone-sized viewport: the panels stack, nothing overflows sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  out.phone_overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
