// Drives Debian's chromium (headless, through playwright-core) against a running
// `hitstream run --http` or `hitstream serve`, for crates/cli/tests/http.rs. It only observes
// and reports; the Rust test asserts. Prints one JSON object on stdout (its last line).
//
// MODE says what to look at:
// - `live` (the default): `run --http` over a tailed file. Environment: APPEND_FILE (the
//   tailed log), APPEND_TEXT (a file whose text is appended to it), EXPECT_LINES,
//   EXPECT_REJECTED and EXPECT_LATE (the "lines in", "rejected" and "late" counts after the
//   append: what to wait for, not judged here), RANGE_FROM and RANGE_TO (datetime-local
//   values, UTC: the process runs with TZ=UTC);
// - `ended`: `run --http` over stdin. Once the page is filled it prints a line `READY`; the
//   test then closes the pipeline's input, and the page is read once it says "ended";
// - `serve`: `hitstream serve` over a lake, no pipeline.
// Always: DASHBOARD_URL, SCREENSHOT (a PNG path), HITSTREAM_NODE_MODULES (where
// playwright-core is installed), USER_DATA_DIR.
import { createRequire } from "node:module";
import fs from "node:fs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const require = createRequire(env("HITSTREAM_NODE_MODULES") + "/");
const { chromium } = require("playwright-core");

const MODE = process.env.MODE || "live";
const out = { mode: MODE, console_errors: [], page_errors: [], requests_failed: [], outside: [] };
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
  // What a user reads: the whole text, the charts' axes, the alerts' empty state, the
  // health panel.
  const look = () => page.evaluate(() => {
    const chart = (id) => {
      const svg = document.querySelector(`#${id} svg`);
      if (!svg) return null;
      const texts = (sel) => [...svg.querySelectorAll(sel)].map((t) => t.textContent);
      return {
        x_ticks: texts(".axis.x text.tick"), y_ticks: texts(".axis.y text.tick"),
        axis_label: texts(".axis-label").join(" "), marks: svg.querySelectorAll("polyline, rect:not(.key)").length,
      };
    };
    return {
      body: document.body.innerText,
      rate: chart("chart-rate"), status: chart("chart-status"),
      alerts_empty: document.querySelector("#alerts li.empty")?.textContent ?? null,
      alerts_listed: document.querySelectorAll("#alerts li:not(.empty)").length,
      phase: document.querySelector("#phase").textContent,
      health_note: document.querySelector("#health-note")?.textContent ?? null,
      health: Object.fromEntries([...document.querySelectorAll("#health [data-metric]")]
        .map((d) => [d.dataset.metric, d.textContent])),
      name_cells: document.querySelectorAll("td.k").length,
      titles_differ: [...document.querySelectorAll("td.k")].filter((td) => td.title !== td.textContent).length,
    };
  });
  // The first name cut short by its column (an ellipsis): is it whole when hovered?
  const hoverCut = async () => {
    const i = await page.evaluate(() => [...document.querySelectorAll("td.k")]
      .findIndex((td) => td.scrollWidth > td.clientWidth + 1));
    if (i < 0) return { cut: false };
    const cell = page.locator("td.k").nth(i);
    await cell.hover();
    const r = await cell.evaluate((td) => ({
      text: td.textContent, title: td.title, still_cut: td.scrollWidth > td.clientWidth + 1,
    }));
    await page.mouse.move(0, 0);
    return { cut: true, ...r };
  };
  const t0 = Date.now();
  await page.goto(env("DASHBOARD_URL"));
  if (MODE === "serve") {
    // No pipeline: the lake's facts, a range read from it.
    try {
      await page.waitForFunction(() => {
        const rows = document.querySelector('[data-metric="rows in the lake"]');
        return rows && rows.textContent !== "–"
          && document.querySelector("#message").textContent.includes("range from the lake");
      }, null, { timeout: 30000 });
    } catch (e) { out.wait_error = String(e); }
    out.look = await look();
    out.hover = await hoverCut();
    await page.screenshot({ path: env("SCREENSHOT"), fullPage: true });
  } else if (MODE === "ended") {
    await page.waitForFunction(() => {
      const d = document.querySelector('[data-metric="lines in"]');
      return d && Number(d.textContent) > 0 && document.querySelectorAll("#chart-rate polyline").length > 0;
    }, null, { timeout: 30000 });
    out.look_running = await look();
    console.log("READY");
    try {
      await page.waitForFunction(() => document.querySelector("#phase").textContent === "ended",
        null, { timeout: 30000 });
    } catch (e) { out.wait_error = String(e); }
    out.look = await look();
    await page.screenshot({ path: env("SCREENSHOT"), fullPage: true });
  } else {
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
    out.look_live = await look();
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
    out.look_range = await look();
    out.hover = await hoverCut();
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
  }
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
